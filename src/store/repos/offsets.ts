import { type Queryable, toNumber } from '../sql.ts';

/**
 * The pipeline's checkpoints (`pipeline_offsets`): one row per consumer,
 * named for it, holding the last log position that consumer has processed.
 * Consumers never share a row: each reads and advances its own (the
 * embedded runner's is `embedded-runner`, written after a batch has passed
 * every stage).
 *
 * @example
 * await store.offsets.set('embedded-runner', batch.seqTo);
 */
export class OffsetRepository {
  constructor(private readonly db: Queryable) {}

  /** The checkpoint, 0 when none has been written. */
  async get(name: string): Promise<number> {
    const r = await this.db.query<{ seq: unknown }>('SELECT seq FROM pipeline_offsets WHERE name = $1', [
      name,
    ]);
    return r.rows[0] ? toNumber(r.rows[0].seq) : 0;
  }

  async set(name: string, seq: number): Promise<void> {
    await this.db.query(
      `INSERT INTO pipeline_offsets (name, seq, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq, updated_at = now()`,
      [name, seq],
    );
  }
}
