import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, testServer } from '../../test/helpers/runtime.ts';
import { type App, build } from './app.ts';

/** What `serve --role worker` opens over HTTP: the probes and nothing else. */
describe('a worker process serves only /health, /ready and /metrics', () => {
  let t: TestServer;
  let probes: App;
  let read: string;
  let admin: string;
  let ingest: string;

  beforeAll(async () => {
    t = await testServer();
    probes = await build({ runtime: t.runtime, routes: 'probes' });
    read = await t.key(['read']);
    ingest = await t.key(['ingest']);
    admin = await t.key(['admin']);
  });
  afterAll(async () => {
    await probes.close();
    await t.close();
  });

  const get = (url: string, key?: string) =>
    probes.inject({ method: 'GET', url, headers: key ? { authorization: `Bearer ${key}` } : {} });

  it('answers /health without a key', async () => {
    const res = await get('/health');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok' });
  });

  it('serves /metrics and /ready to a read key only, checked against the shared store', async () => {
    expect((await get('/metrics')).statusCode).toBe(401);
    expect((await get('/metrics', 'not-a-key')).statusCode).toBe(401);
    expect((await get('/metrics', ingest)).statusCode).toBe(403);
    const metrics = await get('/metrics', read);
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('aisoc_pipeline_backlog');
    expect((await get('/ready', read)).json()).toMatchObject({ ready: true });
  });

  it('has no API: ingestion, records, actions and the docs are not there, whatever the key', async () => {
    for (const [method, url] of [
      ['POST', '/ingest/cloudtrail'],
      ['POST', '/webhook'],
      ['GET', '/alerts'],
      ['GET', '/events'],
      ['GET', '/incidents'],
      ['POST', '/analyze'],
      ['GET', '/keys'],
      ['GET', '/openapi.json'],
      ['GET', '/docs'],
    ] as const) {
      const res = await probes.inject({
        method,
        url,
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        ...(method === 'POST' ? { payload: '{}' } : {}),
      });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
    }
    const routes = probes.routeInventory.map((r) => `${r.method} ${r.url}`).sort();
    expect(routes).toEqual([
      'GET /health',
      'GET /metrics',
      'GET /ready',
      'HEAD /health',
      'HEAD /metrics',
      'HEAD /ready',
    ]);
  });
});
