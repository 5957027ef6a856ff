import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/helpers/builders.ts';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import { tempDir } from '../../test/helpers/runtime.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import { Store } from './index.ts';
import { migrate } from './migrations.ts';
import { openPglite, TEMPLATE_ENV } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import { DAY_MS, dayStart, partitionName } from './repos/event-partitions.ts';
import type { SqlClient } from './sql.ts';

/*
 * Migration 7 on a database that already holds events in the table of
 * migration 1: every row moves into the partitioned table with its log
 * position, and the sequence goes on from where it was.
 */

const pgReady = await postgresAvailable();
const today = dayStart(Date.now());
const at = (days: number) => new Date(today + days * DAY_MS + 9 * 3_600_000).toISOString();

/** Rows as migration 1's table took them (the repository's insert before migration 7). */
async function insertOld(db: SqlClient, events: NormalisedEvent[]): Promise<number[]> {
  const r = await db.query<{ seq: unknown }>(
    `INSERT INTO events (id, source, source_event_id, time, ingested_at, class_uid, severity_id, doc, raw)
     SELECT (e->>'id')::uuid, e->>'source', e->>'source_event_id', (e->>'time')::timestamptz,
            (e->>'ingested_at')::timestamptz, (e->>'class_uid')::int, (e->>'severity_id')::int, e->'doc', e->'raw'
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n RETURNING seq`,
    [
      JSON.stringify(
        events.map(({ raw, ...doc }) => ({
          ...doc,
          source_event_id: doc.source_event_id ?? null,
          doc,
          raw: raw ?? null,
        })),
      ),
    ],
  );
  return r.rows.map((row) => Number(row.seq));
}

async function checkMigration(db: SqlClient): Promise<void> {
  await migrate(db, { upTo: 6 });
  const events = [
    makeEvent({ source: 'mig', time: at(-3), src_endpoint: { ip: '::FFFF:10.1.2.3' } }),
    makeEvent({ source: 'mig', time: at(-3), dst_endpoint: { ip: '2001:DB8:0:0::1' }, raw: 'a syslog line' }),
    makeEvent({
      source: 'mig',
      time: at(-200),
      src_endpoint: { ip: 'not-an-ip' },
      dst_endpoint: { ip: '010.0.0.1' },
      device: { hostname: 'Web-01' },
    }),
    makeEvent({ source: 'mig', time: at(0), src_endpoint: { ip: '10.0.0.0/8' } }),
  ];
  const seqs = await insertOld(db, events);
  // A purged row: the sequence is ahead of the highest row left.
  const [purged] = await insertOld(db, [makeEvent({ source: 'mig' })]);
  await db.query('DELETE FROM events WHERE seq = $1', [purged]);

  expect(await migrate(db)).toContain(7);
  const store = new Store(db);
  expect(await store.events.count({ source: 'mig' })).toBe(4);
  const after = await store.events.afterSeq(0, 100);
  expect(after.map((r) => [r.seq, r.event.id])).toEqual(events.map((e, i) => [seqs[i], e.id]));
  for (const e of events) expect(await store.events.get(e.id)).toEqual(e);
  const names = await store.events.partitionNames();
  expect(names).toEqual(
    expect.arrayContaining(['events_catchall', partitionName(today), partitionName(today - 3 * DAY_MS)]),
  );
  expect(names).not.toContain(partitionName(today - 200 * DAY_MS));
  // The log goes on after the purged row, and a re-ingested event is a duplicate wherever it was put.
  const fresh = makeEvent({ source: 'mig', time: at(-1) });
  const r = await store.events.insert([...events, fresh]);
  expect(r.duplicates).toBe(4);
  expect(r.stored[0]!.seq).toBeGreaterThan(seqs[3]! + 1);
  // Addresses were read as the repository reads them: IPv4-mapped as IPv4, canonical IPv6, no names or prefixes.
  const ids = async (ip: string) =>
    (await store.events.list({ source: 'mig', ip })).items.map((e) => e.id).sort();
  expect(await ids('10.1.2.3')).toEqual([events[0]!.id]);
  expect(await ids('2001:db8::1')).toEqual([events[1]!.id]);
  expect(await ids('10.0.0.0/8')).toEqual([events[0]!.id]);
  expect((await store.events.list({ source: 'mig', host: 'web-01' })).items.map((e) => e.id)).toEqual([
    events[2]!.id,
  ]);
}

describe('migration 7: events move into the partitioned table', () => {
  it('on PGlite', async () => {
    const { dir, cleanup } = tempDir();
    // A template is a database migrated to the end: this test needs one made by initdb and migrated to 6.
    const template = process.env[TEMPLATE_ENV];
    delete process.env[TEMPLATE_ENV];
    let db: SqlClient | undefined;
    try {
      db = await openPglite(`${dir}/pg`);
      await checkMigration(db);
    } finally {
      if (template !== undefined) process.env[TEMPLATE_ENV] = template;
      await db?.close();
      cleanup();
    }
  }, 300_000);

  it.runIf(pgReady)('on PostgreSQL', async () => {
    const fresh = await freshDatabase();
    const db = await openPostgres(fresh.url);
    try {
      await checkMigration(db);
    } finally {
      await db.close();
      await fresh.drop();
    }
  });
});
