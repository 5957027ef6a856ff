import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import { MlConfig } from './config.ts';
import { cloudtrail18 } from './features/cloudtrail18.ts';
import { saveModel } from './model-file.ts';
import { MlService } from './service.ts';
import { labelledLines } from './testing/cloudtrail.ts';
import { trainFromFile } from './train.ts';

const tmp = tempDir('aisoc-mlsvc-');
afterAll(tmp.cleanup);

async function model(name: string, text: string) {
  const data = join(tmp.dir, `${name}.jsonl`);
  writeFileSync(data, text);
  const { model: m } = await trainFromFile({
    featureSet: cloudtrail18,
    dataPath: data,
    algorithm: 'rf',
    threads: 0,
    params: { nTrees: 5 },
  });
  return m;
}

describe('MlService', () => {
  it('lets only default models with a good held-out macro-F1 detect; weak ones serve /predict', async () => {
    const dir = join(tmp.dir, 'models');
    mkdirSync(dir);
    saveModel(join(dir, 'strong.aisoc-model'), await model('strong', labelledLines(400, 1)));
    // Labels that ignore the records: nothing to learn, so the held-out macro-F1 is poor.
    const noise = labelledLines(400, 2)
      .trim()
      .split('\n')
      .map((l, i) => JSON.stringify({ ...JSON.parse(l), label: i % 2 ? 'attack' : 'benign' }))
      .join('\n');
    saveModel(join(dir, 'weak.aisoc-model'), await model('weak', noise));
    const svc = await MlService.open(MlConfig.parse({ models_dir: dir }), {
      metrics: createMetrics({ defaultMetrics: false }),
      logger: silentLogger(),
    });
    const byName = Object.fromEntries(svc.list().map((m) => [m.name, m]));
    expect(byName.strong!.detect).toBe(true);
    expect(byName.weak!.detect).toBe(false);
    expect(byName.weak!.test_metrics!.macro_f1).toBeLessThan(0.9);
    expect(svc.predict(new Array(18).fill(0), 'weak').model_used).toBe('weak');
    // GET /rules lists the detecting model only, by the rule id its detections carry.
    const rules = svc.detector().rules?.() ?? [];
    expect(rules.map((r) => [r.id, r.engine, r.title])).toEqual([
      ['ml:strong', 'ml', 'ML: strong (cloudtrail18)'],
    ]);
    // Its classes (benign, attack) name no ATT&CK technique: the lint says it counts toward no coverage.
    expect(rules[0]!.lint.state).toBe('warning');
  });

  it('fails fast on a configured model that cannot be loaded, naming it', async () => {
    const bad = join(tmp.dir, 'bad.aisoc-model');
    writeFileSync(bad, 'not a model');
    await expect(
      MlService.open(MlConfig.parse({ use_default_models: false, models: { mine: { path: bad } } }), {
        metrics: createMetrics({ defaultMetrics: false }),
        logger: silentLogger(),
      }),
    ).rejects.toThrow(/ml\.models\.mine: .*AISOCMDL signature/);
  });
});
