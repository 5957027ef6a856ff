import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers/process.ts';
import { testServer } from './helpers/runtime.ts';

const FIXTURE = join(REPO, 'src/knowledge/attack/fixtures/mini-attack-stix21.json');

async function until<T>(probe: () => T | undefined | false, what: string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the knowledge-base build never holds the event loop', () => {
  it('answers /health (and 503 + Retry-After for retrieval) while the index build is in progress', async () => {
    // The worker parses and indexes ATT&CK, then waits on this flag before handing the index over:
    // whatever the main thread answers meanwhile, it answers while a build is under way.
    const hold = new Int32Array(new SharedArrayBuffer(4));
    hold[0] = 1;
    const t = await testServer(
      { knowledge: { attack_path: FIXTURE } },
      { warmKnowledge: true, knowledgeBuildHold: hold },
    );
    try {
      const kb = t.runtime.knowledge;
      await until(() => kb.status().index?.phase === 'held', 'the build to reach its hold');
      const key = await t.key(['read']);
      for (let i = 0; i < 5; i++) {
        const health = await t.app.inject({ method: 'GET', url: '/health' });
        expect(health.statusCode).toBe(200);
      }
      const r = await t.app.inject({
        method: 'POST',
        url: '/retrieve',
        headers: { authorization: `Bearer ${key}` },
        payload: { query: 'lsass' },
      });
      expect(r.statusCode).toBe(503);
      expect(r.json().code).toBe('AISOC_ERR_KNOWLEDGE_LOADING');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(kb.state).toBe('loading');

      Atomics.store(hold, 0, 0);
      Atomics.notify(hold, 0);
      await kb.ready();
      expect(kb.status().index!.origin).toBe('worker');
      const ok = await t.app.inject({
        method: 'POST',
        url: '/retrieve',
        headers: { authorization: `Bearer ${key}` },
        payload: { query: 'dump credentials from lsass memory', top_k: 1 },
      });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().results[0].metadata.technique_id).toBe('T1003.001');
    } finally {
      Atomics.store(hold, 0, 0);
      Atomics.notify(hold, 0);
      await t.close();
    }
  }, 120_000);
});

function cloudtrail(tag: string, n: number): string {
  const Records = Array.from({ length: n }, (_, i) => ({
    eventTime: new Date(Date.UTC(2026, 0, 1) + i).toISOString(),
    eventSource: 'ec2.amazonaws.com',
    eventName: 'DescribeInstances',
    eventID: `${tag}-${i}`,
    userIdentity: { type: 'IAMUser', userName: 'loadtest' },
  }));
  return JSON.stringify({ Records });
}

describe('admission watches the event loop and memory, not only the queue', () => {
  it('answers 503 AISOC_ERR_UNDER_PRESSURE with Retry-After while the event loop lags, before reading the body', async () => {
    let lag = 0;
    const t = await testServer(
      { pipeline: { max_event_loop_delay_ms: 100, max_rss_bytes: 0 } },
      { pressureProbe: () => ({ eventLoopDelayMs: lag, rssBytes: 1 }) },
    );
    try {
      const key = await t.key(['ingest']);
      const post = (payload: string, auth = `Bearer ${key}`) =>
        t.app.inject({
          method: 'POST',
          url: '/ingest/cloudtrail',
          headers: { authorization: auth, 'content-type': 'application/json' },
          payload,
        });
      expect((await post(cloudtrail('before', 3))).statusCode).toBe(202);

      // One slow window is a pause, not load: still admitted.
      lag = 5_000;
      t.runtime.pressure.sample();
      expect((await post(cloudtrail('one-window', 3))).statusCode).toBe(202);
      // Lag that persists over two windows sheds input.
      t.runtime.pressure.sample();
      const refused = await post(cloudtrail('lagging', 3));
      expect(refused.statusCode).toBe(503);
      expect(refused.json()).toMatchObject({
        code: 'AISOC_ERR_UNDER_PRESSURE',
        details: { reason: 'event_loop' },
      });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Refused before the body is read: a malformed body gets the same 503, not a 400.
      expect((await post('{"Records": [')).statusCode).toBe(503);
      // Authentication and scopes still come first, and /health and reads are never refused.
      expect((await post(cloudtrail('x', 1), 'Bearer wrong')).statusCode).toBe(401);
      const reader = await t.key(['read']);
      expect((await post(cloudtrail('x', 1), `Bearer ${reader}`)).statusCode).toBe(403);
      expect(
        (
          await t.app.inject({
            method: 'GET',
            url: '/alerts',
            headers: { authorization: `Bearer ${reader}` },
          })
        ).statusCode,
      ).toBe(200);
      // The Wazuh webhook is ingestion too; an oversized body is refused without being read.
      const webhook = await t.app.inject({
        method: 'POST',
        url: '/webhook',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: '{"rule": {"level": 3}}',
      });
      expect(webhook.statusCode).toBe(503);
      expect(webhook.json().code).toBe('AISOC_ERR_UNDER_PRESSURE');
      expect((await post('x'.repeat(17 * 1024 * 1024))).statusCode).toBe(503);
      expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      const metrics = await t.runtime.metrics.registry.getSingleMetricAsString(
        'aisoc_admission_refusals_total',
      );
      expect(metrics).toMatch(/aisoc_admission_refusals_total\{reason="event_loop"\} 4/);
      const requests = await t.runtime.metrics.registry.getSingleMetricAsString(
        'aisoc_ingest_requests_total',
      );
      expect(requests).toMatch(/aisoc_ingest_requests_total\{source="cloudtrail",status="503"\} 3/);
      expect(requests).toMatch(/aisoc_ingest_requests_total\{source="wazuh",status="503"\} 1/);
      expect(
        await t.runtime.metrics.registry.getSingleMetricAsString('aisoc_admission_event_loop_delay_seconds'),
      ).toMatch(/ 5$/m);

      lag = 0;
      t.runtime.pressure.sample();
      expect((await post(cloudtrail('after', 3))).statusCode).toBe(202);
      // Nothing refused was stored; everything acknowledged was.
      expect(await t.runtime.store.events.count()).toBe(9);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('answers 503 for memory only while accepted events are still being processed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const t = await testServer(
      // Any process is above one byte: memory is "high" throughout, so only the pipeline's state decides.
      { pipeline: { max_event_loop_delay_ms: 0, max_rss_bytes: 1 } },
      {
        stages: [
          {
            name: 'held',
            async process(batch) {
              await gate;
              return { outputs: batch };
            },
          },
        ],
      },
    );
    try {
      const key = await t.key(['ingest']);
      const post = (tag: string) =>
        t.app.inject({
          method: 'POST',
          url: '/ingest/cloudtrail',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          payload: cloudtrail(tag, 2),
        });
      t.runtime.pressure.sample();
      // Idle: nothing to drain, so high memory is not load and input is accepted.
      expect((await post('first')).statusCode).toBe(202);
      expect(t.runtime.runner.stats().pending).toBe(2);
      const refused = await post('second');
      expect(refused.statusCode).toBe(503);
      expect(refused.json()).toMatchObject({
        code: 'AISOC_ERR_UNDER_PRESSURE',
        details: { reason: 'memory' },
      });
      expect(refused.headers['retry-after']).toBe('5');
      release();
      await t.runtime.runner.drain(60_000);
      expect((await post('second')).statusCode).toBe(202);
      expect(await t.runtime.store.events.count()).toBe(4);
    } finally {
      release();
      await t.close();
    }
  }, 120_000);
});
