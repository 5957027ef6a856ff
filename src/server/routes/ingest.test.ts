import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, testServer } from '../../../test/helpers/runtime.ts';

const fixtures = join(import.meta.dirname, '../../sources/cloudtrail/fixtures');
const recordsFile = readFileSync(join(fixtures, 'records.json'));
const records = JSON.parse(recordsFile.toString()).Records as Array<Record<string, unknown>>;
const good = records.slice(0, 4);

function record(i: number): Record<string, unknown> {
  return { ...good[0], eventID: `fuzz-${i}-${Math.random().toString(36).slice(2)}` };
}

describe('POST /ingest/:source', () => {
  let t: TestServer;
  let key: string;
  const post = (payload: string | Buffer, headers: Record<string, string> = {}, source = 'cloudtrail') =>
    t.app.inject({
      method: 'POST',
      url: `/ingest/${source}`,
      payload,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    });
  const count = () => t.runtime.store.events.count();

  beforeAll(async () => {
    t = await testServer({
      server: {
        body_limit_bytes: 256 * 1024,
        decompressed_limit_bytes: 1024 * 1024,
        rate_limit_per_minute: 0,
      },
    });
    key = await t.key(['ingest', 'read']);
  });
  afterAll(async () => {
    await t.close();
  });

  it('stores a CloudTrail file durably before answering, and counts a bad record as a dead letter', async () => {
    const r = await post(recordsFile);
    expect(r.statusCode).toBe(202);
    const body = r.json();
    expect(body).toMatchObject({
      source: 'cloudtrail',
      received: 5,
      stored: 4,
      duplicates: 0,
      dead_letters: 1,
    });
    expect(body.errors[0]).toMatchObject({ at: '[0][4]', field: 'eventTime', code: 'AISOC_ERR_PARSE' });
    const ev = await t.app.inject({
      method: 'GET',
      url: '/events?source=cloudtrail&limit=10',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(ev.json().total).toBe(4);
    const dl = await t.app.inject({
      method: 'GET',
      url: '/dead-letters?source=cloudtrail',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(dl.json().items[0]).toMatchObject({ field: 'eventTime', stage: 'normalise' });
  });

  it('does not store the same events twice', async () => {
    const r = await post(recordsFile);
    expect(r.json()).toMatchObject({ stored: 0, duplicates: 4 });
  });

  it('accepts JSON arrays, NDJSON and gzip (by header or by magic bytes)', async () => {
    const a = [record(1), record(2)];
    expect((await post(JSON.stringify(a))).json().stored).toBe(2);
    const nd = [record(3), record(4), record(5)].map((x) => JSON.stringify(x)).join('\n');
    expect((await post(nd, { 'content-type': 'application/x-ndjson' })).json().stored).toBe(3);
    const gz = gzipSync(JSON.stringify({ Records: [record(6)] }));
    expect((await post(gz, { 'content-encoding': 'gzip' })).json().stored).toBe(1);
    expect(
      (await post(gzipSync(JSON.stringify(record(7))), { 'content-type': 'application/octet-stream' })).json()
        .stored,
    ).toBe(1);
  });

  it('refuses malformed JSON whole, naming the line, and stores nothing', async () => {
    const before = await count();
    const r = await post(`${JSON.stringify(record(8))}\n${JSON.stringify(record(9))}\n{"eventName": oops}\n`);
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'AISOC_ERR_BAD_JSON', field: 'body[line 3]' });
    const r2 = await post('{"Records": [');
    expect(r2.statusCode).toBe(400);
    expect(r2.json().code).toBe('AISOC_ERR_BAD_JSON');
    expect(await count()).toBe(before);
  });

  it('refuses wrong types with the field named', async () => {
    const r = await post(JSON.stringify({ Records: 5 }));
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'AISOC_ERR_VALIDATION' });
    expect(r.json().field).toContain('Records');
    const r2 = await post(
      JSON.stringify([
        { ...good[0], eventID: 'wt-1', eventTime: true },
        { ...good[0], eventID: 'wt-2', userIdentity: 'me' },
      ]),
    );
    expect(r2.statusCode).toBe(400);
    expect(r2.json().message).toMatch(/No record could be normalised/);
  });

  it('answers 404 for an unknown source and an empty body with 400', async () => {
    const r = await post('{}', {}, 'no-such-source');
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'AISOC_ERR_UNKNOWN_SOURCE', field: 'source' });
    const e = await post('   ');
    expect(e.statusCode).toBe(400);
    expect(e.json().field).toBe('body');
  });

  it('refuses oversize bodies and gzip bombs with 413 and keeps serving', async () => {
    const before = await count();
    const big = await post(
      `[${Array.from({ length: 400 }, (_, i) => JSON.stringify(record(1000 + i))).join(',')}]`,
    );
    expect(big.statusCode).toBe(413);
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(256 * 1024);
    const r = await post(bomb, { 'content-encoding': 'gzip' });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ code: 'AISOC_ERR_BODY_TOO_LARGE', field: 'body' });
    const corrupt = await post(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02]), {
      'content-encoding': 'gzip',
    });
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json().code).toBe('AISOC_ERR_BAD_ENCODING');
    const unknownEnc = await post('{}', { 'content-encoding': 'zstd' });
    expect(unknownEnc.json()).toMatchObject({ code: 'AISOC_ERR_BAD_ENCODING', field: 'content-encoding' });
    expect(await count()).toBe(before);
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('never answers 5xx and never stores half a body, whatever the input (fuzz)', async () => {
    let storedByResponses = 0;
    const before = await count();
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
      fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v) ?? 'null'),
      fc
        .array(fc.oneof(fc.constant(null), fc.jsonValue({ maxDepth: 3 }), fc.nat().map(record)), {
          maxLength: 6,
        })
        .map((xs) => xs.map((x) => JSON.stringify(x) ?? '').join('\n')),
      fc.nat().map((i) => JSON.stringify({ Records: [record(i), { ...good[0], eventTime: i }] })),
      fc.string({ maxLength: 300 }),
    );
    const encoding = fc.constantFrom(undefined, 'gzip', 'identity', 'deflate', 'br', 'weird');
    const source = fc.constantFrom('cloudtrail', 'generic', 'nope', 'CLOUDTRAIL', '..');
    await fc.assert(
      fc.asyncProperty(body, encoding, source, async (payload, enc, src) => {
        const headers: Record<string, string> = {};
        if (enc) headers['content-encoding'] = enc;
        const r = await post(payload, headers, src);
        expect(r.statusCode, r.body).toBeLessThan(500);
        expect([202, 400, 404, 413, 415, 422, 429]).toContain(r.statusCode);
        const json = r.json();
        if (r.statusCode === 202) storedByResponses += json.stored;
        else expect(typeof json.code).toBe('string');
      }),
      { numRuns: 250 },
    );
    expect(await count()).toBe(before + storedByResponses);
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });
});
