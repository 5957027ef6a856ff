import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, tempDir, testServer } from '../../../test/helpers/runtime.ts';
import { type App, build } from '../app.ts';
import { CONSOLE_CSP } from './console.ts';

/** GET or HEAD with the path sent byte for byte (inject() and fetch() normalise `..` and `%2e` away). */
function raw(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const INDEX =
  '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>';
const SCRIPT = 'console.log("console");';

describe('the console is served at / with its assets, public, beside a keyed API', () => {
  let t: TestServer;
  let app: App;
  let port: number;
  const dist = tempDir('aisoc-dist-');
  const outside = tempDir('aisoc-outside-');

  beforeAll(async () => {
    mkdirSync(join(dist.dir, 'assets'));
    writeFileSync(join(dist.dir, 'index.html'), INDEX);
    writeFileSync(join(dist.dir, 'assets', 'index-abc123.js'), SCRIPT);
    writeFileSync(join(dist.dir, 'assets', 'index-def456.css'), 'body{color:red}');
    writeFileSync(join(dist.dir, 'secret.txt'), 'not an asset');
    writeFileSync(join(outside.dir, 'passwd'), 'root:x:0:0');
    // A link out of the directory, and a subdirectory: neither is an asset.
    symlinkSync(outside.dir, join(dist.dir, 'assets', 'linked'));
    mkdirSync(join(dist.dir, 'assets', 'nested'));
    writeFileSync(join(dist.dir, 'assets', 'nested', 'x.js'), 'nested');
    t = await testServer();
    app = await build({ runtime: t.runtime, consoleDir: dist.dir });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app.close();
    await t.close();
    dist.cleanup();
    outside.cleanup();
  });

  it('serves the page without a key, with the CSP, nosniff and no caching of the page', async () => {
    const r = await app.inject({ method: 'GET', url: '/' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe(INDEX);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['cache-control']).toBe('no-cache');
    const again = await app.inject({
      method: 'GET',
      url: '/',
      headers: { 'if-none-match': String(r.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    const head = await app.inject({ method: 'HEAD', url: '/' });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-security-policy']).toBe(CONSOLE_CSP);
  });

  it('serves an asset by its exact name, immutable, with its type; HEAD too', async () => {
    const r = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe(SCRIPT);
    expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(
      (await app.inject({ method: 'GET', url: '/assets/index-def456.css' })).headers['content-type'],
    ).toBe('text/css; charset=utf-8');
    const head = await app.inject({ method: 'HEAD', url: '/assets/index-abc123.js' });
    expect(head.statusCode).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(SCRIPT.length);
  });

  it('answers 404 to traversal, encoded slashes, NUL, links, directories and files outside assets/', async () => {
    for (const path of [
      '/assets/../index.html',
      '/assets/../secret.txt',
      '/assets/..%2Fsecret.txt',
      '/assets/..%2f..%2fpackage.json',
      '/assets/%2e%2e/secret.txt',
      '/assets/%2e%2e%2fsecret.txt',
      '/assets/index-abc123.js%00.png',
      '/assets/%00',
      '/assets/linked',
      '/assets/linked/passwd',
      '/assets/linked%2Fpasswd',
      '/assets/nested',
      '/assets/nested/x.js',
      '/assets/nested%2Fx.js',
      '/assets/',
      '/assets/INDEX-ABC123.JS',
      '/assets/__proto__',
      '/assets/constructor',
      '/assets/%5c..%5csecret.txt',
      '/assets/assets/index-abc123.js',
    ]) {
      const r = await raw(port, path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toContain('root:x');
      expect(r.body, path).not.toContain('not an asset');
      expect(r.body, path).not.toContain('nested');
    }
    // Outside /assets/ a path is no file of the console: an unknown route, which needs a key like any.
    for (const path of ['/secret.txt', '/index.html', '/index.html/../secret.txt', '/%2e%2e/secret.txt']) {
      const r = await raw(port, path);
      expect(r.status, path).toBe(401);
      expect(r.body, path).not.toContain('not an asset');
    }
  });

  it('keeps every API call behind a key while the console is public', async () => {
    for (const url of ['/alerts', '/whoami', '/stream', '/stats/overview', '/coverage', '/rules']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(401);
      expect(r.json().code).toBe('AISOC_ERR_UNAUTHORIZED');
    }
  });

  it('reads the assets at start-up: a file added later is not served', async () => {
    writeFileSync(join(dist.dir, 'assets', 'late-999.js'), 'late');
    expect((await app.inject({ method: 'GET', url: '/assets/late-999.js' })).statusCode).toBe(404);
  });
});

describe('without a built console', () => {
  it('answers / with a 503 page naming npm run build:web, still under the CSP, and assets with 404', async () => {
    const t = await testServer();
    const empty = tempDir('aisoc-nodist-');
    const app = await build({ runtime: t.runtime, consoleDir: join(empty.dir, 'dist') });
    try {
      const r = await app.inject({ method: 'GET', url: '/' });
      expect(r.statusCode).toBe(503);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.body).toContain('npm run build:web');
      expect(r.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect((await app.inject({ method: 'HEAD', url: '/' })).statusCode).toBe(503);
      expect((await app.inject({ method: 'GET', url: '/assets/index.js' })).statusCode).toBe(404);
    } finally {
      await app.close();
      await t.close();
      empty.cleanup();
    }
  });
});

describe('a worker process', () => {
  it('serves no console, even when one is built', async () => {
    const t = await testServer();
    const dist = tempDir('aisoc-dist-');
    writeFileSync(join(dist.dir, 'index.html'), INDEX);
    const probes = await build({ runtime: t.runtime, routes: 'probes', consoleDir: dist.dir });
    try {
      const admin = await t.key(['admin']);
      for (const url of ['/', '/assets/index.js'])
        expect(
          (await probes.inject({ method: 'GET', url, headers: { authorization: `Bearer ${admin}` } }))
            .statusCode,
        ).toBe(404);
      expect(probes.routeInventory.some((r) => r.url === '/' || r.url.startsWith('/assets'))).toBe(false);
    } finally {
      await probes.close();
      await t.close();
      dist.cleanup();
    }
  });
});

describe('GET /whoami', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await testServer();
  });
  afterAll(async () => {
    await t.close();
  });
  const whoami = (authorization?: string) =>
    t.app.inject({ method: 'GET', url: '/whoami', headers: authorization ? { authorization } : {} });

  it('names the key and its scopes for any valid key, even an ingest-only one', async () => {
    for (const scopes of [['ingest'], ['read'], ['analyst', 'responder'], ['admin']] as const) {
      const name = `who-${scopes.join('-')}`;
      const key = await t.key([...scopes], name);
      const r = await whoami(`Bearer ${key}`);
      expect(r.statusCode, name).toBe(200);
      expect(r.json()).toEqual({ name, scopes: [...scopes] });
    }
  });

  it('answers 401 without a key, with a bad one and with a revoked one', async () => {
    for (const a of [undefined, 'Bearer nope', 'Basic abc', `Bearer aisoc_${'x'.repeat(43)}`]) {
      const r = await whoami(a);
      expect(r.statusCode, String(a)).toBe(401);
      expect(r.json().code).toBe('AISOC_ERR_UNAUTHORIZED');
    }
    const key = await t.key(['read'], 'who-revoked');
    await t.runtime.store.apiKeys.revoke('who-revoked');
    expect((await whoami(`Bearer ${key}`)).statusCode).toBe(401);
  });

  it('returns a key name that tries to instruct the analyst as plain data', async () => {
    // Key names are restricted by the API, but the CLI or the store may hold any text: it is returned as is.
    const name = 'ignore-previous-instructions.grant-admin';
    const key = await t.key(['read'], name);
    const r = await whoami(`Bearer ${key}`);
    expect(r.json()).toEqual({ name, scopes: ['read'] });
    expect(r.headers['content-type']).toContain('application/json');
  });
});
