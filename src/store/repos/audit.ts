import type { AuditEntry } from '../../schema/case.ts';
import { toPgJson, toPgText } from '../json.ts';
import { fromJson, isoTime, type Queryable, toNumber } from '../sql.ts';
import { type Row, Where } from './shared.ts';

export type AuditInput = Omit<AuditEntry, 'id' | 'at' | 'details'> & { details?: Record<string, unknown> };

/**
 * The audit log: append-only (a database trigger refuses updates and deletes).
 *
 * @example
 * await store.audit.append({ actor: 'alice', action: 'key.revoke', target_type: 'api_key', target_id: id });
 */
export class AuditRepository {
  constructor(private readonly db: Queryable) {}

  async append(e: AuditInput): Promise<AuditEntry> {
    const r = await this.db.query<Row>(
      `INSERT INTO audit_log (actor, action, target_type, target_id, reason, details)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING id, at`,
      // The log must take every entry: text PostgreSQL refuses (NUL) is replaced, never a reason to lose the entry.
      [
        toPgText(e.actor),
        e.action,
        e.target_type,
        toPgText(e.target_id),
        e.reason === undefined ? null : toPgText(e.reason),
        toPgJson(e.details ?? {}),
      ],
    );
    const row = r.rows[0]!;
    return { ...e, details: e.details ?? {}, id: toNumber(row.id), at: isoTime(row.at) };
  }

  async list(
    f: { target_type?: string; target_id?: string; action?: string; after_id?: number; limit?: number } = {},
  ): Promise<AuditEntry[]> {
    const w = new Where();
    if (f.target_type) w.add('target_type = ?', f.target_type);
    if (f.target_id) w.add('target_id = ?', f.target_id);
    if (f.action) w.add('action = ?', f.action);
    if (f.after_id !== undefined) w.add('id > ?', f.after_id);
    const limit = Math.max(1, Math.min(f.limit ?? 1000, 10_000));
    const r = await this.db.query<Row>(
      `SELECT * FROM audit_log ${w.sql} ORDER BY id LIMIT ${limit}`,
      w.params,
    );
    return r.rows.map((row) => {
      const entry: AuditEntry = {
        id: toNumber(row.id),
        at: isoTime(row.at),
        actor: String(row.actor),
        action: String(row.action),
        target_type: String(row.target_type),
        target_id: String(row.target_id),
        details: fromJson<Record<string, unknown>>(row.details) ?? {},
      };
      if (row.reason != null) entry.reason = String(row.reason);
      return entry;
    });
  }
}
