/**
 * EVALUATION SCRIPT, specific to the Invictus and Stratus Red Team data sets
 * (see invictus.ts): what the CloudTrail feature sets can learn.
 *
 *   node --import tsx scripts/eval/cloudtrail-models.ts [--shared DIR]
 *
 * For `cloudtrail18` and `cloudtrail-behavioral`, with our random forest and
 * GBDT at their defaults, it prints macro-F1 within the Invictus account
 * (labels: the data set's attack-run marker) split by time within each class
 * and by identity-minute groups, and the attack recall on the Stratus
 * detonations (another account, all attack) of a model trained on every
 * Invictus record.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { subset } from '../../src/detect/ml/dataset.ts';
import { featureSet } from '../../src/detect/ml/features/index.ts';
import { labelCloudTrailFiles } from '../../src/detect/ml/label.ts';
import { loadLabelledEvents } from '../../src/detect/ml/load.ts';
import { evaluate } from '../../src/detect/ml/metrics.ts';
import type { Model } from '../../src/detect/ml/model.ts';
import { predictClasses } from '../../src/detect/ml/model.ts';
import { type SplitMethod, splitRows } from '../../src/detect/ml/split.ts';
import { resolveParams, trainEnsemble } from '../../src/detect/ml/train.ts';
import type { TreeEnsemble } from '../../src/detect/ml/trees/ensemble.ts';
import { INVICTUS_LABELLERS } from './invictus.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--shared');
const shared = resolve(
  (at >= 0 ? args[at + 1] : undefined) ??
    process.env.AISOC_SHARED_DATA ??
    join(import.meta.dirname, '../../../shared/data'),
);
const dir = mkdtempSync(join(tmpdir(), 'aisoc-eval-ct-'));
try {
  const inv = await labelCloudTrailFiles([join(shared, 'cloudtrail/invictus/records-dev.json')], {
    declaredAttack: false,
    labellers: INVICTUS_LABELLERS,
  });
  const str = await labelCloudTrailFiles([join(shared, 'cloudtrail/stratus-detonation')], {
    declaredAttack: true,
  });
  writeFileSync(join(dir, 'inv.jsonl'), `${inv.lines.join('\n')}\n`);
  writeFileSync(join(dir, 'str.jsonl'), `${str.lines.join('\n')}\n`);
  const wrap = (ensemble: TreeEnsemble, labels: readonly string[]) =>
    ({ meta: { labels: [...labels] }, ensemble }) as unknown as Model;
  console.log(
    '| feature set | model | within Invictus, split by time: macro-F1 | within Invictus, grouped by identity-minute: macro-F1 | Stratus detonations: attack recall |\n|---|---|---:|---:|---:|',
  );
  for (const name of ['cloudtrail18', 'cloudtrail-behavioral']) {
    const fs = featureSet(name);
    const invictus = (await loadLabelledEvents(join(dir, 'inv.jsonl'), fs)).dataset;
    const stratus = (await loadLabelledEvents(join(dir, 'str.jsonl'), fs, { classes: invictus.labels }))
      .dataset;
    for (const alg of ['rf', 'gbdt'] as const) {
      const params = resolveParams(alg, {}, 1);
      const within = async (method: SplitMethod) => {
        const s = splitRows(invictus, {
          method,
          test_fraction: method === 'time-within-class' ? 0.3 : 0.2,
          seed: 1,
        });
        const train = subset(invictus, s.train);
        const test = subset(invictus, s.test);
        const { ensemble } = await trainEnsemble(train, alg, params, 2, undefined, method);
        return evaluate(
          test.y,
          predictClasses(wrap(ensemble, invictus.labels), test.x, test.rows),
          test.labels,
        ).macro_f1;
      };
      const { ensemble } = await trainEnsemble(invictus, alg, params, 2, undefined, 'time-within-class');
      const cross = evaluate(
        stratus.y,
        predictClasses(wrap(ensemble, invictus.labels), stratus.x, stratus.rows),
        stratus.labels,
      );
      console.log(
        `| ${name} | ${alg} | ${(await within('time-within-class')).toFixed(4)} | ${(await within('grouped-hash')).toFixed(4)} | ${cross.per_class.attack!.recall.toFixed(3)} (${stratus.rows} calls) |`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
