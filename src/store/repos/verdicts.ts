import type { StoredVerdict } from '../../schema/verdict.ts';
import { toPgJson } from '../json.ts';
import { fromJson, type Queryable } from '../sql.ts';
import type { Row } from './shared.ts';

/**
 * The verdicts table: every analysis of an alert, newest last; also the analyst's cache.
 *
 * @example
 * const latest = await store.verdicts.latestFor(alert.id);
 */
export class VerdictRepository {
  constructor(private readonly db: Queryable) {}

  async insert(v: StoredVerdict): Promise<void> {
    await this.db.query(
      'INSERT INTO verdicts (id, alert_id, fingerprint, cache_key, created_at, doc) VALUES ($1, $2, $3, $4, $5, $6::jsonb)',
      [v.id, v.alert_id, v.fingerprint ?? null, v.cache_key ?? null, v.created_at, toPgJson(v)],
    );
  }

  async get(id: string): Promise<StoredVerdict | undefined> {
    const r = await this.db.query<Row>('SELECT doc FROM verdicts WHERE id = $1', [id]);
    return r.rows[0] ? fromJson<StoredVerdict>(r.rows[0].doc) : undefined;
  }

  async latestFor(alertId: string): Promise<StoredVerdict | undefined> {
    const r = await this.db.query<Row>(
      'SELECT doc FROM verdicts WHERE alert_id = $1 ORDER BY created_at DESC LIMIT 1',
      [alertId],
    );
    return r.rows[0] ? fromJson<StoredVerdict>(r.rows[0].doc) : undefined;
  }

  /** The latest verdict stored under this cache key (docs/analyst.md: the verdict cache). */
  async latestByCacheKey(key: string): Promise<StoredVerdict | undefined> {
    const r = await this.db.query<Row>(
      'SELECT doc FROM verdicts WHERE cache_key = $1 ORDER BY created_at DESC LIMIT 1',
      [key],
    );
    return r.rows[0] ? fromJson<StoredVerdict>(r.rows[0].doc) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM verdicts WHERE id = $1', [id]);
    return r.rowCount > 0;
  }
}
