import type { PlaybookRun } from '../../schema/response.ts';
import { toPgJson } from '../json.ts';
import { fromJson, type Queryable } from '../sql.ts';
import { clampLimit, type Row, Where } from './shared.ts';

/**
 * Playbook runs, checkpointed after every step: one run per playbook and subject.
 *
 * @example
 * const { run, created } = await store.runs.getOrCreate(newRun);
 */
export class PlaybookRunRepository {
  constructor(private readonly db: Queryable) {}

  /** The run of a playbook for a subject, created if absent (one run per playbook and subject). */
  async getOrCreate(run: PlaybookRun): Promise<{ run: PlaybookRun; created: boolean }> {
    const r = await this.db.query<Row>(
      `INSERT INTO playbook_runs (id, playbook, subject_type, subject_id, status, created_at, updated_at, doc)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
       ON CONFLICT (playbook, subject_type, subject_id) DO NOTHING RETURNING doc`,
      [
        run.id,
        run.playbook,
        run.subject_type,
        run.subject_id,
        run.status,
        run.created_at,
        run.updated_at,
        toPgJson(run),
      ],
    );
    if (r.rows[0]) return { run: fromJson<PlaybookRun>(r.rows[0].doc), created: true };
    const existing = await this.db.query<Row>(
      'SELECT doc FROM playbook_runs WHERE playbook = $1 AND subject_type = $2 AND subject_id = $3',
      [run.playbook, run.subject_type, run.subject_id],
    );
    return { run: fromJson<PlaybookRun>(existing.rows[0]!.doc), created: false };
  }

  /**
   * Save a run's checkpoint. With `expectedUpdatedAt` it is a compare-and-set:
   * the run is written only if its stored `updated_at` is still that one, so
   * of two workers that ran the same step from one checkpoint, only the first
   * to save moves the run on. Returns whether the run was written.
   */
  async save(run: PlaybookRun, expectedUpdatedAt?: string): Promise<boolean> {
    const r =
      expectedUpdatedAt === undefined
        ? await this.db.query(
            'UPDATE playbook_runs SET status = $2, updated_at = $3, doc = $4::jsonb WHERE id = $1',
            [run.id, run.status, run.updated_at, toPgJson(run)],
          )
        : await this.db.query(
            `UPDATE playbook_runs SET status = $2, updated_at = $3, doc = $4::jsonb
              WHERE id = $1 AND updated_at = $5::timestamptz`,
            [run.id, run.status, run.updated_at, toPgJson(run), expectedUpdatedAt],
          );
    return r.rowCount > 0;
  }

  async get(id: string): Promise<PlaybookRun | undefined> {
    const r = await this.db.query<Row>('SELECT doc FROM playbook_runs WHERE id::text = $1', [id]);
    return r.rows[0] ? fromJson<PlaybookRun>(r.rows[0].doc) : undefined;
  }

  async forSubject(subjectType: string, subjectId: string): Promise<PlaybookRun[]> {
    const r = await this.db.query<Row>(
      'SELECT doc FROM playbook_runs WHERE subject_type = $1 AND subject_id = $2 ORDER BY created_at',
      [subjectType, subjectId],
    );
    return r.rows.map((row) => fromJson<PlaybookRun>(row.doc));
  }

  async list(f: { status?: string[]; limit?: number } = {}): Promise<PlaybookRun[]> {
    const w = new Where();
    if (f.status?.length) w.add('status = ANY(?::text[])', f.status);
    const r = await this.db.query<Row>(
      `SELECT doc FROM playbook_runs ${w.sql} ORDER BY updated_at DESC LIMIT ${clampLimit(f.limit)}`,
      w.params,
    );
    return r.rows.map((row) => fromJson<PlaybookRun>(row.doc));
  }
}
