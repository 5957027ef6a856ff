import type { Suppression } from '../../schema/response.ts';
import { isoTime, type Queryable } from '../sql.ts';
import type { Row } from './shared.ts';

/**
 * Suppressions: a rule muted for one entity until a time.
 *
 * @example
 * const muted = await store.suppressions.active(new Date().toISOString());
 */
export class SuppressionRepository {
  constructor(private readonly db: Queryable) {}

  async insert(s: Suppression): Promise<void> {
    await this.db.query(
      `INSERT INTO suppressions (id, rule_id, entity_type, entity_value, expires_at, reason, created_by, case_id, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        s.id,
        s.rule_id,
        s.entity_type,
        s.entity_value,
        s.expires_at,
        s.reason,
        s.created_by,
        s.case_id ?? null,
        s.created_at,
      ],
    );
  }

  async active(now: string): Promise<Suppression[]> {
    const r = await this.db.query<Row>(
      'SELECT * FROM suppressions WHERE revoked_at IS NULL AND expires_at > $1::timestamptz ORDER BY created_at',
      [now],
    );
    return r.rows.map((row) => {
      const s: Suppression = {
        id: String(row.id),
        rule_id: String(row.rule_id),
        entity_type: String(row.entity_type),
        entity_value: String(row.entity_value),
        expires_at: isoTime(row.expires_at),
        reason: String(row.reason),
        created_by: String(row.created_by),
        created_at: isoTime(row.created_at),
      };
      if (row.case_id != null) s.case_id = String(row.case_id);
      return s;
    });
  }

  async revoke(id: string): Promise<boolean> {
    const r = await this.db.query(
      'UPDATE suppressions SET revoked_at = now() WHERE id::text = $1 AND revoked_at IS NULL',
      [id],
    );
    return r.rowCount > 0;
  }
}
