import { z } from 'zod';
import { Timestamp } from './common.ts';

/** Statuses of a request still on its way: waiting for approval, approved and not started, running. */
export const OPEN_ACTION_STATUSES = ['pending_approval', 'approved', 'running'] as const;

/**
 * Statuses a request's run ends in: done (for real, as a dry run, or
 * skipped), failed, refused (denied, expired), interrupted by a crash, or
 * rolled back (successfully or not). A done request may still be rolled
 * back, which runs it again.
 */
export const FINAL_ACTION_STATUSES = [
  'succeeded',
  'dry_run',
  'skipped',
  'failed',
  'denied',
  'expired',
  'interrupted',
  'rolled_back',
  'rollback_failed',
] as const;

export const ActionStatus = z.enum([...OPEN_ACTION_STATUSES, ...FINAL_ACTION_STATUSES]);
export type ActionStatus = z.infer<typeof ActionStatus>;

/**
 * Statuses in which a request still stands for its effect, so an identical
 * request is the same request (its idempotency key is unique among these,
 * by a partial unique index): waiting, approved, running, done (for real or
 * as a dry run), interrupted (it may have run: never again on its own), and
 * rolled back without success (the effect is still there). A request that
 * was denied, expired, failed, skipped or rolled back no longer stands for
 * anything, and asking again makes a new request.
 */
export const LIVE_ACTION_STATUSES = [
  'pending_approval',
  'approved',
  'running',
  'succeeded',
  'dry_run',
  'interrupted',
  'rollback_failed',
] as const satisfies readonly ActionStatus[];

export const Approval = z
  .object({
    by: z.string().describe('API key name of the person who approved'),
    at: Timestamp,
    comment: z.string().optional(),
  })
  .describe('One approval of a request');
export type Approval = z.infer<typeof Approval>;

export const ActionEffect = z.enum(['read-only', 'reversible', 'destructive']);

/** A request to run an action: who asked, why, what approval it needs, and what happened. */
export const ActionRequest = z
  .object({
    id: z.uuid(),
    idempotency_key: z
      .string()
      .describe('Equal keys are one request: an action never runs twice for one key'),
    type: z.string(),
    effect: ActionEffect,
    input: z.record(z.string(), z.unknown()),
    status: ActionStatus,
    dry_run: z.boolean(),
    requested_by: z.string().describe('Playbook run (playbook:<id>) or API key name'),
    reason: z.string(),
    needs_approval: z.boolean(),
    policy: z.string().optional().describe('Policy that allowed the action without approval'),
    alert_id: z.uuid().optional(),
    incident_id: z.uuid().optional(),
    run_id: z.uuid().optional(),
    step_id: z.string().optional(),
    expires_at: Timestamp.optional(),
    approvals: z
      .array(Approval)
      .optional()
      .describe(
        'Approvals so far, each by a person other than the requester (respond.approvals.min_approvers)',
      ),
    decided_by: z.string().optional(),
    decided_at: Timestamp.optional(),
    decision_comment: z.string().optional(),
    result: z
      .object({
        status: z.string(),
        summary: z.string(),
        details: z.record(z.string(), z.unknown()).default({}),
      })
      .optional(),
    preview: z
      .object({
        status: z
          .string()
          .describe('`dry_run` when the action reported what it would do, `failed` when it could not'),
        summary: z.string(),
        details: z.record(z.string(), z.unknown()).default({}),
        at: Timestamp,
      })
      .optional()
      .describe(
        'For a request that waits for approval: what a dry run of it reported when it was asked, so the approver sees what it will do',
      ),
    rollback_data: z.unknown().optional(),
    error: z.string().optional(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .describe('An action request');
export type ActionRequest = z.infer<typeof ActionRequest>;

export const StepState = z.object({
  status: z.enum(['done', 'skipped', 'failed', 'waiting', 'denied', 'expired']),
  output: z.unknown().optional(),
  error: z.string().optional(),
  request_id: z.uuid().optional(),
  at: Timestamp,
});
export type StepState = z.infer<typeof StepState>;

export const PlaybookRun = z
  .object({
    id: z.uuid(),
    playbook: z.string(),
    subject_type: z.enum(['alert', 'incident']),
    subject_id: z.string(),
    status: z.enum(['running', 'waiting', 'completed', 'failed']),
    next_step: z.number().int().min(0),
    steps: z.record(z.string(), StepState).default({}),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .describe('A playbook run, checkpointed after every step');
export type PlaybookRun = z.infer<typeof PlaybookRun>;

export const Suppression = z
  .object({
    id: z.uuid(),
    rule_id: z.string(),
    entity_type: z.string(),
    entity_value: z.string(),
    expires_at: Timestamp,
    reason: z.string(),
    created_by: z.string(),
    case_id: z.uuid().optional(),
    created_at: Timestamp,
    revoked_at: Timestamp.optional(),
  })
  .describe('Detection feedback: alerts of this rule about this entity are suppressed until expiry');
export type Suppression = z.infer<typeof Suppression>;
