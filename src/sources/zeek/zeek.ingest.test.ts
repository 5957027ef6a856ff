import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, testServer } from '../../../test/helpers/runtime.ts';

/** Zeek and Suricata through the real ingestion path: HTTP, decoding, the source's own framing, the store. */
const zeekFixtures = join(import.meta.dirname, 'fixtures');
const suricataFixtures = join(import.meta.dirname, '../suricata/fixtures');

describe('POST /ingest/zeek and /ingest/suricata', () => {
  let t: TestServer;
  let key: string;
  const post = (source: string, payload: Buffer, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: `/ingest/${source}`,
      payload,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain', ...headers },
    });

  beforeAll(async () => {
    t = await testServer();
    key = await t.key(['ingest', 'read']);
  });
  afterAll(async () => {
    await t.close();
  });

  it('stores a gzip TSV body, header lines and all, with bad lines as dead letters', async () => {
    const tsv = readFileSync(join(zeekFixtures, 'conn-dns.tsv'));
    const r = await post('zeek', gzipSync(tsv), { 'content-encoding': 'gzip' });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ source: 'zeek', received: 10, stored: 8, dead_letters: 2, skipped: 0 });
    expect(r.json().errors.map((e: { field: string }) => e.field)).toEqual(['#fields', 'id.orig_p']);
  });

  it('recognises the TSV connection again when it arrives as JSON, and skips stats', async () => {
    const json = readFileSync(join(zeekFixtures, 'logs.ndjson'));
    const r = await post('zeek', json, { 'content-type': 'application/x-ndjson' });
    expect(r.statusCode).toBe(202);
    // The conn and dns records of CHhAvVGS1DHFjwGM9 / C4J4Th3PJpwUYZZ6gc were stored from TSV already.
    expect(r.json()).toMatchObject({ received: 22, stored: 17, duplicates: 2, dead_letters: 2, skipped: 1 });
  });

  it('stores Suricata EVE and counts stats as skipped', async () => {
    const eve = readFileSync(join(suricataFixtures, 'eve.ndjson'));
    const r = await post('suricata', eve, { 'content-type': 'application/x-ndjson' });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ received: 20, stored: 16, dead_letters: 3, skipped: 1 });
    const again = await post('suricata', eve);
    expect(again.json()).toMatchObject({ stored: 0, duplicates: 16 });
  });
});
