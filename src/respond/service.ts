import type { Logger } from 'pino';
import { AisocError, describeError } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import { pipelineMetrics } from '../pipeline/metrics.ts';
import { type ActionRequest, type ActionStatus, FINAL_ACTION_STATUSES } from '../schema/response.ts';
import type { Store } from '../store/index.ts';
import { findUnsafeText } from '../store/json.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { ActionPort } from './port.ts';

export interface RequestActionInput {
  type: string;
  input: Record<string, unknown>;
  requested_by: string;
  reason: string;
  /** `required`: always wait for a person; `auto`: only destructive actions wait, unless `policy` allows them. */
  approval: 'auto' | 'required';
  /** Name of the policy that allows this destructive action without approval (decided by the caller on detection-backed facts). */
  policy?: string;
  dry_run: boolean;
  expires_in_ms: number;
  alert_id?: string;
  incident_id?: string;
  run_id?: string;
  step_id?: string;
  timeout_ms?: number;
  /**
   * Under the dry-run ceiling (`respond.dry_run: true`), what a live request
   * that has neither an approval coming nor a policy gets: `refuse` (403,
   * a person's own request) or `hold` (it waits for approval, a playbook
   * step that asks for a live run).
   */
  live_without_approval?: 'refuse' | 'hold';
}

export interface ActionServiceOptions {
  /**
   * `respond.dry_run`: a ceiling no caller lifts. A live run of an action
   * that changes something comes only from an approval or from a playbook
   * policy that names the action.
   */
  dryRunCeiling?: boolean;
  /** `respond.approvals.min_approvers`: people other than the requester who must approve. */
  minApprovers?: number;
}

/**
 * How long past its timeout a running action stays its runner's: an action
 * may overrun its timeout a little (a call that ignores the abort), and
 * another process must not take it for abandoned meanwhile.
 */
const RUNNING_MARGIN_MS = 60_000;

/** The longest a pending request's dry-run preview may take before the request is answered without it. */
const PREVIEW_MAX_MS = 10_000;

/** Refuse text that cannot be stored faithfully (NUL, lone surrogates) before anything is written. */
function assertStorable(value: unknown, field: string): void {
  const bad = findUnsafeText(value, field);
  if (bad)
    throw new AisocError('AISOC_ERR_VALIDATION', `${bad.field} ${bad.problem}`, {
      field: bad.field,
    });
}

/**
 * Action requests: validation, idempotency, approval, execution exactly once,
 * rollback, expiry — every decision written to the audit log. An action never
 * runs twice for one idempotency key: the key is unique in the store, the
 * move to `running` is an atomic compare-and-set, and a request found
 * `running` after a crash becomes `interrupted` for a person to look at
 * instead of running again.
 */
export class ActionService {
  private readonly dryRunCeiling: boolean;
  private readonly minApprovers: number;
  /** Action runs count as items of the `respond` stage. */
  private readonly metrics?: ReturnType<typeof pipelineMetrics>;

  constructor(
    private readonly store: Store,
    private readonly port: ActionPort,
    private readonly logger: Logger,
    metrics?: Metrics,
    options: ActionServiceOptions = {},
  ) {
    if (metrics) this.metrics = pipelineMetrics(metrics);
    this.dryRunCeiling = options.dryRunCeiling ?? false;
    this.minApprovers = Math.max(1, options.minApprovers ?? 1);
  }

  types(): string[] {
    return this.port.types();
  }

  /** The declared effect of a configured action type. */
  effectOf(type: string): 'read-only' | 'reversible' | 'destructive' | undefined {
    return this.port.info(type)?.effect;
  }

  /**
   * Validate and record a request; run it at once when it needs no approval.
   * Nothing is stored unless every text field can be stored as written, and
   * the request and its audit entry are written together.
   */
  async request(r: RequestActionInput): Promise<ActionRequest> {
    for (const [field, value] of [
      ['type', r.type],
      ['reason', r.reason],
      ['requested_by', r.requested_by],
      ['policy', r.policy],
      ['step_id', r.step_id],
      ['input', r.input],
    ] as const)
      assertStorable(value, field);
    const info = this.port.info(r.type);
    if (!info)
      throw new AisocError('AISOC_ERR_VALIDATION', `No action ${r.type} is configured`, { field: 'type' });
    const parsed = info.inputSchema.safeParse(r.input);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      const field = first?.path.join('.') ?? '';
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        `${r.type} input ${field || '(root)'}: ${first?.message ?? 'invalid'}`,
        {
          field: field ? `input.${field}` : 'input',
          details: { issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) },
        },
      );
    }
    const input = parsed.data as Record<string, unknown>;
    let needsApproval = r.approval === 'required' || (info.effect === 'destructive' && !r.policy);
    if (this.liveNeedsLicence(r.dry_run, info.effect) && !r.policy && !needsApproval) {
      if (r.live_without_approval === 'hold') needsApproval = true;
      else
        throw new AisocError(
          'AISOC_ERR_DRY_RUN_ENFORCED',
          `respond.dry_run is on, so ${r.type} runs live only once another person approves it: send require_approval: true, or dry_run: true`,
          { field: 'dry_run', details: { policy: 'respond.dry_run' } },
        );
    }
    // A request that waits for a person is never the same request as one that did not: a step's approval must be its own.
    const key = `${r.dry_run ? 'dry' : 'live'}:${needsApproval ? 'approval:' : ''}${this.port.idempotencyKey(r.type, input)}`;
    const now = new Date().toISOString();
    const req: ActionRequest = {
      id: uuidv7(),
      idempotency_key: key,
      type: r.type,
      effect: info.effect,
      input,
      status: needsApproval ? 'pending_approval' : 'approved',
      dry_run: r.dry_run,
      requested_by: r.requested_by,
      reason: r.reason,
      needs_approval: needsApproval,
      created_at: now,
      updated_at: now,
    };
    if (r.policy) req.policy = r.policy;
    if (needsApproval) {
      req.expires_at = new Date(Date.now() + r.expires_in_ms).toISOString();
      req.approvals = [];
    }
    for (const k of ['alert_id', 'incident_id', 'run_id', 'step_id'] as const) if (r[k]) req[k] = r[k];
    const { request, created } = await this.store.transaction(async (tx) => {
      const out = await tx.actions.createOrGet(req);
      if (!out.created) return out;
      await tx.audit.append({
        actor: r.requested_by,
        action: 'action.request',
        target_type: 'action',
        target_id: out.request.id,
        reason: r.reason,
        details: {
          type: r.type,
          effect: info.effect,
          dry_run: r.dry_run,
          needs_approval: needsApproval,
          ...(needsApproval ? { min_approvers: this.minApprovers } : {}),
          ...(r.policy ? { policy: r.policy } : {}),
          idempotency_key: key,
          alert_id: r.alert_id,
          incident_id: r.incident_id,
        },
      });
      return out;
    });
    if (!created) return request;
    if (!needsApproval) return this.execute(request.id, r.timeout_ms);
    return this.preview(request, r.timeout_ms);
  }

  /**
   * A request that waits for a person gets a dry run first, so the approver
   * sees what it will do (the same action with `dryRun: true`, which changes
   * nothing). It is bounded in time and never fails the request: a preview
   * that fails says why. Stored only while the request is still pending.
   */
  private async preview(req: ActionRequest, timeoutMs?: number): Promise<ActionRequest> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.min(timeoutMs ?? PREVIEW_MAX_MS, PREVIEW_MAX_MS));
    let preview: NonNullable<ActionRequest['preview']>;
    try {
      const outcome = await this.port.execute(req.type, req.input, {
        dryRun: true,
        idempotencyKey: `${req.idempotency_key}:preview`,
        signal: controller.signal,
        preview: true,
      });
      preview = {
        status: outcome.status,
        summary: outcome.summary,
        details: outcome.details ?? {},
        at: new Date().toISOString(),
      };
    } catch (err) {
      preview = {
        status: 'failed',
        summary: `The dry run failed: ${describeError(err)}`,
        details: {},
        at: new Date().toISOString(),
      };
    } finally {
      clearTimeout(timer);
    }
    try {
      const stored = await this.store.actions.transition(req.id, ['pending_approval'], {
        status: 'pending_approval',
        preview,
      });
      return stored ?? (await this.store.actions.get(req.id)) ?? req;
    } catch (err) {
      // The request stands without its preview; an approver still sees what it asks for.
      this.logger.warn(
        { action: req.type, id: req.id, err: describeError(err) },
        'Could not store a dry-run preview.',
      );
      return req;
    }
  }

  /**
   * Whether running this live needs a licence (an approval or a policy):
   * under the dry-run ceiling, any action that changes something. Read-only
   * actions (notifications) change nothing and always run.
   */
  private liveNeedsLicence(dryRun: boolean, effect: string): boolean {
    return this.dryRunCeiling && !dryRun && effect !== 'read-only';
  }

  /**
   * A person with the responder or admin scope approves. Four eyes: the
   * approver must not be the requester (an admin included), and each person
   * counts once; once `min_approvers` people have approved, the action runs.
   */
  async approve(id: string, by: string, comment?: string, timeoutMs?: number): Promise<ActionRequest> {
    assertStorable(by, 'by');
    assertStorable(comment, 'comment');
    await this.expire();
    const current = await this.store.actions.get(id);
    if (!current) throw await this.notPending(id);
    if (current.status === 'pending_approval' && current.requested_by === by)
      throw new AisocError(
        'AISOC_ERR_FOUR_EYES',
        `${by} requested this action and cannot approve it; another person must`,
        { field: 'id', details: { requested_by: by } },
      );
    if (current.status === 'pending_approval' && current.approvals?.some((a) => a.by === by))
      throw new AisocError(
        'AISOC_ERR_FOUR_EYES',
        `${by} has already approved this action; it needs ${this.minApprovers - (current.approvals?.length ?? 0)} more approval(s) from other people`,
        { field: 'id', details: { approvals: current.approvals?.map((a) => a.by) } },
      );
    const at = new Date().toISOString();
    const updated = await this.store.transaction(async (tx) => {
      const u = await tx.actions.addApproval(
        id,
        { by, at, ...(comment ? { comment } : {}) },
        this.minApprovers,
      );
      if (!u) return undefined;
      await tx.audit.append({
        actor: by,
        action: 'action.approve',
        target_type: 'action',
        target_id: id,
        reason: comment,
        details: {
          type: u.type,
          approvals: u.approvals?.length ?? 1,
          min_approvers: this.minApprovers,
          status: u.status,
        },
      });
      return u;
    });
    if (!updated) throw await this.notPending(id);
    if (updated.status !== 'approved') return updated;
    return this.execute(id, timeoutMs);
  }

  /** Any person with the responder or admin scope denies, the requester included (withdrawing it): one denial decides. */
  async deny(id: string, by: string, comment?: string): Promise<ActionRequest> {
    assertStorable(by, 'by');
    assertStorable(comment, 'comment');
    const now = new Date().toISOString();
    const updated = await this.store.transaction(async (tx) => {
      const u = await tx.actions.transition(id, ['pending_approval'], {
        status: 'denied',
        decided_by: by,
        decided_at: now,
        ...(comment ? { decision_comment: comment } : {}),
      });
      if (!u) return undefined;
      await tx.audit.append({
        actor: by,
        action: 'action.deny',
        target_type: 'action',
        target_id: id,
        reason: comment,
        details: { type: u.type },
      });
      return u;
    });
    if (!updated) throw await this.notPending(id);
    return updated;
  }

  /** Run an approved request exactly once. */
  async execute(id: string, timeoutMs = 60_000): Promise<ActionRequest> {
    const claimed = await this.store.actions.transition(
      id,
      ['approved'],
      { status: 'running' },
      { runningForMs: timeoutMs + RUNNING_MARGIN_MS },
    );
    if (!claimed) return (await this.store.actions.get(id))!;
    // Checked again when it runs: a request stored under another configuration (or before an upgrade) gets no pass.
    if (
      this.liveNeedsLicence(claimed.dry_run, claimed.effect) &&
      !claimed.policy &&
      !claimed.needs_approval
    ) {
      const refused = await this.store.actions.transition(id, ['running'], {
        status: 'failed',
        error:
          'respond.dry_run is on and this live request has neither an approval nor a policy naming the action; it did not run',
      });
      await this.store.audit.append({
        actor: 'system',
        action: 'action.result',
        target_type: 'action',
        target_id: id,
        reason: refused?.error,
        details: { type: claimed.type, status: 'failed', dry_run: false, policy: 'respond.dry_run' },
      });
      return refused ?? (await this.store.actions.get(id))!;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let final: ActionRequest | undefined;
    try {
      const outcome = await this.port.execute(claimed.type, claimed.input, {
        dryRun: claimed.dry_run,
        idempotencyKey: claimed.idempotency_key,
        signal: controller.signal,
      });
      final = await this.store.actions.transition(id, ['running'], {
        status: outcome.status,
        result: { status: outcome.status, summary: outcome.summary, details: outcome.details },
        ...(outcome.rollback_data === undefined ? {} : { rollback_data: outcome.rollback_data }),
      });
      this.metrics?.stageItems.inc({ stage: 'respond', outcome: outcome.status });
    } catch (err) {
      final = await this.store.actions.transition(id, ['running'], {
        status: 'failed',
        error: describeError(err),
      });
      this.metrics?.stageItems.inc({ stage: 'respond', outcome: 'failed' });
      this.logger.warn({ action: claimed.type, id, err: describeError(err) }, 'An action failed.');
    } finally {
      clearTimeout(timer);
    }
    const result = final ?? (await this.store.actions.get(id))!;
    await this.store.audit.append({
      actor: 'system',
      action: 'action.result',
      target_type: 'action',
      target_id: id,
      reason: result.result?.summary ?? result.error,
      details: {
        type: result.type,
        status: result.status,
        dry_run: result.dry_run,
        ...(result.result ? { details: result.result.details } : {}),
      },
    });
    return result;
  }

  /** Undo a completed reversible action. */
  async rollback(id: string, by: string, reason?: string, timeoutMs = 60_000): Promise<ActionRequest> {
    assertStorable(by, 'by');
    assertStorable(reason, 'comment');
    const req = await this.store.actions.get(id);
    if (!req) throw new AisocError('AISOC_ERR_NOT_FOUND', `No action request ${id}`, { field: 'id' });
    if (req.effect !== 'reversible') {
      throw new AisocError(
        'AISOC_ERR_CONFLICT',
        `${req.type} is ${req.effect}; only reversible actions can be rolled back`,
        { field: 'id' },
      );
    }
    if (req.status !== 'succeeded' && req.status !== 'dry_run') {
      throw new AisocError(
        'AISOC_ERR_CONFLICT',
        `The request is ${req.status}; only a completed action can be rolled back`,
        { field: 'id' },
      );
    }
    const claimed = await this.store.actions.transition(
      id,
      [req.status],
      { status: 'running' },
      { runningForMs: timeoutMs + RUNNING_MARGIN_MS },
    );
    if (!claimed)
      throw new AisocError('AISOC_ERR_CONFLICT', 'The request changed while rolling back; retry', {
        field: 'id',
      });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let final: ActionRequest | undefined;
    try {
      const outcome = await this.port.rollback(req.type, req.input, req.rollback_data, {
        dryRun: req.dry_run,
        signal: controller.signal,
      });
      final = await this.store.actions.transition(id, ['running'], {
        status: 'rolled_back',
        result: { status: 'rolled_back', summary: outcome.summary, details: outcome.details },
      });
    } catch (err) {
      final = await this.store.actions.transition(id, ['running'], {
        status: 'rollback_failed',
        error: describeError(err),
      });
    } finally {
      clearTimeout(timer);
    }
    await this.store.audit.append({
      actor: by,
      action: 'action.rollback',
      target_type: 'action',
      target_id: id,
      reason,
      details: { type: req.type, status: final?.status, dry_run: req.dry_run },
    });
    return final ?? (await this.store.actions.get(id))!;
  }

  /** Close approval windows that have passed. */
  async expire(now = new Date().toISOString()): Promise<ActionRequest[]> {
    const out: ActionRequest[] = [];
    for (const r of await this.store.actions.expiredPending(now)) {
      const updated = await this.store.actions.transition(r.id, ['pending_approval'], { status: 'expired' });
      if (!updated) continue;
      await this.store.audit.append({
        actor: 'system',
        action: 'action.expire',
        target_type: 'action',
        target_id: r.id,
        details: { type: r.type },
      });
      out.push(updated);
    }
    return out;
  }

  /**
   * After a crash: a request left `running` may or may not have run, so it
   * becomes `interrupted` and is never run again on our own. A request left
   * `approved` never started (the move to `running` comes first), so it is
   * resumed: its approval or policy stands, the compare-and-set claim keeps
   * it to one run, and it runs under the configuration of now (the dry-run
   * ceiling is checked again). Each is audited; the resumed requests are
   * returned so their playbook runs can move on.
   */
  async recoverAtStart(
    timeoutMs?: number,
  ): Promise<{ interrupted: number; interruptedRequests: ActionRequest[]; resumed: ActionRequest[] }> {
    // The embedded database is this process's alone: whatever it finds running, its own last run left behind.
    // On PostgreSQL another process may be running it now; only those past their time are taken for abandoned.
    const interruptedRequests = await this.interruptAbandoned({ all: this.store.engine === 'pglite' });
    const interrupted = interruptedRequests.length;
    const resumed: ActionRequest[] = [];
    const seen = new Set<string>();
    for (;;) {
      // Each run moves its request out of `approved`; `seen` only guards against a store that would not.
      const batch = (await this.store.actions.list({ status: ['approved'], limit: 100 })).items.filter(
        (r) => !seen.has(r.id),
      );
      if (batch.length === 0) break;
      for (const r of batch) {
        seen.add(r.id);
        await this.store.audit.append({
          actor: 'system',
          action: 'action.resume',
          target_type: 'action',
          target_id: r.id,
          reason: 'Approved but not started when the last process stopped; running it now.',
          details: { type: r.type, dry_run: r.dry_run },
        });
        resumed.push(await this.execute(r.id, timeoutMs));
      }
    }
    return { interrupted, interruptedRequests, resumed };
  }

  /** After a crash: a request left `running` may or may not have run; never run it again on our own. */
  async recoverInterrupted(): Promise<number> {
    return (await this.interruptAbandoned({ all: true })).length;
  }

  /**
   * Mark `interrupted` the requests whose runner is gone: those `running`
   * past the time their runner held them for (its timeout and a margin),
   * or, with `all`, every running one. Such a request may or may not have
   * run, so it is never run again on our own; a person checks its effect.
   * Returns the requests marked, so their playbook runs can move on.
   */
  async interruptAbandoned(opts: { all?: boolean } = {}): Promise<ActionRequest[]> {
    const out: ActionRequest[] = [];
    for (const r of await this.store.actions.staleRunning(opts)) {
      const updated = await this.store.actions.transition(r.id, ['running'], {
        status: 'interrupted',
        error: 'The process stopped while this action was running; check its effect before retrying by hand.',
      });
      if (!updated) continue;
      out.push(updated);
      await this.store.audit.append({
        actor: 'system',
        action: 'action.interrupted',
        target_type: 'action',
        target_id: r.id,
        details: { type: r.type },
      });
    }
    return out;
  }

  isFinal(status: ActionStatus): boolean {
    return (FINAL_ACTION_STATUSES as readonly ActionStatus[]).includes(status);
  }

  private async notPending(id: string): Promise<AisocError> {
    const r = await this.store.actions.get(id);
    if (!r) return new AisocError('AISOC_ERR_NOT_FOUND', `No action request ${id}`, { field: 'id' });
    return new AisocError('AISOC_ERR_CONFLICT', `The request is ${r.status}, not waiting for approval`, {
      field: 'id',
    });
  }
}
