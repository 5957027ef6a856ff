import type { AlertStatus } from '../../schema/alert.ts';
import type { SeverityName } from '../../schema/common.ts';
import { isoTime, type Queryable, toNumber } from '../sql.ts';
import type { Row } from './shared.ts';

/** A position in the change feed: `updated_at` in microseconds since the epoch, then the record id. */
export interface ChangeCursor {
  micros: bigint;
  id: string;
}

/** Which row changed, and when: what the late-row check reads, without the rows themselves. */
export interface ChangeKey {
  kind: 'alert' | 'incident';
  id: string;
  micros: bigint;
}

/** An alert or incident as the change feed reports it: what a list row shows. */
export interface ChangeRow extends ChangeKey {
  status: AlertStatus | string;
  severity: SeverityName;
  priority: number;
  title: string;
  created_at: string;
  updated_at: string;
}

/** The cursor of a row. */
export function cursorOf(row: ChangeKey): ChangeCursor {
  return { micros: row.micros, id: row.id };
}

/** Order of two cursors: by time, then id (ids are UUIDs, compared as the database compares them: as text of hex). */
export function compareCursors(a: ChangeCursor, b: ChangeCursor): number {
  if (a.micros !== b.micros) return a.micros < b.micros ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

// An alert's title comes from alert_search's dictionary rather than its document, which may be large.
const TABLES = [
  {
    kind: 'alert',
    table: 'alerts',
    from: `alerts LEFT JOIN alert_search AS s USING (id) LEFT JOIN alert_titles AS t ON t.id = s.title_id`,
    title: "COALESCE(t.title, '')",
    cols: 'alerts.id, alerts.status, alerts.severity, alerts.priority, alerts.created_at, alerts.updated_at',
    prefix: 'alerts.',
  },
  {
    kind: 'incident',
    table: 'incidents',
    from: 'incidents',
    title: "COALESCE(doc->>'title', '')",
    cols: 'id, status, severity, priority, created_at, updated_at',
    prefix: '',
  },
] as const;

// Exact: extract() is numeric (PostgreSQL 14+), and a bigint of microseconds back to a time is exact below 2^53.
const MICROS = (p = '') => `(extract(epoch FROM ${p}updated_at) * 1000000)::bigint`;
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
    const out: ChangeRow[] = [];
    for (const t of TABLES) {
      const p = t.prefix;
      const r = await this.db.query<Row>(
        `SELECT ${t.cols}, ${MICROS(p)} AS us, ${t.title} AS title FROM ${t.from}
          WHERE (${p}updated_at, ${p}id) > (${AT('$1')}, $2::uuid)
          ORDER BY ${p}updated_at, ${p}id LIMIT ${pageSize(limit)}`,
        [cursor.micros.toString(), cursor.id],
      );
      for (const row of r.rows) out.push(rowOf(t.kind, row));
    }
    return firstOf(out, limit);
  }

  /**
   * Which rows have `updated_at` after `fromMicros`, up to and including
   * `to`, oldest first, at most `limit`: what the stream looks at again for
   * rows committed late, behind its position. Keys only, from the index.
   */
  async keysBetween(fromMicros: bigint, to: ChangeCursor, limit: number): Promise<ChangeKey[]> {
    const out: ChangeKey[] = [];
    for (const t of TABLES) {
      const r = await this.db.query<Row>(
        `SELECT id::text AS id, ${MICROS()} AS us FROM ${t.table}
          WHERE updated_at > ${AT('$1')} AND (updated_at, id) <= (${AT('$2')}, $3::uuid)
          ORDER BY updated_at, id LIMIT ${pageSize(limit)}`,
        [fromMicros.toString(), to.micros.toString(), to.id],
      );
      for (const row of r.rows)
        out.push({ kind: t.kind, id: String(row.id), micros: BigInt(String(row.us)) });
    }
    return firstOf(out, limit);
  }

  /** The rows of these keys as they are now, oldest change first. */
  async rowsOf(keys: ChangeKey[]): Promise<ChangeRow[]> {
    const out: ChangeRow[] = [];
    for (const t of TABLES) {
      const ids = keys.filter((k) => k.kind === t.kind).map((k) => k.id);
      if (ids.length === 0) continue;
      const p = t.prefix;
      const r = await this.db.query<Row>(
        `SELECT ${t.cols}, ${MICROS(p)} AS us, ${t.title} AS title FROM ${t.from} WHERE ${p}id = ANY($1::uuid[])`,
        [ids],
      );
      for (const row of r.rows) out.push(rowOf(t.kind, row));
    }
    return out.sort((a, b) => compareCursors(cursorOf(a), cursorOf(b)));
  }

  /** The position of the latest change in either table (the start when both are empty). */
  async head(): Promise<ChangeCursor> {
    let best: ChangeCursor = { micros: 0n, id: '00000000-0000-0000-0000-000000000000' };
    for (const t of TABLES) {
      const r = await this.db.query<Row>(
        `SELECT id::text AS id, ${MICROS()} AS us FROM ${t.table} ORDER BY updated_at DESC, id DESC LIMIT 1`,
      );
      const row = r.rows[0];
      if (!row) continue;
      const c = { micros: BigInt(String(row.us)), id: String(row.id) };
      if (compareCursors(c, best) > 0) best = c;
    }
    return best;
  }
}

function pageSize(limit: number): number {
  return Math.max(1, Math.min(10_000, Math.floor(limit)));
}

/** The first `limit` of both tables' pages: among the first `limit` of each, so merging them is enough. */
function firstOf<T extends ChangeKey>(rows: T[], limit: number): T[] {
  return rows.sort((a, b) => compareCursors(cursorOf(a), cursorOf(b))).slice(0, limit);
}
