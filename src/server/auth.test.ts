import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, testServer } from '../../test/helpers/runtime.ts';
import { uuidv7 } from '../ids.ts';
import { API_SCOPES, type ApiScope } from '../store/index.ts';

function concreteUrl(url: string): string {
  return url
    .replace(/:id\b/g, uuidv7())
    .replace(/:source\b/g, 'cloudtrail')
    .replace(/:name\b/g, 'some-name')
    .replace(/:[A-Za-z_]+/g, 'x')
    .replace(/\*/g, 'x');
}

describe('authentication and scopes on every route', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await testServer();
  });
  afterAll(async () => {
    await t.close();
  });

  it('has routes to check, and only /health, /openapi.json, the /docs pages and the console are public', () => {
    const routes = t.app.routeInventory;
    expect(routes.length).toBeGreaterThan(10);
    const publicRoutes = [...new Set(routes.filter((r) => r.scope === 'public').map((r) => r.url))].sort();
    // Listed one by one: a new public route must be added here on purpose.
    expect(publicRoutes).toEqual(
      [
        '/',
        '/assets/*',
        '/docs',
        '/docs/',
        '/docs/json',
        '/docs/static/*',
        '/docs/static/index.html',
        '/docs/static/swagger-initializer.js',
        '/docs/yaml',
        '/health',
        '/openapi.json',
      ].sort(),
    );
  });

  it('answers 401 without a key and 403 with a key lacking the scope, on every registered route', async () => {
    const failures: string[] = [];
    const keyCache = new Map<string, string>();
    for (const route of t.app.routeInventory) {
      if (route.scope === 'public') continue;
      const url = concreteUrl(route.url);
      const method = route.method as 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
      const payload = ['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined;
      const anon = await t.app.inject({ method, url, payload });
      if (anon.statusCode !== 401) failures.push(`${method} ${route.url} without a key: ${anon.statusCode}`);
      // Any valid key may call these (GET /whoami): there is no scope to lack.
      if (route.scope === 'authenticated') continue;
      const lacking = API_SCOPES.filter((s) => s !== route.scope && s !== 'admin') as ApiScope[];
      const cacheKey = lacking.join(',');
      if (!keyCache.has(cacheKey)) keyCache.set(cacheKey, await t.key(lacking));
      const wrong = await t.app.inject({
        method,
        url,
        payload,
        headers: { authorization: `Bearer ${keyCache.get(cacheKey)}` },
      });
      if (wrong.statusCode !== 403)
        failures.push(`${method} ${route.url} with scopes ${cacheKey}: ${wrong.statusCode}`);
      else if (method !== 'HEAD') expect(wrong.json().code).toBe('AISOC_ERR_FORBIDDEN');
    }
    expect(failures).toEqual([]);
    expect(t.app.routeInventory.filter((r) => r.scope === 'authenticated').map((r) => r.url)).toEqual([
      '/whoami',
      '/whoami',
    ]);
  });

  it('rejects malformed, unknown and revoked keys with 401', async () => {
    for (const authorization of ['Basic abc', 'Bearer', 'Bearer not-a-key', 'bearer  x y']) {
      const r = await t.app.inject({ method: 'GET', url: '/alerts', headers: { authorization } });
      expect(r.statusCode, authorization).toBe(401);
      expect(r.json().code).toBe('AISOC_ERR_UNAUTHORIZED');
    }
    const key = await t.key(['read'], 'to-revoke');
    expect(
      (await t.app.inject({ method: 'GET', url: '/alerts', headers: { authorization: `Bearer ${key}` } }))
        .statusCode,
    ).toBe(200);
    await t.runtime.store.apiKeys.revoke('to-revoke');
    // The verifier caches for a few seconds; a revocation through the API clears the cache at once.
    const admin = await t.key(['admin']);
    const other = await t.key(['read'], 'to-revoke-2');
    const del = await t.app.inject({
      method: 'DELETE',
      url: '/keys/to-revoke-2',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(del.statusCode).toBe(200);
    expect(
      (await t.app.inject({ method: 'GET', url: '/alerts', headers: { authorization: `Bearer ${other}` } }))
        .statusCode,
    ).toBe(401);
  });

  it('lets /health, /openapi.json and /docs through without a key and grants admin every scope', async () => {
    for (const url of ['/health', '/openapi.json', '/docs', '/docs/json'])
      expect((await t.app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    const admin = await t.key(['admin']);
    for (const url of ['/alerts', '/incidents', '/events', '/ready', '/metrics', '/keys']) {
      const r = await t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${admin}` } });
      expect(r.statusCode, url).toBe(200);
    }
  });

  it('creates keys through the API and shows them once', async () => {
    const admin = await t.key(['admin']);
    const r = await t.app.inject({
      method: 'POST',
      url: '/keys',
      headers: { authorization: `Bearer ${admin}` },
      payload: { name: 'ingest-bot', scopes: ['ingest'] },
    });
    expect(r.statusCode).toBe(201);
    const { key } = r.json();
    const listed = await t.app.inject({
      method: 'GET',
      url: '/keys',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(listed.body).not.toContain(key);
    const bad = await t.app.inject({
      method: 'POST',
      url: '/keys',
      headers: { authorization: `Bearer ${admin}` },
      payload: { name: 'x', scopes: ['root'] },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toMatch(/^body\.scopes/);
    const audit = await t.runtime.store.audit.list({ action: 'key.create' });
    expect(audit.some((a) => a.details.name === 'ingest-bot')).toBe(true);
  });
});
