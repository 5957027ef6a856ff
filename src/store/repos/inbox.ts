import { type Queryable, toNumber } from '../sql.ts';

/**
 * The keys of the items a stage has processed (`stage_inbox`), recorded in
 * the transaction of the item's effects: a stage asks which of a batch's
 * keys it has seen and skips those, so a redelivered item changes nothing.
 *
 * @example
 * const seen = await tx.inbox.seen('correlate', keys);
 * await tx.inbox.record('correlate', keys.filter((k) => !seen.has(k)));
 */
export class StageInboxRepository {
  constructor(private readonly db: Queryable) {}

  /** Of `keys`, those already recorded for `stage`. */
  async seen(stage: string, keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const r = await this.db.query<{ key: string }>(
      'SELECT key FROM stage_inbox WHERE stage = $1 AND key = ANY($2::text[])',
      [stage, keys],
    );
    return new Set(r.rows.map((row) => row.key));
  }

  /** Record keys as processed by `stage` at `at` (default: now; a key recorded already is left as it is). */
  async record(stage: string, keys: readonly string[], at?: string): Promise<void> {
    if (keys.length === 0) return;
    await this.db.query(
      `INSERT INTO stage_inbox (stage, key, at)
       SELECT $1, k, COALESCE($3::timestamptz, now()) FROM unnest($2::text[]) AS t(k)
       ON CONFLICT (stage, key) DO NOTHING`,
      [stage, keys, at ?? null],
    );
  }

  /**
   * Forget at most `limit` keys of `stage` recorded more than `keepMs` before
   * its newest key. Measured from the newest key, not the clock, so a
   * process that was down for longer than `keepMs` still recognises what it
   * is sent again on its return: keys age only while new ones come.
   */
  async prune(stage: string, keepMs: number, limit: number): Promise<number> {
    const r = await this.db.query(
      `DELETE FROM stage_inbox WHERE stage = $1 AND key IN (
         SELECT key FROM stage_inbox WHERE stage = $1
           AND at < (SELECT max(at) FROM stage_inbox WHERE stage = $1) - make_interval(secs => $2::double precision / 1000)
         LIMIT $3)`,
      [stage, keepMs, limit],
    );
    return r.rowCount;
  }

  /** Keys recorded for `stage` (tests). */
  async count(stage: string): Promise<number> {
    const r = await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM stage_inbox WHERE stage = $1', [
      stage,
    ]);
    return toNumber(r.rows[0]?.n);
  }
}
