import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/helpers/builders.ts';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import { Store } from './index.ts';
import { migrate } from './migrations.ts';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import { dayStart, partitionName } from './repos/event-partitions.ts';
import type { SqlClient } from './sql.ts';

const pgReady = await postgresAvailable();

/** `toast_tuple_target` of each partition of the events table (undefined where it is not set). */
async function targets(client: SqlClient): Promise<Record<string, string | undefined>> {
  const r = await client.query<{ name: string; opts: string[] | null }>(
    `SELECT c.relname AS name, c.reloptions AS opts FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'events'::regclass`,
  );
  return Object.fromEntries(
    r.rows.map((row) => [
      row.name,
      row.opts?.find((o) => o.startsWith('toast_tuple_target='))?.split('=')[1],
    ]),
  );
}

describe('migration 11 (event rows inline on the embedded database)', () => {
  it('sets every existing partition of the embedded database, and new ones are made so', async () => {
    const client = await openPglite(undefined);
    try {
      await migrate(client);
      // The template database is fully migrated: take it back to what version 10 left, with a day partition.
      await client.exec(`ALTER TABLE events_catchall RESET (toast_tuple_target);
        DELETE FROM schema_migrations WHERE version = 11;`);
      const store = new Store(client);
      await store.events.insert([makeEvent({ time: new Date().toISOString() })]);
      const today = partitionName(dayStart(Date.now()));
      await client.exec(`ALTER TABLE ${today} RESET (toast_tuple_target)`);
      expect((await targets(client))[today]).toBeUndefined();
      expect(await migrate(client)).toEqual([11]);
      const after = await targets(client);
      expect(after.events_catchall).toBe('8160');
      expect(after[today]).toBe('8160');
      // A day made after the migration.
      const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
      await store.events.insert([makeEvent({ time: old })]);
      expect((await targets(client))[partitionName(dayStart(Date.parse(old)))]).toBe('8160');
    } finally {
      await client.close();
    }
  });

  it.runIf(pgReady)('leaves a PostgreSQL server’s partitions at its defaults', async () => {
    const db = await freshDatabase();
    const client = await openPostgres(db.url);
    try {
      await migrate(client);
      await new Store(client).events.insert([makeEvent({ time: new Date().toISOString() })]);
      expect(Object.values(await targets(client)).every((t) => t === undefined)).toBe(true);
    } finally {
      await client.close();
      await db.drop();
    }
  });
});
