import type { AlertStatus } from '../../schema/alert.ts';
import type { SeverityName } from '../../schema/common.ts';
import { isoTime, type Queryable, toNumber } from '../sql.ts';
import type { Row } from './shared.ts';

/** A position in the change feed: `updated_at` in microseconds since the epoch, then the record id. */
export interface ChangeCursor {
  micros: bigint;
  id: string;
}

/** An alert or incident as the change feed reports it: what a list row shows. */
export interface ChangeRow {
  kind: 'alert' | 'incident';
  id: string;
  micros: bigint;
  status: AlertStatus | string;
  severity: SeverityName;
  priority: number;
  title: string;
  created_at: string;
  updated_at: string;
}

/** The cursor of a row. */
export function cursorOf(row: ChangeRow): ChangeCursor {
  return { micros: row.micros, id: row.id };
}

/** Order of two cursors: by time, then id (ids are UUIDs, compared as the database compares them: as text of hex). */
export function compareCursors(a: ChangeCursor, b: ChangeCursor): number {
  if (a.micros !== b.micros) return a.micros < b.micros ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const TABLES = [
  { kind: 'alert', table: 'alerts', title: "COALESCE(doc->>'title', '')" },
  { kind: 'incident', table: 'incidents', title: "COALESCE(doc->>'title', '')" },
] as const;

// Exact: extract() is numeric (PostgreSQL 14+), and a bigint of microseconds back to a time is exact below 2^53.
const MICROS = '(extract(epoch FROM updated_at) * 1000000)::bigint';
const AT = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 microsecond')`;

function rowOf(kind: 'alert' | 'incident', r: Row): ChangeRow {
  return {
    kind,
    id: String(r.id),
    micros: BigInt(String(r.us)),
    status: String(r.status),
    severity: String(r.severity) as SeverityName,
    priority: toNumber(r.priority),
    title: String(r.title ?? ''),
    created_at: isoTime(r.created_at),
    updated_at: isoTime(r.updated_at),
  };
}

/**
 * Alerts and incidents in the order they last changed, `(updated_at, id)`
 * (an index in each table, migration 9): what `GET /stream` feeds its
 * clients from. One page merges both tables: the first `limit` rows of the
 * union are among the first `limit` rows of each.
 *
 * @example
 * const rows = await store.changes.after(await store.changes.head(), 500);
 */
export class ChangeFeedRepository {
  constructor(private readonly db: Queryable) {}

  /** Rows that changed after `cursor`, oldest first, at most `limit`. */
  async after(cursor: ChangeCursor, limit: number): Promise<ChangeRow[]> {
    return this.merged(limit, `(updated_at, id) > (${AT('$1')}, $2::uuid)`, [
      cursor.micros.toString(),
      cursor.id,
    ]);
  }

  /**
   * Rows with `updated_at` after `fromMicros` up to and including `to`,
   * oldest first, at most `limit`: rows committed late, with a time before
   * the feed's position (a transaction that took its time after choosing it).
   */
  async between(fromMicros: bigint, to: ChangeCursor, limit: number): Promise<ChangeRow[]> {
    return this.merged(limit, `updated_at > ${AT('$1')} AND (updated_at, id) <= (${AT('$2')}, $3::uuid)`, [
      fromMicros.toString(),
      to.micros.toString(),
      to.id,
    ]);
  }

  /** The position of the latest change in either table (the start when both are empty). */
  async head(): Promise<ChangeCursor> {
    let best: ChangeCursor = { micros: 0n, id: '00000000-0000-0000-0000-000000000000' };
    for (const t of TABLES) {
      const r = await this.db.query<Row>(
        `SELECT id::text AS id, ${MICROS} AS us FROM ${t.table} ORDER BY updated_at DESC, id DESC LIMIT 1`,
      );
      const row = r.rows[0];
      if (!row) continue;
      const c = { micros: BigInt(String(row.us)), id: String(row.id) };
      if (compareCursors(c, best) > 0) best = c;
    }
    return best;
  }

  private async merged(limit: number, where: string, params: unknown[]): Promise<ChangeRow[]> {
    const out: ChangeRow[] = [];
    for (const t of TABLES) {
      const r = await this.db.query<Row>(
        `SELECT id::text AS id, ${MICROS} AS us, status, severity, priority, ${t.title} AS title, created_at, updated_at
           FROM ${t.table} WHERE ${where} ORDER BY updated_at, id LIMIT ${Math.max(1, Math.floor(limit))}`,
        params,
      );
      for (const row of r.rows) out.push(rowOf(t.kind, row));
    }
    out.sort((a, b) => compareCursors(cursorOf(a), cursorOf(b)));
    return out.slice(0, limit);
  }
}
