import { toPgJson } from '../json.ts';
import { fromJson, type Queryable } from '../sql.ts';
import type { Row } from './shared.ts';

/**
 * Small pieces of state by key, as JSON (a follower's file position, …).
 *
 * @example
 * await store.kv.set('follow:/var/log/eve.json', { offset: 1024 });
 */
export class KvRepository {
  constructor(private readonly db: Queryable) {}

  async get<T>(key: string): Promise<T | undefined> {
    const r = await this.db.query<Row>('SELECT value FROM kv WHERE key = $1', [key]);
    return r.rows[0] ? fromJson<T>(r.rows[0].value) : undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    await this.db.query(
      `INSERT INTO kv (key, value, updated_at) VALUES ($1, $2::jsonb, now())
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [key, toPgJson(value)],
    );
  }

  async delete(key: string): Promise<void> {
    await this.db.query('DELETE FROM kv WHERE key = $1', [key]);
  }
}
