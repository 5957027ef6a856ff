import { toPgJson } from '../json.ts';
import { type Queryable, toNumber } from '../sql.ts';

/** One row of the cloud baselines: a part of an identity's calls, first and last seen (ms), and how often. */
export interface BaselineRecord {
  identity: string;
  dim: string;
  value: string;
  first: number;
  last: number;
  count: number;
}

interface DbRow {
  identity: string;
  dim: string;
  value: string;
  first_ms: unknown;
  last_ms: unknown;
  calls: unknown;
}

/**
 * The cloud baselines of noise control (`cloud_baselines`): the correlate
 * stage reads the rows a batch needs and merges what the batch observed, in
 * the batch's transaction under the stage's lock.
 *
 * @example
 * const rows = await tx.baselines.get([{ identity: 'arn:aws:iam::1:user/a', dim: 'api', value: 's3:ListBuckets' }]);
 */
export class BaselineRepository {
  constructor(private readonly db: Queryable) {}

  /** The stored rows of these keys (absent keys have none). */
  async get(
    keys: ReadonlyArray<Pick<BaselineRecord, 'identity' | 'dim' | 'value'>>,
  ): Promise<BaselineRecord[]> {
    if (keys.length === 0) return [];
    const r = await this.db.query<DbRow>(
      `SELECT b.identity, b.dim, b.value, (extract(epoch FROM b.first_seen) * 1000)::float8 AS first_ms,
              (extract(epoch FROM b.last_seen) * 1000)::float8 AS last_ms, b.calls
         FROM jsonb_to_recordset($1::jsonb) AS k(identity text, dim text, value text)
         JOIN cloud_baselines AS b ON b.identity = k.identity AND b.dim = k.dim AND b.value = k.value`,
      [toPgJson(keys.map((k) => ({ identity: k.identity, dim: k.dim, value: k.value })))],
    );
    return r.rows.map((x) => ({
      identity: x.identity,
      dim: x.dim,
      value: x.value,
      first: toNumber(x.first_ms),
      last: toNumber(x.last_ms),
      count: toNumber(x.calls),
    }));
  }

  /** Set these rows as they are after a batch (the caller merged them with what was stored). */
  async put(rows: readonly BaselineRecord[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.query(
      `INSERT INTO cloud_baselines (identity, dim, value, first_seen, last_seen, calls)
       SELECT identity, dim, value, to_timestamp(first_ms / 1000.0), to_timestamp(last_ms / 1000.0), calls
         FROM jsonb_to_recordset($1::jsonb) AS r(identity text, dim text, value text, first_ms float8, last_ms float8, calls bigint)
       ON CONFLICT (identity, dim, value) DO UPDATE SET
         first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen, calls = EXCLUDED.calls`,
      [
        toPgJson(
          rows.map((r) => ({
            identity: r.identity,
            dim: r.dim,
            value: r.value,
            first_ms: r.first,
            last_ms: r.last,
            calls: r.count,
          })),
        ),
      ],
    );
  }

  /**
   * Forget at most `limit` rows last seen more than `keepMs` before the
   * newest row (event time: a pause in the input ages nothing). The row
   * marking when the baselines began stays.
   */
  async prune(keepMs: number, limit: number): Promise<number> {
    const r = await this.db.query(
      `DELETE FROM cloud_baselines WHERE (identity, dim, value) IN (
         SELECT identity, dim, value FROM cloud_baselines
          WHERE dim <> 'baseline'
            AND last_seen < (SELECT max(last_seen) FROM cloud_baselines) - make_interval(secs => $1::double precision / 1000)
          LIMIT $2)`,
      [keepMs, limit],
    );
    return r.rowCount;
  }

  /** Every row, in key order (tests and diagnostics: the table is bounded by pruning, not by this). */
  async list(limit = 10_000): Promise<BaselineRecord[]> {
    const r = await this.db.query<DbRow>(
      `SELECT identity, dim, value, (extract(epoch FROM first_seen) * 1000)::float8 AS first_ms,
              (extract(epoch FROM last_seen) * 1000)::float8 AS last_ms, calls
         FROM cloud_baselines ORDER BY identity, dim, value LIMIT $1`,
      [limit],
    );
    return r.rows.map((x) => ({
      identity: x.identity,
      dim: x.dim,
      value: x.value,
      first: toNumber(x.first_ms),
      last: toNumber(x.last_ms),
      count: toNumber(x.calls),
    }));
  }

  /** Rows held (tests, metrics). */
  async count(): Promise<number> {
    const r = await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM cloud_baselines');
    return toNumber(r.rows[0]?.n);
  }
}
