/**
 * On the real public data (../shared/data, read through sharedData(): skipped
 * with a message outside CI, required in CI): the tree learners on CICIDS2017
 * split by time within each class, and the committed default models
 * reproducing the held-out metrics recorded in their files (by the split each
 * file records). The Invictus records are labelled by the evaluation script
 * that knows that data set's marker, as models/build.sh does.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INVICTUS_LABELLERS } from '../../../scripts/eval/invictus.ts';
import { sharedData } from '../../../test/helpers/data.ts';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { subset } from './dataset.ts';
import { featureSet } from './features/index.ts';
import { labelCloudTrailFiles } from './label.ts';
import { loadCsv, loadData } from './load.ts';
import { type EvalReport, evaluate } from './metrics.ts';
import { predictClasses } from './model.ts';
import { loadModelFile } from './model-file.ts';
import { DEFAULT_MODELS_DIR } from './service.ts';
import { recordedSplit, splitRows } from './split.ts';
import { majorityBaselineF1 } from './testing/synthetic.ts';
import { FOREST_DEFAULTS, trainForest } from './trees/forest.ts';
import { GBDT_DEFAULTS, trainGbdt } from './trees/gbdt.ts';

const tmp = tempDir('aisoc-ml-shared-');
afterAll(tmp.cleanup);

const cicids = sharedData('netflow', 'cicids2017-improved-dev.csv');
const cloudtrail = sharedData('cloudtrail');

/** Score a committed model on the held-out split its file records, from the file it was trained on. */
async function reproduce(name: string, dataPath: string) {
  const model = loadModelFile(join(DEFAULT_MODELS_DIR, `${name}.aisoc-model`));
  const fs = featureSet(model.meta.feature_set!.name);
  const { dataset, report } = await loadData(dataPath, fs, { classes: model.meta.labels });
  const training = model.meta.training as { data_fingerprint: string };
  expect(`sha256:${report.fingerprint}`).toBe(training.data_fingerprint);
  // Every row becomes a feature vector: nothing in the shared data is skipped.
  expect(report.rows_used).toBe(report.rows_read);
  const spec = recordedSplit(model.meta.training)!;
  expect(spec.method).toBe('time-within-class');
  const test = subset(dataset, splitRows(dataset, spec).test);
  const r = evaluate(test.y, predictClasses(model, test.x, test.rows), test.labels, fs.negativeLabel);
  return { r, recorded: (model.meta.metrics as { test: EvalReport }).test };
}

describe.skipIf(!cicids)('CICIDS2017 (split by time within each class)', () => {
  it('a random forest and GBDT beat the majority baseline by far; the committed flow models reproduce their metrics', async () => {
    const { dataset } = await loadCsv(cicids!, featureSet('cicflowmeter'));
    const split = splitRows(dataset, { method: 'time-within-class', test_fraction: 0.3, seed: 1 });
    const train = subset(dataset, split.train);
    const test = subset(dataset, split.test);
    const meta = (e: Parameters<typeof predictClasses>[0]['ensemble']) => ({
      meta: { labels: [...dataset.labels] } as Parameters<typeof predictClasses>[0]['meta'],
      ensemble: e,
    });
    const base = majorityBaselineF1(train, test);
    const rf = await trainForest(train, { ...FOREST_DEFAULTS, nTrees: 20 }, { threads: 2 });
    const rfF1 = evaluate(test.y, predictClasses(meta(rf), test.x, test.rows), test.labels).macro_f1;
    const gb = await trainGbdt(
      train,
      { ...GBDT_DEFAULTS, nRounds: 8, maxBins: 63, earlyStoppingRounds: 0 },
      { threads: 2 },
    );
    const gbF1 = evaluate(test.y, predictClasses(meta(gb.model), test.x, test.rows), test.labels).macro_f1;
    expect(base).toBeLessThan(0.02);
    expect(rfF1).toBeGreaterThan(0.85);
    expect(gbF1).toBeGreaterThan(0.8);
    for (const name of ['cicflowmeter-gbdt', 'flow-portable-gbdt']) {
      const { r, recorded } = await reproduce(name, cicids!);
      expect(r.macro_f1).toBe(recorded.macro_f1);
      expect(r.confusion).toEqual(recorded.confusion);
    }
  });
});

describe.skipIf(!cloudtrail)('CloudTrail (Invictus and Stratus Red Team)', () => {
  it('the committed CloudTrail models score every event and reproduce their recorded held-out metrics', async () => {
    const invictus = await labelCloudTrailFiles([join(cloudtrail!, 'invictus/records-dev.json')], {
      declaredAttack: false,
      labellers: INVICTUS_LABELLERS,
    });
    const stratus = await labelCloudTrailFiles([join(cloudtrail!, 'stratus-detonation')], {
      declaredAttack: true,
    });
    const path = join(tmp.dir, 'cloudtrail.jsonl');
    writeFileSync(path, `${invictus.lines.join('\n')}\n${stratus.lines.join('\n')}\n`);
    expect(stratus.counts['attack by heuristic:declared-attack-file']).toBe(310);
    expect(invictus.counts['attack by dataset:invictus-attack-run']).toBe(872);
    for (const name of ['cloudtrail18-rf', 'cloudtrail-behavioral-rf']) {
      const { r, recorded } = await reproduce(name, path);
      expect(r.macro_f1).toBe(recorded.macro_f1);
      expect(r.rows).toBe(recorded.rows);
    }
  });
});
