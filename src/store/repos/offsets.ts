import { type Queryable, toNumber } from '../sql.ts';

/**
 * The pipeline's checkpoints (`pipeline_offsets`): per name, the last log
 * position every stage has processed.
 *
 * @example
 * await store.offsets.set('events', batch.seqTo);
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
