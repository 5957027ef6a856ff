import { describe, expect, it } from 'vitest';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import { uuidv7 } from '../ids.ts';
import { MIGRATIONS, migrate, splitStatements } from './migrations.ts';
import { openPostgres } from './postgres.ts';

const pgReady = await postgresAvailable();

/** Migration 6 on a database written by the version before it: existing data keeps working. */
describe.runIf(pgReady)('migration 6 (shared PostgreSQL)', () => {
  it("renames the embedded runner's checkpoint and gives each run and step its newest request", async () => {
    const db = await freshDatabase();
    const client = await openPostgres(db.url);
    try {
      // The schema as version 5 left it.
      await client.exec(`CREATE TABLE schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const m of MIGRATIONS.filter((x) => x.version <= 5)) {
        for (const statement of splitStatements(m.sql)) await client.query(statement);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
          m.version,
          m.name,
        ]);
      }
      await client.query("INSERT INTO pipeline_offsets (name, seq) VALUES ('events', 42)");
      await client.query("INSERT INTO work_queue (topic, key, payload) VALUES ('triage', 'alert:1', '{}')");
      const run = uuidv7();
      const request = async (step: string, at: string, status = 'failed') => {
        const id = uuidv7();
        await client.query(
          `INSERT INTO action_requests (id, idempotency_key, type, effect, status, dry_run, requested_by, run_id,
                                        created_at, updated_at, doc)
           VALUES ($1, $2, 'test.notify', 'read-only', $3, false, 'playbook:p', $4, $5, $5, $6::jsonb)`,
          [id, `k-${id}`, status, run, at, JSON.stringify({ id, step_id: step })],
        );
        return id;
      };
      // A step asked twice before (a failed request, then a new one), and a step asked once.
      const older = await request('notify', '2025-01-01T00:00:00Z');
      const newer = await request('notify', '2025-01-01T00:01:00Z', 'succeeded');
      const single = await request('contain', '2025-01-01T00:02:00Z');

      expect(await migrate(client)).toContain(6);

      const offsets = await client.query<{ name: string; seq: unknown }>(
        'SELECT name, seq FROM pipeline_offsets',
      );
      expect(offsets.rows.map((r) => [r.name, Number(r.seq)])).toEqual([['embedded-runner', 42]]);
      const steps = await client.query<{ id: string; step_id: string | null }>(
        'SELECT id::text AS id, step_id FROM action_requests',
      );
      const byId = new Map(steps.rows.map((r) => [r.id, r.step_id]));
      expect([byId.get(older), byId.get(newer), byId.get(single)]).toEqual([null, 'notify', 'contain']);
      const item = await client.query<{ version: unknown; claims: unknown; claimed_by: unknown }>(
        'SELECT version, claims, claimed_by FROM work_queue',
      );
      expect(item.rows.map((r) => [Number(r.version), Number(r.claims), r.claimed_by])).toEqual([
        [1, 0, null],
      ]);
    } finally {
      await client.close();
      await db.drop();
    }
  });
});
