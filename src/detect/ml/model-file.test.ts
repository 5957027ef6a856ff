import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { subset } from './dataset.ts';
import { type Model, predict, predictClasses } from './model.ts';
import { decodeModel, encodeModel, loadModelFile, saveModel } from './model-file.ts';
import { structured } from './testing/synthetic.ts';
import { FOREST_DEFAULTS, trainForest } from './trees/forest.ts';
import { GBDT_DEFAULTS, trainGbdt } from './trees/gbdt.ts';

const dir = mkdtempSync(join(tmpdir(), 'aisoc-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const data = structured(600, 3, 0, 2);
const meta = (algorithm: Model['meta']['algorithm']): Model['meta'] => ({
  algorithm,
  feature_set: { name: 'synthetic', version: 1, columns: [...data.featureNames] },
  labels: [...data.labels],
  negative_label: 'a',
  training: { data_fingerprint: 'sha256:test' },
  hyperparameters: { n_trees: 5 },
  metrics: { test: { macro_f1: 0.5 } },
});

describe('model file', async () => {
  const forest: Model = {
    meta: meta('rf'),
    ensemble: await trainForest(data, { ...FOREST_DEFAULTS, nTrees: 5 }, { threads: 0 }),
  };
  const boosted: Model = {
    meta: meta('gbdt'),
    ensemble: (await trainGbdt(data, { ...GBDT_DEFAULTS, nRounds: 5 }, { threads: 0 })).model,
  };

  it('round-trips forests and boosted models with identical predictions and metadata', () => {
    for (const m of [forest, boosted]) {
      const path = join(dir, `${m.meta.algorithm}.aisoc-model`);
      saveModel(path, m);
      const back = loadModelFile(path);
      expect(back.meta).toEqual(m.meta);
      expect(predictClasses(back, data.x, data.rows)).toEqual(predictClasses(m, data.x, data.rows));
      const row = Array.from(data.x.subarray(0, data.cols));
      expect(predict(back, row).probabilities).toEqual(predict(m, row).probabilities);
    }
  });

  it('refuses damaged, truncated, foreign and inconsistent files with AISOC_ERR_MODEL naming why', () => {
    const good = encodeModel(forest);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 3]! ^= 0xff;
    expect(() => decodeModel(flipped, 'f')).toThrow(/checksum does not match/);
    expect(() => decodeModel(good.subarray(0, 40), 't')).toThrow(/truncated|header is invalid/);
    expect(() => decodeModel(Buffer.from('{"learner": {}}'), 'x.json')).toThrow(/XGBoost/);
    expect(() => decodeModel(Buffer.from('garbage-garbage-garbage'), 'g')).toThrow(/AISOCMDL signature/);
    const v2 = Buffer.from(good);
    v2.writeUInt32LE(2, 8);
    expect(() => decodeModel(v2, 'v')).toThrow(/format version 2/);
    try {
      decodeModel(flipped, 'f');
    } catch (err) {
      expect((err as { code: string }).code).toBe('AISOC_ERR_MODEL');
    }
  });

  it('refuses a well-checksummed file whose trees would loop or read outside the vector', () => {
    const looping: Model = {
      ...forest,
      ensemble: { ...forest.ensemble, nodes: forest.ensemble.nodes.slice() },
    };
    looping.ensemble = { ...looping.ensemble, thresholds: new Float32Array(looping.ensemble.nodes.buffer) };
    // Point the root's children back at the root: a walk would never end.
    looping.ensemble.nodes[2] = 0;
    expect(() => decodeModel(encodeModel(looping), 'loop')).toThrow(/children outside its tree/);
    const wide: Model = { ...forest, ensemble: { ...forest.ensemble, nodes: forest.ensemble.nodes.slice() } };
    wide.ensemble = { ...wide.ensemble, thresholds: new Float32Array(wide.ensemble.nodes.buffer) };
    wide.ensemble.nodes[0] = 77;
    expect(() => decodeModel(encodeModel(wide), 'wide')).toThrow(/splits on feature 77/);
  });

  it('refuses feature vectors of the wrong length or with non-finite values, naming the column', () => {
    expect(() => predict(forest, [1, 2])).toThrow(/has 2 values; the model reads 5/);
    expect(() => predict(forest, [0.1, Number.NaN, 0, 0, 0])).toThrow(/features\[1\] \(x1\) is NaN/);
    expect(() => predict(forest, [0.1, 0.2, Number.POSITIVE_INFINITY, 0, 0])).toThrow(/Infinity/);
    expect(() => predict(forest, [0.1, '2', 0, 0, 0])).toThrow(/"2"/);
  });

  it('writes the same bytes for the same model (no timestamps inside)', () => {
    const p1 = join(dir, 'a.aisoc-model');
    const p2 = join(dir, 'b.aisoc-model');
    saveModel(p1, boosted);
    writeFileSync(p2, encodeModel(decodeModel(readFileSync(p1), p1)));
    expect(readFileSync(p2).equals(readFileSync(p1))).toBe(true);
    expect(subset(data, [0]).rows).toBe(1);
  });
});
