import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, tempDir, testServer } from '../../../test/helpers/runtime.ts';
import { cloudtrail18 } from '../../detect/ml/features/cloudtrail18.ts';
import { saveModel } from '../../detect/ml/model-file.ts';
import { Rng } from '../../detect/ml/rng.ts';
import { ctRecord, labelledLines } from '../../detect/ml/testing/cloudtrail.ts';
import { trainFromFile } from '../../detect/ml/train.ts';
import { normaliseCloudTrail } from '../../sources/cloudtrail/parse.ts';

const tmp = tempDir('aisoc-predict-');

describe('model API', () => {
  let t: TestServer;
  let analyst: string;
  let reader: string;
  const post = (url: string, payload: unknown, key = analyst) =>
    t.app.inject({
      method: 'POST',
      url,
      payload: payload as object,
      headers: { authorization: `Bearer ${key}` },
    });

  beforeAll(async () => {
    const data = join(tmp.dir, 'labels.jsonl');
    writeFileSync(data, labelledLines(400, 1));
    const { model } = await trainFromFile({
      featureSet: cloudtrail18,
      dataPath: data,
      algorithm: 'rf',
      threads: 0,
      params: { nTrees: 10 },
    });
    saveModel(join(tmp.dir, 'ct.aisoc-model'), model);
    t = await testServer({
      ml: {
        use_default_models: false,
        models: { ct: { path: join(tmp.dir, 'ct.aisoc-model'), threshold: 0.7 } },
      },
    });
    analyst = await t.key(['analyst']);
    reader = await t.key(['read']);
  });
  afterAll(async () => {
    await t?.close();
    tmp.cleanup();
  });

  it('GET /models lists the model with its feature set, classes and held-out metrics (read scope)', async () => {
    const r = await t.app.inject({
      method: 'GET',
      url: '/models',
      headers: { authorization: `Bearer ${reader}` },
    });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.default_model).toBe('ct');
    expect(body.models[0]).toMatchObject({
      name: 'ct',
      algorithm: 'rf',
      feature_set: 'cloudtrail18',
      n_features: 18,
      labels: ['attack', 'benign'],
      negative_label: 'benign',
      threshold: 0.7,
      detect: true,
      trees: 10,
    });
    expect(body.models[0].test_metrics.macro_f1).toBeGreaterThan(0.9);
  });

  it('POST /predict scores a vector with the seed contract fields, and needs the analyst scope', async () => {
    const event = normaliseCloudTrail(ctRecord(1, true, new Rng(5)))[0]!;
    const features = cloudtrail18.fromEvent(event)!;
    const r = await post('/predict', { features, model_name: 'ct' });
    expect(r.statusCode).toBe(200);
    const b = r.json();
    expect(Object.keys(b).sort()).toEqual(
      ['confidence', 'inference_time_ms', 'model_used', 'prediction', 'probabilities', 'timestamp'].sort(),
    );
    expect(b.prediction).toBe('attack');
    expect(b.probabilities.attack + b.probabilities.benign).toBeCloseTo(1, 6);
    expect((await post('/predict', { features }, reader)).statusCode).toBe(403);
  });

  it('refuses wrong feature counts, non-numbers, unknown models and oversized batches, naming the problem', async () => {
    const short = await post('/predict', { features: [1, 2, 3] });
    expect(short.statusCode).toBe(400);
    expect(short.json()).toMatchObject({
      code: 'AISOC_ERR_FEATURES',
      details: { expected: 18, received: 3 },
    });
    const nan = await post('/predict', { features: [...new Array(17).fill(0), 'NaN'] });
    expect(nan.statusCode).toBe(400);
    expect(JSON.stringify(nan.json())).toMatch(/features/);
    const unknown = await post('/predict', { features: new Array(18).fill(0), model_name: 'nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toMatch(/there are: ct/);
    const big = await post('/predict/batch', { features: new Array(1001).fill(new Array(18).fill(0)) });
    expect(big.statusCode).toBe(400);
    // The seed (pydantic) ignores fields it does not know; so does this route.
    const extra = await post('/predict', { features: new Array(18).fill(0), extra: 1 });
    expect(extra.statusCode).toBe(200);
  });

  it('POST /predict/batch scores up to 1,000 vectors in order, naming the bad row', async () => {
    const rng = new Rng(9);
    const rows = [true, false, true].map(
      (a, i) => cloudtrail18.fromEvent(normaliseCloudTrail(ctRecord(i, a, rng))[0]!)!,
    );
    const r = await post('/predict/batch', { features: rows });
    expect(r.statusCode).toBe(200);
    expect(r.json().predictions.map((p: { prediction: string }) => p.prediction)).toEqual([
      'attack',
      'benign',
      'attack',
    ]);
    expect(r.json().count).toBe(3);
    const bad = await post('/predict/batch', { features: [rows[0], [1, 2]] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toBe('features[1]');
  });

  it('POST /predict/event computes the features server-side with the training code', async () => {
    const event = normaliseCloudTrail(ctRecord(3, true, new Rng(2)))[0]!;
    const r = await post('/predict/event', { event });
    expect(r.statusCode).toBe(200);
    const [res] = r.json().results;
    expect(res.model_used).toBe('ct');
    expect(res.feature_set).toBe('cloudtrail18');
    expect(res.features).toEqual(cloudtrail18.fromEvent(event));
    expect(res.prediction).toBe('attack');
    const flow = await post('/predict/event', {
      event: { time: '2024-01-01T00:00:00Z', network: { packets_out: 3, packets_in: 2 } },
    });
    expect(flow.statusCode).toBe(400);
    expect(flow.json().code).toBe('AISOC_ERR_FEATURES');
  });

  it('scores CloudTrail events in the pipeline: attacks become alerts with engine ml, benign calls do not', async () => {
    const rng = new Rng(77);
    const records = Array.from({ length: 12 }, (_, i) => ctRecord(1000 + i, i < 4, rng));
    await t.runtime.ingest.ingestBody('cloudtrail', Buffer.from(JSON.stringify({ Records: records })));
    await t.runtime.runner.drain(30_000);
    const alerts = (await t.runtime.store.alerts.list({ limit: 100 })).items;
    const ml = alerts.filter((a) => a.detections.some((d) => d.engine === 'ml'));
    expect(ml.length).toBeGreaterThan(0);
    const det = ml[0]!.detections.find((d) => d.engine === 'ml')!;
    expect(det.rule_id).toBe('ml:ct');
    expect(det.confidence).toBeGreaterThanOrEqual(0.7);
    const flagged = new Set(ml.flatMap((a) => a.event_ids));
    const events = await t.runtime.store.events.getMany([...flagged]);
    for (const e of events)
      expect(e.cloud?.operation).toMatch(/CreateAccessKey|StopLogging|GetPasswordData|AttachUserPolicy/);
    const metrics = await t.runtime.metrics.registry.getSingleMetricAsString('ml_predictions_total');
    expect(metrics).toMatch(/ml_predictions_total\{model="ct"\} \d+/);
  });
});
