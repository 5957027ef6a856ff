import { AisocError } from '../../errors.ts';
import {
  type ActionRequest,
  type ActionStatus,
  type Approval,
  LIVE_ACTION_STATUSES,
} from '../../schema/response.ts';
import { toPgJson } from '../json.ts';
import { fromJson, type Queryable, toNumber } from '../sql.ts';
import { clampLimit, type ListResult, type Row, Where } from './shared.ts';

/**
 * Action requests and their approvals (`action_requests`): every change of
 * state is a compare-and-set on the stored status, so several workers may
 * share the table.
 *
 * @example
 * const started = await store.actions.transition(id, ['approved'], { status: 'running' });
 */
export class ActionRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * Create a request unless a live one (LIVE_ACTION_STATUSES) has the same
   * idempotency key; either way return the stored request (the live one
   * wins). Requests that were denied, failed, expired or rolled back do not
   * count: asking again after them makes a new request. Uniqueness among
   * live requests is a partial unique index, so two writers racing with the
   * same key still make one request.
   *
   * A playbook step's request (`run_id` and `step_id`) is also one per run
   * and step, whatever its status: a second pass over the same step (a
   * retried triage item, two workers racing) gets the first request back
   * instead of asking again.
   */
  async createOrGet(req: ActionRequest): Promise<{ request: ActionRequest; created: boolean }> {
    const stepId = req.run_id && req.step_id ? req.step_id : null;
    if (stepId) {
      const mine = await this.forStep(req.run_id!, stepId);
      if (mine) return { request: mine, created: false };
    }
    // The live request found by the conflict may end between the two statements: then insert again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await this.db.query<Row>(
        `INSERT INTO action_requests (id, idempotency_key, type, effect, status, dry_run, requested_by, alert_id, incident_id,
                                      run_id, step_id, expires_at, created_at, updated_at, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $15, $11, $12, $13, $14::jsonb)
         ON CONFLICT DO NOTHING RETURNING doc`,
        [
          req.id,
          req.idempotency_key,
          req.type,
          req.effect,
          req.status,
          req.dry_run,
          req.requested_by,
          req.alert_id ?? null,
          req.incident_id ?? null,
          req.run_id ?? null,
          req.expires_at ?? null,
          req.created_at,
          req.updated_at,
          toPgJson(req),
          stepId,
        ],
      );
      if (r.rows[0]) return { request: fromJson<ActionRequest>(r.rows[0].doc), created: true };
      if (stepId) {
        const mine = await this.forStep(req.run_id!, stepId);
        if (mine) return { request: mine, created: false };
      }
      const existing = await this.db.query<Row>(
        'SELECT doc FROM action_requests WHERE idempotency_key = $1 AND status = ANY($2::text[]) LIMIT 1',
        [req.idempotency_key, [...LIVE_ACTION_STATUSES]],
      );
      if (existing.rows[0]) return { request: fromJson<ActionRequest>(existing.rows[0].doc), created: false };
      // No live request holds the key: the conflict was on the id (a caller reusing one).
      const sameId = await this.db.query<Row>('SELECT doc FROM action_requests WHERE id::text = $1', [
        req.id,
      ]);
      if (sameId.rows[0]) return { request: fromJson<ActionRequest>(sameId.rows[0].doc), created: false };
    }
    throw new AisocError(
      'AISOC_ERR_CONFLICT',
      'The request kept changing while it was being recorded; retry',
      {
        field: 'idempotency_key',
      },
    );
  }

  /**
   * Record one person's approval of a pending request, atomically: refused
   * (undefined) when the request is no longer pending, when `approval.by`
   * requested it, or when `approval.by` has already approved it. The
   * request becomes `approved` with the approval that brings it to
   * `minApprovers`; until then it stays pending with the approvals so far.
   */
  async addApproval(
    id: string,
    approval: Approval,
    minApprovers: number,
  ): Promise<ActionRequest | undefined> {
    const now = new Date().toISOString();
    const r = await this.db.query<Row>(
      `UPDATE action_requests
          SET status = CASE WHEN jsonb_array_length(COALESCE(doc->'approvals', '[]'::jsonb)) + 1 >= $3
                            THEN 'approved' ELSE status END,
              updated_at = $4::timestamptz,
              doc = (doc - 'decision_comment') || jsonb_strip_nulls(jsonb_build_object(
                'approvals', COALESCE(doc->'approvals', '[]'::jsonb) || jsonb_build_array($2::jsonb),
                'status', CASE WHEN jsonb_array_length(COALESCE(doc->'approvals', '[]'::jsonb)) + 1 >= $3
                               THEN 'approved' ELSE status END,
                'updated_at', $7::text,
                'decided_by', $5::text,
                'decided_at', $7::text,
                'decision_comment', $6::text))
        WHERE id::text = $1 AND status = 'pending_approval'
          AND doc->>'requested_by' IS DISTINCT FROM $5::text
          AND NOT COALESCE(doc->'approvals', '[]'::jsonb) @> jsonb_build_array(jsonb_build_object('by', $5::text))
        RETURNING doc`,
      // `now` twice: once for the timestamptz column, once as the ISO text the document keeps.
      [id, toPgJson(approval), minApprovers, now, approval.by, approval.comment ?? null, now],
    );
    return r.rows[0] ? fromJson<ActionRequest>(r.rows[0].doc) : undefined;
  }

  /** The request a playbook run's step made, whatever its status. */
  async forStep(runId: string, stepId: string): Promise<ActionRequest | undefined> {
    const r = await this.db.query<Row>(
      'SELECT doc FROM action_requests WHERE run_id = $1::uuid AND step_id = $2',
      [runId, stepId],
    );
    return r.rows[0] ? fromJson<ActionRequest>(r.rows[0].doc) : undefined;
  }

  async get(id: string): Promise<ActionRequest | undefined> {
    const r = await this.db.query<Row>('SELECT doc FROM action_requests WHERE id::text = $1', [id]);
    return r.rows[0] ? fromJson<ActionRequest>(r.rows[0].doc) : undefined;
  }

  /**
   * Move a request from one of `from` to a new state, atomically: the
   * update happens only if the stored status is still one of `from`, so
   * two workers can never both start the same action. A move to `running`
   * may say how long the runner holds it (`runningForMs`): until then no
   * other process takes it for abandoned (see {@link staleRunning}).
   */
  async transition(
    id: string,
    from: ActionStatus[],
    patch: Partial<ActionRequest> & { status: ActionStatus },
    opts: { runningForMs?: number } = {},
  ): Promise<ActionRequest | undefined> {
    const now = new Date().toISOString();
    const r = await this.db.query<Row>(
      `UPDATE action_requests SET status = $3, updated_at = $4,
         running_until = CASE WHEN $6::double precision IS NULL THEN NULL
                              ELSE now() + $6::double precision * interval '1 millisecond' END,
         doc = doc || $5::jsonb
       WHERE id::text = $1 AND status = ANY($2::text[]) RETURNING doc`,
      [
        id,
        from,
        patch.status,
        now,
        toPgJson({ ...patch, updated_at: now }),
        patch.status === 'running' && opts.runningForMs !== undefined ? Math.max(0, opts.runningForMs) : null,
      ],
    );
    return r.rows[0] ? fromJson<ActionRequest>(r.rows[0].doc) : undefined;
  }

  /**
   * Requests left `running` by a runner that is gone: past the time their
   * runner held them for, or moved to `running` without one. With `all`,
   * every running request (one process owns the database, and it has just
   * started).
   */
  async staleRunning(opts: { all?: boolean; limit?: number } = {}): Promise<ActionRequest[]> {
    const r = await this.db.query<Row>(
      `SELECT doc FROM action_requests
        WHERE status = 'running' AND ($1::boolean OR running_until IS NULL OR running_until <= now())
        ORDER BY created_at LIMIT $2`,
      [opts.all === true, clampLimit(opts.limit, 1000)],
    );
    return r.rows.map((row) => fromJson<ActionRequest>(row.doc));
  }

  async list(
    f: { status?: string[]; run_id?: string; limit?: number; offset?: number } = {},
  ): Promise<ListResult<ActionRequest>> {
    const w = new Where();
    if (f.status?.length) w.add('status = ANY(?::text[])', f.status);
    if (f.run_id) w.add('run_id = ?::uuid', f.run_id);
    const limit = clampLimit(f.limit);
    const offset = Math.max(0, f.offset ?? 0);
    const total = await this.db.query<{ n: unknown }>(
      `SELECT count(*) AS n FROM action_requests ${w.sql}`,
      w.params,
    );
    const rows = await this.db.query<Row>(
      `SELECT doc FROM action_requests ${w.sql} ORDER BY created_at DESC, id LIMIT ${limit} OFFSET ${offset}`,
      w.params,
    );
    return {
      items: rows.rows.map((r) => fromJson<ActionRequest>(r.doc)),
      total: toNumber(total.rows[0]?.n),
    };
  }

  /** Pending requests whose approval window has closed. */
  async expiredPending(now: string): Promise<ActionRequest[]> {
    const r = await this.db.query<Row>(
      "SELECT doc FROM action_requests WHERE status = 'pending_approval' AND expires_at IS NOT NULL AND expires_at <= $1::timestamptz",
      [now],
    );
    return r.rows.map((row) => fromJson<ActionRequest>(row.doc));
  }
}
