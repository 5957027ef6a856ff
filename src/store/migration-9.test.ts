import { describe, expect, it } from 'vitest';
import { makeAlert, makeIncident } from '../../test/helpers/builders.ts';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import type { Alert } from '../schema/alert.ts';
import { severityRank } from '../schema/common.ts';
import { openStore, Store } from './index.ts';
import { MIGRATIONS, migrate, splitStatements } from './migrations.ts';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import type { SqlClient } from './sql.ts';

const pgReady = await postgresAvailable();

/** An alert row as version 8 wrote it (no alert_search row beside it). */
async function insertV8(client: SqlClient, a: Alert): Promise<void> {
  await client.query(
    `INSERT INTO alerts (id, fingerprint, status, severity, severity_rank, priority, source, rule_ids, incident_id,
                         first_seen, last_seen, created_at, updated_at, doc)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $11, $12, $13::jsonb)`,
    [
      a.id,
      a.fingerprint,
      a.status,
      a.severity,
      severityRank(a.severity),
      a.priority,
      a.source,
      a.detections.map((d) => d.rule_id),
      a.first_seen,
      a.last_seen,
      a.created_at,
      a.updated_at,
      JSON.stringify(a),
    ],
  );
}

const old = [
  makeAlert({
    title: 'Root login from a new ASN',
    mitre_techniques: ['t1078.004', 'T1098'],
    entities: [
      { type: 'user', value: 'Root' },
      { type: 'ip', value: '203.0.113.9' },
    ],
  }),
  makeAlert({ title: 'Quiet one', mitre_techniques: [], entities: [] }),
];

/** What migration 9 must have made of the rows written before it, and that new rows get the same. */
async function checkFilters(store: Store): Promise<void> {
  const fresh = makeAlert({
    title: 'New after the migration',
    source: 'okta',
    mitre_techniques: ['T1078.001'],
    entities: [{ type: 'user', value: 'ROOT' }],
  });
  await store.alerts.upsert([fresh]);
  const ids = async (f: Parameters<Store['alerts']['list']>[0]) =>
    (await store.alerts.list({ ...f, sort: 'time' })).items.map((a) => a.id).sort();
  expect(await ids({ technique: ['T1078'] })).toEqual([old[0]!.id, fresh.id].sort());
  expect(await ids({ technique: ['T1078.004'] })).toEqual([old[0]!.id]);
  expect(await ids({ technique: ['t1098'] })).toEqual([old[0]!.id]);
  expect(await ids({ entity: 'root' })).toEqual([old[0]!.id, fresh.id].sort());
  expect(await ids({ entity: '203.0.113.9' })).toEqual([old[0]!.id]);
  expect(await ids({ q: 'asn' })).toEqual([old[0]!.id]);
  expect(await ids({ q: 'ONE' })).toEqual([old[1]!.id]);
  expect(await ids({ source: ['okta', 'nothing'] })).toEqual([fresh.id]);
  // The stream's change feed reads both tables by (updated_at, id).
  await store.incidents.upsert([makeIncident()]);
  const page = await store.changes.after({ micros: 0n, id: '00000000-0000-0000-0000-000000000000' }, 100);
  expect(page.length).toBe(4);
}

describe('migration 9 (alert_search: the console’s filters over narrow rows)', () => {
  it('makes a search row for each existing alert on the embedded database', async () => {
    const client = await openPglite(undefined);
    try {
      await migrate(client);
      // The template database is fully migrated: take it back to the shape version 8 left.
      await client.exec(`DROP TRIGGER alerts_search ON alerts; DROP FUNCTION aisoc_alert_search();
        DROP FUNCTION aisoc_alert_search_put(alerts); DROP TABLE alert_search; DROP TABLE alert_titles;
        DROP INDEX alerts_updated_idx; DROP INDEX incidents_updated_idx;
        DELETE FROM schema_migrations WHERE version = 9;`);
      for (const a of old) await insertV8(client, a);
      expect(await migrate(client)).toEqual([9]);
      await checkFilters(new Store(client));
    } finally {
      await client.close();
    }
  });

  it.runIf(pgReady)('makes them on PostgreSQL, migrating from version 8', async () => {
    const db = await freshDatabase();
    const client = await openPostgres(db.url);
    try {
      await client.exec(`CREATE TABLE schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const m of MIGRATIONS.filter((x) => x.version <= 8)) {
        for (const statement of splitStatements(m.sql)) await client.query(statement);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
          m.version,
          m.name,
        ]);
      }
      for (const a of old) await insertV8(client, a);
      expect(await migrate(client, { upTo: 9 })).toEqual([9]);
      await checkFilters(new Store(client));
      // The filters read their indexes on PostgreSQL, not every row.
      await client.query('SET enable_seqscan = off');
      const plan = await client.query<Record<string, string>>(
        "EXPLAIN SELECT id FROM alert_search WHERE techniques && ARRAY['T1078'] AND entity_values @> ARRAY['root']",
      );
      const text = plan.rows.map((r) => Object.values(r)[0]).join('\n');
      expect(text).toMatch(/alert_search_(techniques|entity_values)_idx/);
    } finally {
      await client.close();
      await db.drop();
    }
  });

  it('keeps the search row in step with every write to an alert, and removes it with the alert', async () => {
    const store = await openStore({});
    try {
      const a = makeAlert({ title: 'Before', mitre_techniques: ['T1098'] });
      await store.alerts.upsert([a]);
      await store.alerts.upsert([{ ...a, title: 'After', mitre_techniques: ['T1530'], source: 'gcp' }]);
      expect((await store.alerts.list({ q: 'before' })).total).toBe(0);
      expect((await store.alerts.list({ q: 'after', technique: ['T1530'], source: ['gcp'] })).total).toBe(1);
      await store.alerts.setPriority(a.id, 99, new Date().toISOString());
      await store.alerts.setStatus(a.id, 'closed', new Date().toISOString());
      const page = await store.alerts.list({ status: ['closed'] });
      expect(page.items.map((x) => [x.id, x.priority])).toEqual([[a.id, 99]]);
      expect(await store.alerts.delete(a.id)).toBe(true);
      const left = await store.client.query<{ n: unknown }>('SELECT count(*) AS n FROM alert_search');
      expect(Number(left.rows[0]!.n)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('vacuums the search tables on the embedded database once enough rows changed, and only then', async () => {
    const store = await openStore({});
    try {
      expect(await store.maintainEmbedded()).toEqual([]);
      const many = Array.from({ length: 1200 }, (_, i) => makeAlert({ title: `Alert ${i}` }));
      for (let i = 0; i < many.length; i += 400) await store.alerts.upsert(many.slice(i, i + 400));
      expect((await store.maintainEmbedded()).sort()).toEqual(['alert_search', 'alert_titles']);
      expect(await store.maintainEmbedded()).toEqual([]);
      expect((await store.alerts.list({ q: 'alert 1199' })).total).toBe(1);
    } finally {
      await store.close();
    }
  });
});
