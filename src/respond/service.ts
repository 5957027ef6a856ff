import type { Logger } from 'pino';
import { AisocError, describeError } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import type { ActionRequest, ActionStatus } from '../schema/response.ts';
import type { Store } from '../store/index.ts';
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
}

const FINAL: ActionStatus[] = [
  'succeeded',
  'dry_run',
  'skipped',
  'failed',
  'denied',
  'expired',
  'interrupted',
  'rolled_back',
  'rollback_failed',
];

/**
 * Action requests: validation, idempotency, approval, execution exactly once,
 * rollback, expiry — every decision written to the audit log. An action never
 * runs twice for one idempotency key: the key is unique in the store, the
 * move to `running` is an atomic compare-and-set, and a request found
 * `running` after a crash becomes `interrupted` for a person to look at
 * instead of running again.
 */
export class ActionService {
  constructor(
    private readonly store: Store,
    private readonly port: ActionPort,
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {}

  types(): string[] {
    return this.port.types();
  }

  /** The declared effect of a configured action type. */
  effectOf(type: string): 'read-only' | 'reversible' | 'destructive' | undefined {
    return this.port.info(type)?.effect;
  }

  /** Validate and record a request; run it at once when it needs no approval. */
  async request(r: RequestActionInput): Promise<ActionRequest> {
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
    const key = `${r.dry_run ? 'dry' : 'live'}:${this.port.idempotencyKey(r.type, input)}`;
    const needsApproval = r.approval === 'required' || (info.effect === 'destructive' && !r.policy);
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
    if (needsApproval) req.expires_at = new Date(Date.now() + r.expires_in_ms).toISOString();
    for (const k of ['alert_id', 'incident_id', 'run_id', 'step_id'] as const) if (r[k]) req[k] = r[k];
    const { request, created } = await this.store.actions.createOrGet(req);
    if (!created) return request;
    await this.store.audit.append({
      actor: r.requested_by,
      action: 'action.request',
      target_type: 'action',
      target_id: request.id,
      reason: r.reason,
      details: {
        type: r.type,
        effect: info.effect,
        dry_run: r.dry_run,
        needs_approval: needsApproval,
        ...(r.policy ? { policy: r.policy } : {}),
        idempotency_key: key,
        alert_id: r.alert_id,
        incident_id: r.incident_id,
      },
    });
    if (!needsApproval) return this.execute(request.id, r.timeout_ms);
    return request;
  }

  /** A person with the responder or admin scope approves; the action then runs. */
  async approve(id: string, by: string, comment?: string, timeoutMs?: number): Promise<ActionRequest> {
    await this.expire();
    const now = new Date().toISOString();
    const updated = await this.store.actions.transition(id, ['pending_approval'], {
      status: 'approved',
      decided_by: by,
      decided_at: now,
      ...(comment ? { decision_comment: comment } : {}),
    });
    if (!updated) throw await this.notPending(id);
    await this.store.audit.append({
      actor: by,
      action: 'action.approve',
      target_type: 'action',
      target_id: id,
      reason: comment,
      details: { type: updated.type },
    });
    return this.execute(id, timeoutMs);
  }

  async deny(id: string, by: string, comment?: string): Promise<ActionRequest> {
    const now = new Date().toISOString();
    const updated = await this.store.actions.transition(id, ['pending_approval'], {
      status: 'denied',
      decided_by: by,
      decided_at: now,
      ...(comment ? { decision_comment: comment } : {}),
    });
    if (!updated) throw await this.notPending(id);
    await this.store.audit.append({
      actor: by,
      action: 'action.deny',
      target_type: 'action',
      target_id: id,
      reason: comment,
      details: { type: updated.type },
    });
    return updated;
  }

  /** Run an approved request exactly once. */
  async execute(id: string, timeoutMs = 60_000): Promise<ActionRequest> {
    const claimed = await this.store.actions.transition(id, ['approved'], { status: 'running' });
    if (!claimed) return (await this.store.actions.get(id))!;
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
    const claimed = await this.store.actions.transition(id, [req.status], { status: 'running' });
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

  /** After a crash: a request left `running` may or may not have run; never run it again on our own. */
  async recoverInterrupted(): Promise<number> {
    let n = 0;
    for (const r of (await this.store.actions.list({ status: ['running'], limit: 1000 })).items) {
      const updated = await this.store.actions.transition(r.id, ['running'], {
        status: 'interrupted',
        error: 'The process stopped while this action was running; check its effect before retrying by hand.',
      });
      if (!updated) continue;
      n++;
      await this.store.audit.append({
        actor: 'system',
        action: 'action.interrupted',
        target_type: 'action',
        target_id: r.id,
        details: { type: r.type },
      });
    }
    return n;
  }

  isFinal(status: ActionStatus): boolean {
    return FINAL.includes(status);
  }

  private async notPending(id: string): Promise<AisocError> {
    const r = await this.store.actions.get(id);
    if (!r) return new AisocError('AISOC_ERR_NOT_FOUND', `No action request ${id}`, { field: 'id' });
    return new AisocError('AISOC_ERR_CONFLICT', `The request is ${r.status}, not waiting for approval`, {
      field: 'id',
    });
  }
}
