import { toPgJson } from '../json.ts';
import { fromJson, type Queryable, toNumber } from '../sql.ts';
import type { Row } from './shared.ts';

/**
 * The durable work queue (`work_queue`): one pending item per topic and
 * key, retried later with the error that put it back.
 *
 * @example
 * await store.work.enqueue('triage', `alert:${alert.id}`, { type: 'alert', id: alert.id });
 */
export class WorkQueueRepository {
  constructor(private readonly db: Queryable) {}

  /** Enqueue (or refresh) one item per topic and key; a pending item is not duplicated. */
  async enqueue(topic: string, key: string, payload: unknown): Promise<void> {
    await this.db.query(
      `INSERT INTO work_queue (topic, key, payload) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (topic, key) DO UPDATE SET payload = EXCLUDED.payload`,
      [topic, key, toPgJson(payload)],
    );
  }

  /** Items of a topic that are due, oldest first. */
  async due(
    topic: string,
    limit: number,
  ): Promise<Array<{ id: number; key: string; payload: unknown; attempts: number }>> {
    const r = await this.db.query<Row>(
      `SELECT id, key, payload, attempts FROM work_queue WHERE topic = $1 AND available_at <= now() ORDER BY id LIMIT $2`,
      [topic, limit],
    );
    return r.rows.map((row) => ({
      id: toNumber(row.id),
      key: String(row.key),
      payload: fromJson(row.payload),
      attempts: toNumber(row.attempts),
    }));
  }

  async done(id: number): Promise<void> {
    await this.db.query('DELETE FROM work_queue WHERE id = $1', [id]);
  }

  /** Put an item back for a later attempt, recording why it failed. */
  async retryLater(id: number, delayMs: number, error: string): Promise<void> {
    await this.db.query(
      `UPDATE work_queue SET attempts = attempts + 1, last_error = $2,
         available_at = now() + ($3::text || ' milliseconds')::interval WHERE id = $1`,
      [id, error.slice(0, 2000), String(Math.max(0, Math.round(delayMs)))],
    );
  }

  async count(topic?: string): Promise<number> {
    const r = topic
      ? await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM work_queue WHERE topic = $1', [topic])
      : await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM work_queue');
    return toNumber(r.rows[0]?.n);
  }
}
