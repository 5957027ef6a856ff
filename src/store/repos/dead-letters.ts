import type { DeadLetter } from '../../schema/case.ts';
import { toPgJson } from '../json.ts';
import { isoTime, type Queryable, toNumber } from '../sql.ts';
import { clampLimit, type ListResult, type Row, Where } from './shared.ts';

export type DeadLetterInput = Omit<DeadLetter, 'id' | 'at'>;

/**
 * The dead letters table: records a source or a stage could not take, with the reason.
 *
 * @example
 * const { items } = await store.deadLetters.list({ source: 'cloudtrail' });
 */
export class DeadLetterRepository {
  constructor(private readonly db: Queryable) {}

  async insert(items: DeadLetterInput[]): Promise<void> {
    if (items.length === 0) return;
    await this.db.query(
      `INSERT INTO dead_letters (source, stage, code, reason, field, record)
       SELECT e->>'source', e->>'stage', e->>'code', e->>'reason', e->>'field', e->>'record'
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n`,
      [toPgJson(items)],
    );
  }

  async list(
    f: { source?: string; stage?: string; limit?: number; offset?: number } = {},
  ): Promise<ListResult<DeadLetter>> {
    const w = new Where();
    if (f.source) w.add('source = ?', f.source);
    if (f.stage) w.add('stage = ?', f.stage);
    const limit = clampLimit(f.limit);
    const offset = Math.max(0, f.offset ?? 0);
    const total = await this.db.query<{ n: unknown }>(
      `SELECT count(*) AS n FROM dead_letters ${w.sql}`,
      w.params,
    );
    const r = await this.db.query<Row>(
      `SELECT * FROM dead_letters ${w.sql} ORDER BY id DESC LIMIT ${limit} OFFSET ${offset}`,
      w.params,
    );
    const items = r.rows.map((row) => {
      const d: DeadLetter = {
        id: toNumber(row.id),
        at: isoTime(row.at),
        source: String(row.source),
        stage: String(row.stage),
        code: String(row.code),
        reason: String(row.reason),
        record: String(row.record),
      };
      if (row.field != null) d.field = String(row.field);
      return d;
    });
    return { items, total: toNumber(total.rows[0]?.n) };
  }

  async count(): Promise<number> {
    const r = await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM dead_letters');
    return toNumber(r.rows[0]?.n);
  }
}
