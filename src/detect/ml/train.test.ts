import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { cloudtrail18 } from './features/cloudtrail18.ts';
import { labelledLines } from './testing/cloudtrail.ts';
import { resolveParams, trainFromFile } from './train.ts';

const tmp = tempDir('aisoc-train-');
afterAll(tmp.cleanup);

describe('training requests', () => {
  it('refuses unknown, mistyped and out-of-range hyper-parameters, naming them as the CLI spells them', () => {
    expect(() => resolveParams('rf', { nRounds: 5 } as never)).toThrow(
      /n_rounds is not a rf hyper-parameter; known: n_trees/,
    );
    expect(() => resolveParams('rf', { nTrees: 'many' } as never)).toThrow(/n_trees must be a number/);
    expect(() => resolveParams('gbdt', { learningRate: 0 })).toThrow(/learning_rate must be between/);
    expect(() => resolveParams('gbdt', { maxBins: 300 })).toThrow(/max_bins must be between 2 and 256/);
    expect(resolveParams('rf', { nTrees: 7 }, 3)).toMatchObject({ nTrees: 7, seed: 3, maxFeatures: 'sqrt' });
  });

  it('refuses data holding a single class, and a test fraction outside [0, 1)', async () => {
    const one = join(tmp.dir, 'one.jsonl');
    writeFileSync(
      one,
      labelledLines(40, 1)
        .trim()
        .split('\n')
        .map((l) => JSON.stringify({ ...JSON.parse(l), label: 'benign' }))
        .join('\n'),
    );
    await expect(
      trainFromFile({ featureSet: cloudtrail18, dataPath: one, algorithm: 'rf', threads: 0 }),
    ).rejects.toThrow(/single class/);
    await expect(
      trainFromFile({
        featureSet: cloudtrail18,
        dataPath: one,
        algorithm: 'rf',
        threads: 0,
        testFraction: 1,
      }),
    ).rejects.toThrow(/test fraction/);
  });
});
