import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, testServer } from '../../../test/helpers/runtime.ts';

/** Windows events without a record number through the real ingestion path: their content is their id. */
const lines = readFileSync(join(import.meta.dirname, 'fixtures', 'otrf.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean);
const scriptBlock = lines.find((l) => l.includes('"EventID":4104'))!;

describe('POST /ingest/windows: events without a record number', () => {
  let t: TestServer;
  let key: string;
  const post = (body: string) =>
    t.app.inject({
      method: 'POST',
      url: '/ingest/windows',
      payload: body,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
    });

  beforeAll(async () => {
    t = await testServer();
    key = await t.key(['ingest', 'read']);
  });
  afterAll(async () => {
    await t.close();
  });

  it('stores the same event sent twice once, under its content id', async () => {
    expect(JSON.parse(scriptBlock)).not.toHaveProperty('RecordNumber');
    const first = await post(scriptBlock);
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({ received: 1, stored: 1, duplicates: 0 });
    // Again, with its keys in another order and a shipper's field added: the same event.
    const reordered = Object.fromEntries(Object.entries(JSON.parse(scriptBlock)).reverse());
    const again = await post(`${JSON.stringify({ ...reordered, '@version': '1' })}\n${scriptBlock}`);
    expect(again.json()).toMatchObject({ received: 2, stored: 0, duplicates: 2 });
    await t.runtime.runner.drain();
    const page = await t.app.inject({
      method: 'GET',
      url: '/events?source=windows',
      headers: { authorization: `Bearer ${key}` },
    });
    const items = page.json().items as Array<{ source_event_id?: string }>;
    expect(items).toHaveLength(1);
    expect(items[0]!.source_event_id).toMatch(/^sha256:[0-9a-f]{32}$/);
  });
});
