import type { Logger } from 'pino';
import { z } from 'zod';
import { AisocError } from '../errors.ts';
import { fingerprint } from '../ids.ts';
import { type ActionResult, createAction } from '../respond/actions/index.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { allowList, awsEnv, functionConfig } from './env.ts';
import { parseInput } from './subject.ts';

/**
 * Remediate: one planned action, through the product's action (src/respond/
 * actions/aws: disable an IAM access key, revoke security-group ingress,
 * quarantine an EC2 instance, rotate a secret, block an address in a WAF IP
 * set), with its validation, dry-run guard, retries and typed errors. The
 * state machine calls it only for an action a person approved or the
 * allow-list names; it checks that again, so no other path runs one.
 * `mode: rollback` undoes an earlier run from its `rollback_data` (an
 * operator invokes it: docs/aws.md).
 */

const Action = z.object({
  step: z.string().optional(),
  type: z.string().regex(/^[a-z0-9_.]+$/),
  input: z.record(z.string(), z.unknown()),
  approval: z.enum(['auto', 'required']),
  policy: z.string().optional(),
});

export const RemediateInput = z.discriminatedUnion('mode', [
  z.object({
    mode: z.literal('run'),
    execution: z.string().min(1),
    /** The Map's item state, `{ subject, action, approval? }` (payload `{ execution.$: $$.Execution.Id, item.$: $ }`). */
    item: z.object({
      subject: z.object({ type: z.literal('incident'), id: z.string() }),
      action: Action,
      /** The analyst's verdict the plan came with: recorded with the result, never a permission. */
      verdict: z.object({ id: z.string().optional(), analyst: z.string() }).optional(),
      approval: z
        .object({
          approved: z.boolean(),
          approved_by: z.string().min(1).optional(),
          reason: z.string().optional(),
        })
        .optional(),
    }),
  }),
  z.object({
    mode: z.literal('rollback'),
    execution: z.string().min(1),
    action: Action.pick({ type: true, input: true }),
    rollback_data: z.record(z.string(), z.unknown()),
    requested_by: z.string().min(1),
  }),
]);

export interface RemediateResult extends ActionResult {
  type: string;
  dry_run: boolean;
  /** Who or what allowed the run: a person, or the allow-list. */
  allowed_by: string;
  /** The verdict the run answered (its id, and who wrote it: `bedrock:<model>` or `builtin`). */
  verdict?: { id?: string; analyst: string };
}

export interface RemediateDeps {
  /** Settings of each action this deployment runs (`respond.actions`). */
  actions: Record<string, unknown>;
  allowList: readonly string[];
  dryRun: boolean;
  logger: Logger;
  metrics: Metrics;
}

export function createRemediateHandler(deps: RemediateDeps) {
  const ctx = { logger: deps.logger, metrics: deps.metrics };
  function action(type: string) {
    if (!Object.hasOwn(deps.actions, type))
      throw new AisocError('AISOC_ERR_ACTION_POLICY', `${type} is not configured in this deployment`, {
        field: 'action.type',
      });
    return createAction(type, deps.actions[type], ctx);
  }

  return async (raw: unknown): Promise<RemediateResult> => {
    const input = parseInput(RemediateInput, { mode: 'run', ...(typeof raw === 'object' ? raw : {}) });
    if (input.mode === 'rollback') {
      const a = action(input.action.type);
      if (!a.rollback)
        throw new AisocError('AISOC_ERR_ACTION_ROLLBACK_UNSUPPORTED', `${a.type} cannot be rolled back`, {
          field: 'action.type',
        });
      const r = await a.rollback(input.action.input, input.rollback_data, {
        dryRun: deps.dryRun,
        idempotencyKey: `rollback:${input.execution}:${a.idempotencyKey(input.action.input)}`,
      });
      return { ...r, type: a.type, dry_run: deps.dryRun, allowed_by: `person:${input.requested_by}` };
    }
    const { action: planned, approval, verdict } = input.item;
    let allowedBy: string;
    if (approval?.approved === true && approval.approved_by) allowedBy = `person:${approval.approved_by}`;
    else if (planned.approval === 'auto' && deps.allowList.includes(planned.type))
      allowedBy = `policy:remediation allow-list${planned.policy ? ` (${planned.policy})` : ''}`;
    else
      throw new AisocError(
        'AISOC_ERR_ACTION_POLICY',
        `${planned.type} runs only when a person approved it or the remediation allow-list names it`,
        { field: 'approval' },
      );
    const a = action(planned.type);
    const r = await a.execute(planned.input, {
      dryRun: deps.dryRun,
      idempotencyKey: `${input.execution}:${fingerprint(planned.type, JSON.stringify(planned.input))}`,
    });
    const on = verdict
      ? { verdict: { ...(verdict.id ? { id: verdict.id } : {}), analyst: verdict.analyst } }
      : {};
    deps.logger.info({ type: a.type, status: r.status, allowed_by: allowedBy, ...on }, 'Ran a remediation.');
    return { ...r, type: a.type, dry_run: deps.dryRun, allowed_by: allowedBy, ...on };
  };
}

let built: ReturnType<typeof createRemediateHandler> | undefined;

/** The Lambda entry point (Orchestration stack, the Remediate state; its role is the only one that may change resources). */
export async function handler(input: unknown): Promise<RemediateResult> {
  if (!built) {
    const config = functionConfig();
    const env = awsEnv(['allow_list']);
    built = createRemediateHandler({
      actions: config.respond.actions,
      allowList: allowList(env.allow_list),
      dryRun: config.respond.dry_run,
      logger: createLogger({ level: config.log_level }),
      metrics: createMetrics({ defaultMetrics: false }),
    });
  }
  return built(input);
}
