/**
 * The seed's API, route by route (`DESIGN.md` §2): its clients' requests,
 * sent as they are, must be accepted, and every answer must validate
 * against the seed's response schema (`../testing/seed-contract.ts`, written
 * from §2 alone).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { type TestServer, testServer } from '../../../test/helpers/runtime.ts';
import {
  SEED_BATCH_MAX,
  SEED_EXAMPLES,
  SEED_METRICS,
  SEED_PREDICT_BATCH_MAX,
  SEED_RETRIEVE_DEFAULTS,
  SEED_RETRIEVE_TOP_K,
  SEED_ROUTES,
  SeedBatchResponse,
  SeedPredictResponse,
  SeedRetrieveResponse,
  SeedTriageResponse,
} from '../testing/seed-contract.ts';

const repo = join(import.meta.dirname, '../../..');
const ATTACK = join(repo, 'src/knowledge/attack/fixtures/mini-attack-stix20.json');
const WAZUH_ALERT = readFileSync(join(repo, 'src/sources/wazuh/fixtures/alerts.json'), 'utf8').split(
  '\n',
)[0]!;

/** The issues of a value against a seed schema, as `path: message` lines (empty when it conforms). */
function violations(schema: z.ZodType, value: unknown): string[] {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('the seed contract (DESIGN §2), route by route', () => {
  let t: TestServer;
  let analyst: string;
  let reader: string;
  let ingest: string;
  const send = (method: 'GET' | 'POST', url: string, key: string | undefined, payload?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: key ? { authorization: `Bearer ${key}` } : {},
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  beforeAll(async () => {
    t = await testServer({ knowledge: { attack_path: ATTACK } }, { response: true });
    analyst = await t.key(['analyst']);
    reader = await t.key(['read']);
    ingest = await t.key(['ingest']);
    await t.runtime.knowledge.ready();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lists every route of §2 once', () => {
    expect(SEED_ROUTES.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /analyze',
      'POST /batch',
      'POST /retrieve',
      'POST /predict',
      'POST /predict/batch',
      'GET /models',
      'POST /webhook',
      'GET /health',
      'GET /metrics',
    ]);
  });

  describe('POST /analyze', () => {
    it('takes an alert without timestamp (the seed defaults it to now) and answers a seed TriageResponse', async () => {
      const before = Date.now();
      const r = await send('POST', '/analyze', analyst, SEED_EXAMPLES.minimalAlert);
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json();
      expect(violations(SeedTriageResponse, body)).toEqual([]);
      expect(body.alert_id).toBe(SEED_EXAMPLES.minimalAlert.alert_id);
      expect(Date.parse(body.analysis_timestamp)).toBeGreaterThanOrEqual(before - 1000);
    });

    it('takes every field, with Wazuh’s own timestamp format (+0000)', async () => {
      const r = await send('POST', '/analyze', analyst, SEED_EXAMPLES.fullAlert);
      expect(r.statusCode, r.body).toBe(200);
      expect(violations(SeedTriageResponse, r.json())).toEqual([]);
    });

    it('reads the other timestamp forms a seed client may send', async () => {
      for (const timestamp of [
        '2024-01-15T10:30:00Z',
        '2024-01-15T10:30:00.123456+02:00',
        '2024-01-15T10:30:00',
        '2024-01-15 10:30:00',
      ]) {
        const r = await send('POST', '/analyze', analyst, {
          ...SEED_EXAMPLES.minimalAlert,
          alert_id: `ts-${timestamp}`,
          timestamp,
        });
        expect(r.statusCode, `${timestamp}: ${r.body}`).toBe(200);
      }
    });

    it('ignores fields the seed does not know, as the seed does', async () => {
      const r = await send('POST', '/analyze', analyst, {
        ...SEED_EXAMPLES.minimalAlert,
        alert_id: 'extra-1',
        agent: { id: '001', name: 'web-01' },
      });
      expect(r.statusCode, r.body).toBe(200);
    });

    it('refuses what the seed refuses, naming the field', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...SEED_EXAMPLES.minimalAlert, rule_level: 16 }, 'body.rule_level'],
        [{ ...SEED_EXAMPLES.minimalAlert, rule_level: -1 }, 'body.rule_level'],
        [{ ...SEED_EXAMPLES.minimalAlert, alert_id: undefined }, 'body.alert_id'],
        [{ ...SEED_EXAMPLES.minimalAlert, rule_description: undefined }, 'body.rule_description'],
        [{ ...SEED_EXAMPLES.minimalAlert, timestamp: 'yesterday' }, 'body.timestamp'],
        [{ ...SEED_EXAMPLES.minimalAlert, mitre_technique: 'T1110' }, 'body.mitre_technique'],
      ];
      for (const [payload, field] of cases) {
        const r = await send('POST', '/analyze', analyst, payload);
        expect(r.statusCode, JSON.stringify(payload)).toBe(400);
        expect(r.json().field).toBe(field);
      }
    });
  });

  describe('POST /batch', () => {
    it('answers the seed batch shape for the seed examples', async () => {
      const r = await send('POST', '/batch', analyst, [SEED_EXAMPLES.minimalAlert, SEED_EXAMPLES.fullAlert]);
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json();
      expect(violations(SeedBatchResponse, body)).toEqual([]);
      expect(body).toMatchObject({ total: 2, successful: 2, failed: 0, errors: [] });
    });

    it('takes an empty array (nothing to do) and at most 100 alerts', async () => {
      const empty = await send('POST', '/batch', analyst, []);
      expect(empty.statusCode, empty.body).toBe(200);
      expect(violations(SeedBatchResponse, empty.json())).toEqual([]);
      expect(empty.json()).toMatchObject({ total: 0, successful: 0, failed: 0, results: [] });
      const many = Array.from({ length: SEED_BATCH_MAX + 1 }, (_, i) => ({
        ...SEED_EXAMPLES.minimalAlert,
        alert_id: `b-${i}`,
      }));
      const over = await send('POST', '/batch', analyst, many);
      expect(over.statusCode).toBe(400);
      expect(over.json().field).toBe('body');
    });
  });

  describe('POST /retrieve', () => {
    it(`defaults collection to ${SEED_RETRIEVE_DEFAULTS.collection} and top_k to ${SEED_RETRIEVE_DEFAULTS.top_k}`, async () => {
      const r = await send('POST', '/retrieve', reader, SEED_EXAMPLES.retrieve);
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json();
      expect(violations(SeedRetrieveResponse, body)).toEqual([]);
      expect(body.results).toHaveLength(SEED_RETRIEVE_DEFAULTS.top_k);
      expect(body.total_results).toBe(body.results.length);
      expect(body.collection).toBe(SEED_RETRIEVE_DEFAULTS.collection);
    });

    it(`takes top_k ${SEED_RETRIEVE_TOP_K.min}–${SEED_RETRIEVE_TOP_K.max} and min_similarity, and refuses top_k outside`, async () => {
      const ok = await send('POST', '/retrieve', reader, {
        ...SEED_EXAMPLES.retrieve,
        top_k: SEED_RETRIEVE_TOP_K.max,
        min_similarity: 0.1,
      });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(violations(SeedRetrieveResponse, ok.json())).toEqual([]);
      expect(ok.json().results.length).toBeLessThanOrEqual(SEED_RETRIEVE_TOP_K.max);
      for (const top_k of [SEED_RETRIEVE_TOP_K.min - 1, SEED_RETRIEVE_TOP_K.max + 1]) {
        const r = await send('POST', '/retrieve', reader, { ...SEED_EXAMPLES.retrieve, top_k });
        expect(r.statusCode).toBe(400);
        expect(r.json().field).toBe('body.top_k');
      }
    });
  });

  describe('the model routes', () => {
    const model = 'cloudtrail18-rf';
    const vector = Array.from({ length: 18 }, (_, i) => (i === 7 ? 14 : i % 2));

    it('GET /models lists the served models', async () => {
      const r = await send('GET', '/models', reader);
      expect(r.statusCode).toBe(200);
      expect(r.json().models.map((m: { name: string }) => m.name)).toContain(model);
    });

    it('POST /predict answers the seed prediction shape, and ignores fields the seed does not know', async () => {
      for (const payload of [
        { features: vector, model_name: model },
        { features: vector, model_name: model, return_probabilities: true },
      ]) {
        const r = await send('POST', '/predict', analyst, payload);
        expect(r.statusCode, r.body).toBe(200);
        expect(violations(SeedPredictResponse, r.json())).toEqual([]);
        expect(r.json().model_used).toBe(model);
      }
    });

    it(`POST /predict/batch takes at most ${SEED_PREDICT_BATCH_MAX} vectors`, async () => {
      const ok = await send('POST', '/predict/batch', analyst, {
        features: [vector, vector],
        model_name: model,
      });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.json().predictions).toHaveLength(2);
      const over = await send('POST', '/predict/batch', analyst, {
        features: Array.from({ length: SEED_PREDICT_BATCH_MAX + 1 }, () => vector),
        model_name: model,
      });
      expect(over.statusCode).toBe(400);
      expect(over.json().field).toBe('body.features');
    });
  });

  it('POST /webhook accepts a raw Wazuh alert as the integration sends it', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/webhook',
      headers: { authorization: `Bearer ${ingest}`, 'content-type': 'application/json' },
      payload: WAZUH_ALERT,
    });
    expect(r.statusCode, r.body).toBe(202);
    expect(r.json()).toMatchObject({ source: 'wazuh', received: 1, dead_letters: 0 });
  });

  it('GET /health answers without a key', async () => {
    const r = await send('GET', '/health', undefined);
    expect(r.statusCode).toBe(200);
  });

  it('GET /metrics carries the seed metric names, types and labels', async () => {
    const r = await send('GET', '/metrics', reader);
    expect(r.statusCode).toBe(200);
    for (const m of SEED_METRICS) {
      expect(r.body, m.name).toContain(`# TYPE ${m.name} ${m.type}`);
      for (const label of m.labels)
        expect(r.body, `${m.name}{${label}}`).toMatch(new RegExp(`${m.name}\\{[^}]*${label}="`));
    }
  });
});
