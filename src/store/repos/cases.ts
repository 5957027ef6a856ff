import type { Case } from '../../schema/case.ts';
import { toPgJson } from '../json.ts';
import { fromJson, type Queryable, toNumber } from '../sql.ts';
import { clampLimit, type ListResult, type Row, Where } from './shared.ts';

/**
 * The cases table: at most one open case per incident (a partial unique index).
 *
 * @example
 * const open = await store.cases.openForIncident(incident.id);
 */
export class CaseRepository {
  constructor(private readonly db: Queryable) {}

  async upsert(c: Case): Promise<void> {
    await this.db.query(
      `INSERT INTO cases (id, incident_id, status, created_at, updated_at, doc) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
       ON CONFLICT (id) DO UPDATE SET incident_id = EXCLUDED.incident_id, status = EXCLUDED.status,
         updated_at = EXCLUDED.updated_at, doc = EXCLUDED.doc`,
      [c.id, c.incident_id ?? null, c.status, c.created_at, c.updated_at, toPgJson(c)],
    );
  }

  /**
   * Store a new case. `origin` names what opened it (a playbook run and
   * step): a case per origin, so a second pass over the same step cannot
   * open another (the insert fails on the unique index instead).
   */
  async insert(c: Case, origin?: string): Promise<void> {
    await this.db.query(
      `INSERT INTO cases (id, incident_id, status, created_at, updated_at, doc, origin)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)`,
      [c.id, c.incident_id ?? null, c.status, c.created_at, c.updated_at, toPgJson(c), origin ?? null],
    );
  }

  /** The case a playbook run's step opened, whatever its status now. */
  async byOrigin(origin: string): Promise<Case | undefined> {
    const r = await this.db.query<Row>('SELECT doc FROM cases WHERE origin = $1', [origin]);
    return r.rows[0] ? fromJson<Case>(r.rows[0].doc) : undefined;
  }

  /**
   * Write a changed case only if it is still as read (its stored
   * `updated_at` is `expectedUpdatedAt`): a writer working from an older
   * read gets false and reads again, instead of undoing another's change.
   */
  async replace(c: Case, expectedUpdatedAt: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE cases SET incident_id = $2, status = $3, updated_at = $4, doc = $5::jsonb
        WHERE id = $1 AND updated_at = $6::timestamptz`,
      [c.id, c.incident_id ?? null, c.status, c.updated_at, toPgJson(c), expectedUpdatedAt],
    );
    return r.rowCount > 0;
  }

  async get(id: string): Promise<Case | undefined> {
    const r = await this.db.query<Row>('SELECT doc FROM cases WHERE id = $1', [id]);
    return r.rows[0] ? fromJson<Case>(r.rows[0].doc) : undefined;
  }

  async openForIncident(incidentId: string): Promise<Case | undefined> {
    const r = await this.db.query<Row>(
      "SELECT doc FROM cases WHERE incident_id = $1 AND status <> 'closed'",
      [incidentId],
    );
    return r.rows[0] ? fromJson<Case>(r.rows[0].doc) : undefined;
  }

  async list(f: { status?: string[]; limit?: number; offset?: number } = {}): Promise<ListResult<Case>> {
    const w = new Where();
    if (f.status?.length) w.add('status = ANY(?::text[])', f.status);
    const limit = clampLimit(f.limit);
    const offset = Math.max(0, f.offset ?? 0);
    const total = await this.db.query<{ n: unknown }>(`SELECT count(*) AS n FROM cases ${w.sql}`, w.params);
    const rows = await this.db.query<Row>(
      `SELECT doc FROM cases ${w.sql} ORDER BY updated_at DESC, id LIMIT ${limit} OFFSET ${offset}`,
      w.params,
    );
    return { items: rows.rows.map((r) => fromJson<Case>(r.doc)), total: toNumber(total.rows[0]?.n) };
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM cases WHERE id = $1', [id]);
    return r.rowCount > 0;
  }
}
