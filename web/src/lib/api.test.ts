import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, api, keyStore, onUnauthorised, queryString } from './api.ts';

describe('queryString', () => {
  it('leaves out empty values and joins arrays with commas', () => {
    expect(queryString({ a: 1, b: '', c: undefined, d: null, e: ['x', 'y'], f: [] })).toBe('?a=1&e=x%2Cy');
    expect(queryString({})).toBe('');
  });
});

describe('api', () => {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  beforeEach(() => {
    calls.length = 0;
    keyStore.clear();
  });
  afterEach(() => vi.unstubAllGlobals());

  function serve(status: number, body: unknown) {
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
    });
  }

  it('sends the stored key as a bearer header and never in the URL', async () => {
    keyStore.set('aisoc_secret');
    serve(200, { ok: true });
    await api('/alerts', { query: { severity: ['high'] } });
    expect(calls[0]?.url).toBe('/alerts?severity=high');
    expect(calls[0]?.url).not.toContain('aisoc_secret');
    expect((calls[0]!.init.headers as Record<string, string>).authorization).toBe('Bearer aisoc_secret');
  });

  it('turns an error body into an ApiError with its code and field', async () => {
    serve(400, { code: 'AISOC_ERR_VALIDATION', message: 'severity is not a severity', field: 'severity' });
    const err = await api('/alerts').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: 'AISOC_ERR_VALIDATION', field: 'severity' });
  });

  it('tells listeners when the stored key is refused, but not when a candidate key is', async () => {
    let told = 0;
    const off = onUnauthorised(() => told++);
    serve(401, '<html>no</html>');
    await api('/alerts').catch(() => undefined);
    await api('/whoami', { key: 'candidate' }).catch(() => undefined);
    off();
    expect(told).toBe(1);
  });
});
