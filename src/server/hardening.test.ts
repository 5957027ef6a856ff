import { request } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlert, makeEvent } from '../../test/helpers/builders.ts';
import { type TestServer, testServer } from '../../test/helpers/runtime.ts';
import { loadConfig } from '../app-config.ts';
import { createMetrics } from '../telemetry/metrics.ts';

/** A pino logger whose JSON lines land in `lines`, to see what an operator would read. */
function capturingLogger(level = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/** GET with the path sent byte for byte (inject() and fetch() normalise `..` away). */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('server hardening', () => {
  let t: TestServer;
  const log = capturingLogger();
  let alertId: string;
  let readKey: string;
  let analystKey: string;

  beforeAll(async () => {
    t = await testServer(
      { knowledge: { load: 'lazy' } },
      { response: true, metrics: createMetrics(), logger: log.logger },
    );
    readKey = await t.key(['read']);
    analystKey = await t.key(['analyst', 'read']);
    const e = makeEvent();
    await t.runtime.store.events.insert([e]);
    const a = makeAlert({ event_ids: [e.id] });
    await t.runtime.store.alerts.upsert([a]);
    alertId = a.id;
  });
  afterAll(async () => {
    await t.close();
  });

  it('exports the default process and Node metrics under their standard names, and ours under aisoc_', async () => {
    const r = await t.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${readKey}` },
    });
    expect(r.statusCode).toBe(200);
    const names = new Set(
      r.body
        .split('\n')
        .filter((l) => l.startsWith('# TYPE '))
        .map((l) => l.split(' ')[2]),
    );
    for (const standard of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
    ])
      expect(names, standard).toContain(standard);
    expect([...names].filter((n) => n?.startsWith('aisoc_process_'))).toEqual([]);
    // The seed's names and our own stay as they were.
    expect(names).toContain('triage_requests_total');
    expect(names).toContain('aisoc_ingest_requests_total');
  });

  it('serves /docs, its assets and /openapi.json without a key; the document says how to authorise', async () => {
    for (const url of [
      '/docs',
      '/docs/',
      '/docs/static/swagger-initializer.js',
      '/docs/json',
      '/openapi.json',
    ]) {
      const r = await t.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(200);
    }
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    // The API itself still needs a key.
    expect((await t.app.inject({ method: 'GET', url: '/alerts' })).statusCode).toBe(401);
  });

  it('answers 404, not 500, to a path that climbs out of the docs assets', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as { port: number }).port;
    for (const path of [
      '/docs/static/../../package.json',
      '/docs/static/../index.css',
      '/docs/static/%2e%2e/%2e%2e/package.json',
    ]) {
      const r = await rawGet(port, path);
      expect(r.status, path).toBe(404);
      expect(JSON.parse(r.body).code, path).toBe('AISOC_ERR_NOT_FOUND');
      expect(r.body).not.toContain('"dependencies"');
    }
  });

  it('reads ?force strictly: false is false, anything but true/false/1/0 is a 400 naming force', async () => {
    const call = (q: string) =>
      t.app.inject({
        method: 'POST',
        url: `/alerts/${alertId}/analyze${q}`,
        headers: { authorization: `Bearer ${analystKey}` },
      });
    // The cache key carries the knowledge version: let the base finish loading so both calls see the same one.
    await t.runtime.knowledge.ready().catch(() => {});
    const first = await call('');
    expect(first.statusCode, first.body).toBe(200);
    const notForced = await call('?force=false');
    expect(notForced.statusCode).toBe(200);
    expect(notForced.json().cached).toBe(true);
    expect((await call('?force=0')).json().cached).toBe(true);
    expect((await call('?force=true')).json().cached).toBe(false);
    for (const bad of ['maybe', '', 'yes please', 'false&force=true']) {
      const r = await call(`?force=${bad}`);
      expect(r.statusCode, bad).toBe(400);
      expect(r.json().code).toBe('AISOC_ERR_VALIDATION');
      expect(r.json().field, bad).toBe('querystring.force');
    }
  });

  it('logs every 500 at error level with an id that the caller receives', async () => {
    const { alerts } = t.runtime.store;
    const list = alerts.list;
    // The store failing underneath a route, as a lost database connection would.
    alerts.list = async () => {
      throw new Error('the store went away (test)');
    };
    try {
      const r = await t.app.inject({
        method: 'GET',
        url: '/alerts',
        headers: { authorization: `Bearer ${readKey}` },
      });
      expect(r.statusCode).toBe(500);
      const body = r.json();
      expect(body.code).toBe('AISOC_ERR_INTERNAL');
      expect(body.error_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.message).toContain(body.error_id);
      // Nothing about the cause reaches the caller; all of it reaches the log.
      expect(r.body).not.toContain('store went away');
      const line = log.lines.find((l) => l.error_id === body.error_id);
      expect(line).toBeDefined();
      expect(line!.level).toBe(50);
      expect(JSON.stringify(line)).toContain('the store went away (test)');
      expect(line).toMatchObject({ method: 'GET', url: '/alerts' });
    } finally {
      alerts.list = list;
    }
  });

  it('does not log client errors at error level', async () => {
    const before = log.lines.filter((l) => (l.level as number) >= 50).length;
    await t.app.inject({
      method: 'GET',
      url: '/alerts?limit=nope',
      headers: { authorization: `Bearer ${readKey}` },
    });
    await t.app.inject({ method: 'GET', url: '/alerts' });
    expect(log.lines.filter((l) => (l.level as number) >= 50).length).toBe(before);
  });
});

describe('per-address limit on unauthenticated and failed requests', () => {
  let t: TestServer;
  beforeAll(async () => {
    // The production defaults: the per-key limit and the per-address limit on failures.
    const defaults = loadConfig({ env: {} }).server;
    t = await testServer({
      server: {
        rate_limit_per_minute: defaults.rate_limit_per_minute,
        unauthenticated_rate_limit_per_minute: defaults.unauthenticated_rate_limit_per_minute,
      },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 429 to a flood of unauthenticated requests from one address, while a valid key goes on working', async () => {
    const key = await t.key(['read']);
    let limitedAt = 0;
    let first429:
      | { statusCode: number; headers: Record<string, unknown>; json: () => Record<string, unknown> }
      | undefined;
    for (let i = 1; i <= 1000 && !first429; i++) {
      // Alternate no key and a wrong key: both are unauthenticated.
      const r = await t.app.inject({
        method: 'GET',
        url: '/alerts',
        ...(i % 2 ? {} : { headers: { authorization: 'Bearer aisoc_not_a_real_key' } }),
      });
      if (r.statusCode === 429) {
        limitedAt = i;
        first429 = r;
      } else expect(r.statusCode).toBe(401);
    }
    expect(first429, 'no 429 in 1000 unauthenticated requests').toBeDefined();
    expect(limitedAt).toBeLessThanOrEqual(121);
    expect(first429!.json().code).toBe('AISOC_ERR_RATE_LIMITED');
    expect(Number(first429!.headers['retry-after'])).toBeGreaterThan(0);
    // The same address with a valid key is served: legitimate users behind one NAT are not locked out.
    const ok = await t.app.inject({
      method: 'GET',
      url: '/alerts',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(ok.statusCode).toBe(200);
    // Another address is not affected.
    const other = await t.app.inject({ method: 'GET', url: '/alerts', remoteAddress: '198.51.100.7' });
    expect(other.statusCode).toBe(401);
    // /health stays open to probes.
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('counts keys that lack the scope as failures too', async () => {
    const weak = await t.key(['ingest']);
    let got429 = false;
    for (let i = 0; i < 200 && !got429; i++) {
      const r = await t.app.inject({
        method: 'GET',
        url: '/alerts',
        remoteAddress: '203.0.113.9',
        headers: { authorization: `Bearer ${weak}` },
      });
      if (r.statusCode === 429) got429 = true;
      else expect(r.statusCode).toBe(403);
    }
    expect(got429).toBe(true);
  });
});
