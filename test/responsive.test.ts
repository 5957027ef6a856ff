import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analystMetrics } from '../src/analyst/metrics.ts';
import type { SecurityAlert } from '../src/schema/verdict.ts';
import { makeEvent } from './helpers/builders.ts';
import { type TestServer, testServer } from './helpers/runtime.ts';

/**
 * Large payloads leave the event loop free for other requests. Speed is the
 * business of `npm run bench -- large`; these tests check the structure that
 * makes it possible, without clocks: work that used to run as one unbroken
 * chain of promises (PGlite answers without a turn of the event loop) now
 * lets the loop turn, so a request arriving meanwhile is answered.
 */

const ATTACK_FIXTURE = join(import.meta.dirname, '../src/knowledge/attack/fixtures/mini-attack-stix20.json');

/** Run `work` and count the turns of the event loop (setImmediate callbacks) that happen while it runs. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), turns };
  } finally {
    running = false;
  }
}

const big = (ch: string) => ch.repeat(60_000);

describe('large payloads leave the event loop free', () => {
  let t: TestServer;
  let url: string;
  let key: string;

  beforeAll(async () => {
    t = await testServer({ knowledge: { load: 'lazy', attack_path: ATTACK_FIXTURE } }, { response: true });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = t.app.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    key = await t.key(['ingest', 'read', 'analyst']);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('answers /health while a /batch of 100 alerts is being analysed', async () => {
    const analysed = async () =>
      (await analystMetrics(t.runtime.metrics).triageRequests.get()).values.reduce((n, v) => n + v.value, 0);
    const alerts: SecurityAlert[] = Array.from({ length: 100 }, (_, i) => ({
      alert_id: `resp-${i}`,
      timestamp: '2026-11-19T08:00:00Z',
      rule_id: String(5700 + i),
      rule_description: `sshd: brute force number ${i} trying to get access to the system`,
      rule_level: 10,
      source_ip: `203.0.113.${i + 1}`,
      user: `user${i}`,
      raw_log: `Failed password for invalid user user${i} from 203.0.113.${i + 1} port 50122 ssh2`,
    }));
    const before = await analysed();
    let done = false;
    const batch = fetch(`${url}/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
    }).then((r) => {
      done = true;
      return r;
    });
    // How many alerts the batch had analysed each time /health answered.
    const seen: number[] = [];
    while (!done) {
      const h = await fetch(`${url}/health`);
      expect(h.status).toBe(200);
      seen.push((await analysed()) - before);
    }
    const r = await batch;
    expect(r.status).toBe(200);
    expect(((await r.json()) as { successful: number }).successful).toBe(100);
    // Run as one block, the batch would let /health in only before it starts (0) or after it ends (100).
    expect(seen.filter((n) => n > 0 && n < 100).length, JSON.stringify(seen)).toBeGreaterThan(0);
  }, 120_000);

  it('parses a large /batch body off the main thread with the same answers as the inline parser', async () => {
    const post = (body: string) =>
      fetch(`${url}/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body,
      });
    const alerts = Array.from({ length: 30 }, (_, i) => ({
      alert_id: `thread-${i}`,
      timestamp: '2026-11-19T08:00:00Z',
      rule_description: 'Large alert',
      rule_level: 5,
      raw_log: 'L'.repeat(60_000),
      full_log: JSON.parse(`{"__proto__": {"polluted": true}, "i": ${i}}`),
    }));
    // Each full_log carries an own "__proto__" key, which both parsers remove.
    const text = JSON.stringify(alerts);
    expect(text).toContain('"__proto__"');
    expect(text.length).toBeGreaterThan(1024 * 1024);
    const ok = await post(text);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { successful: number }).successful).toBe(30);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Malformed, large or small: the same 400.
    const small = await post('[{"alert_id": ');
    const large = await post(text.slice(0, -2));
    expect(large.status).toBe(400);
    expect(small.status).toBe(400);
    expect(((await large.json()) as { code: string }).code).toBe(
      ((await small.json()) as { code: string }).code,
    );
  }, 120_000);

  it('reads large events in slices, with turns of the event loop between them', async () => {
    const events = Array.from({ length: 20 }, () =>
      makeEvent({
        source: 'responsive',
        message: big('m'),
        cloud: { provider: 'aws', user_agent: big('u') },
        raw: { userAgent: big('r') },
      }),
    );
    for (let i = 0; i < events.length; i += 5) await t.runtime.store.events.insert(events.slice(i, i + 5));
    const many = await turnsDuring(() => t.runtime.store.events.getMany(events.map((e) => e.id)));
    expect(many.result.map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
    expect(many.turns).toBeGreaterThan(0);
    const listed = await turnsDuring(() =>
      t.runtime.store.events.listText({ source: 'responsive', limit: 50 }),
    );
    expect(listed.result.items).toHaveLength(20);
    expect(listed.turns).toBeGreaterThan(0);
  });

  it('lets the event loop turn while a large body is parsed and normalised', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify({
        '@timestamp': '2026-11-19T08:00:00Z',
        message: `line ${i} ${'x'.repeat(200)}`,
        host: { name: 'web-1' },
      }),
    ).join('\n');
    const ingested = await turnsDuring(() => t.runtime.ingest.ingestBody('generic', Buffer.from(lines)));
    expect(ingested.result.stored).toBe(3000);
    expect(ingested.turns).toBeGreaterThan(0);
  });

  it('frames large bodies as before: one value on the JSON thread, NDJSON and malformed bodies inline', async () => {
    const record = (i: number) => ({
      '@timestamp': '2026-11-19T09:00:00Z',
      message: `big ${i} ${'y'.repeat(600)}`,
      host: { name: 'web-2' },
    });
    const array = Buffer.from(JSON.stringify(Array.from({ length: 2500 }, (_, i) => record(i))));
    expect(array.length).toBeGreaterThan(1024 * 1024);
    expect((await t.runtime.ingest.ingestBody('generic', array)).stored).toBe(2500);
    // ingestBody may move a large body's memory to the JSON thread: each call gets its own buffer.
    const ndjson = Array.from({ length: 2500 }, (_, i) => JSON.stringify(record(10_000 + i))).join('\n');
    expect((await t.runtime.ingest.ingestBody('generic', Buffer.from(ndjson))).stored).toBe(2500);
    const broken = Buffer.from(`${ndjson}\n{"@timestamp": `);
    await expect(t.runtime.ingest.ingestBody('generic', broken)).rejects.toMatchObject({
      code: 'AISOC_ERR_BAD_JSON',
      field: 'body[line 2501]',
    });
  });

  it('streams a large GET /events answer that parses to the stored events', async () => {
    const r = await fetch(`${url}/events?source=responsive&limit=50`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await r.json()) as { total: number; items: Array<{ message: string }> };
    expect(body.total).toBe(20);
    expect(body.items).toHaveLength(20);
    for (const e of body.items) expect(e.message).toBe(big('m'));
  });
});
