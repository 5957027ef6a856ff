import { toPgJson } from '../json.ts';
import { fromJson, type Queryable, toNumber } from '../sql.ts';
import type { Row } from './shared.ts';

/** The correlate stage's row, as {@link CorrelationWindowRepository.lock} reads it. */
export interface CorrelateHead {
  /** Saves of the windows so far. */
  version: number;
  /** Deleted groups saved below this version are forgotten: a process that last saw an older version reloads all. */
  prunedBelow: number;
  /** detector → window → latest event time (ms). */
  watermarks: Record<string, Record<string, number>>;
}

/** One window group as stored; `state` null when the group is gone. */
export interface StoredWindowGroup {
  detector: string;
  window: string;
  key: string;
  /** Event time of the group's latest match, ms. */
  last: number;
  state: unknown;
}

/** Rows per upsert statement. */
const SLICE = 500;

/**
 * The correlate stage's shared state (`correlate_state`, `correlation_windows`):
 * the lock that makes correlate batches run one at a time across processes,
 * and the Sigma correlation windows, saved with a version so a process
 * reloads only what others changed.
 *
 * @example
 * await store.transaction(async (tx) => {
 *   const head = await tx.correlation.lock();
 *   const changed = await tx.correlation.changedSince(myVersion);
 * });
 */
export class CorrelationWindowRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * Lock the correlate stage until the transaction ends and read its row.
   * Call it first in the transaction: on PostgreSQL (read committed) every
   * later statement then sees what the previous holder committed.
   */
  async lock(): Promise<CorrelateHead> {
    const r = await this.db.query<Row>(
      'SELECT version, pruned_below, watermarks FROM correlate_state WHERE id = 1 FOR UPDATE',
    );
    const row = r.rows[0];
    if (!row) throw new Error('correlate_state has no row: the store is not migrated');
    return {
      version: toNumber(row.version),
      prunedBelow: toNumber(row.pruned_below),
      watermarks: fromJson<Record<string, Record<string, number>>>(row.watermarks) ?? {},
    };
  }

  /** Every live group, least recently updated first (a full reload). */
  async all(): Promise<StoredWindowGroup[]> {
    const r = await this.db.query<Row>(
      `SELECT detector, correlation_id, group_key, last_ms, state FROM correlation_windows
       WHERE state IS NOT NULL ORDER BY last_ms, version`,
    );
    return r.rows.map(toGroup);
  }

  /** Groups saved after `version`, deleted ones included (state null), in the order they were saved. */
  async changedSince(version: number): Promise<StoredWindowGroup[]> {
    const r = await this.db.query<Row>(
      `SELECT detector, correlation_id, group_key, last_ms, state FROM correlation_windows
       WHERE version > $1 ORDER BY version, last_ms`,
      [version],
    );
    return r.rows.map(toGroup);
  }

  /**
   * Save changed groups (state null: deleted) as `version`, with the
   * watermarks when given, and make `version` current. Caller holds the lock.
   */
  async save(
    version: number,
    groups: readonly StoredWindowGroup[],
    watermarks?: Record<string, Record<string, number>>,
  ): Promise<void> {
    for (let i = 0; i < groups.length; i += SLICE) {
      const rows = groups.slice(i, i + SLICE).map((g) => ({
        d: g.detector,
        c: g.window,
        k: g.key,
        l: Math.trunc(g.last),
        s: g.state ?? null,
      }));
      await this.db.query(
        `INSERT INTO correlation_windows (detector, correlation_id, group_key, last_ms, version, state)
         SELECT r->>'d', r->>'c', r->>'k', (r->>'l')::bigint, $2, CASE WHEN jsonb_typeof(r->'s') = 'null' THEN NULL ELSE r->'s' END
         FROM jsonb_array_elements($1::jsonb) AS t(r)
         ON CONFLICT (detector, correlation_id, group_key) DO UPDATE
           SET last_ms = EXCLUDED.last_ms, version = EXCLUDED.version, state = EXCLUDED.state`,
        [toPgJson(rows), version],
      );
    }
    if (watermarks)
      await this.db.query(
        'UPDATE correlate_state SET version = $1, watermarks = $2::jsonb, updated_at = now() WHERE id = 1',
        [version, toPgJson(watermarks)],
      );
    else
      await this.db.query('UPDATE correlate_state SET version = $1, updated_at = now() WHERE id = 1', [
        version,
      ]);
  }

  /**
   * Forget deleted groups saved before `below` (at most `limit` rows) and
   * record it: a process that last saw an older version reloads every
   * window. Caller holds the lock. Returns the rows removed.
   */
  async pruneDeleted(below: number, limit: number): Promise<number> {
    const r = await this.db.query(
      `DELETE FROM correlation_windows WHERE (detector, correlation_id, group_key) IN (
         SELECT detector, correlation_id, group_key FROM correlation_windows
         WHERE state IS NULL AND version < $1 LIMIT $2)`,
      [below, limit],
    );
    await this.db.query('UPDATE correlate_state SET pruned_below = GREATEST(pruned_below, $1) WHERE id = 1', [
      below,
    ]);
    return r.rowCount;
  }

  /** Live groups (tests, metrics). */
  async count(): Promise<number> {
    const r = await this.db.query<{ n: unknown }>(
      'SELECT count(*) AS n FROM correlation_windows WHERE state IS NOT NULL',
    );
    return toNumber(r.rows[0]?.n);
  }
}

function toGroup(row: Row): StoredWindowGroup {
  return {
    detector: String(row.detector),
    window: String(row.correlation_id),
    key: String(row.group_key),
    last: toNumber(row.last_ms),
    state: row.state == null ? null : fromJson<unknown>(row.state),
  };
}
