import type { z } from 'zod';
import { AisocError, describeError, isAisocError } from '../../errors.ts';
import { parseOrThrow } from './errors.ts';
import { actionKey } from './key.ts';
import { actionMetrics, ROLLBACK_OUTCOMES, RUN_OUTCOMES } from './metrics.ts';
import type { Redactor } from './redact.ts';
import type {
  Action,
  ActionContext,
  ActionEffect,
  ActionImpl,
  ActionResult,
  BaseActionConfig,
  ExecuteOptions,
  RunContext,
} from './types.ts';

const STATUSES = new Set(['succeeded', 'dry_run', 'skipped']);

export interface WrapOptions<I> {
  type: string;
  effect: ActionEffect;
  inputSchema: z.ZodType<I>;
  config: BaseActionConfig;
  impl: ActionImpl<I>;
  ctx: ActionContext;
  redactor: Redactor;
}

function checkOptions(options: ExecuteOptions): void {
  if (typeof options !== 'object' || options === null)
    throw new AisocError('AISOC_ERR_VALIDATION', 'Run options are required', { field: 'options' });
  if (typeof options.dryRun !== 'boolean')
    throw new AisocError('AISOC_ERR_VALIDATION', 'options.dryRun must be true or false', {
      field: 'options.dryRun',
    });
  const k = options.idempotencyKey;
  if (typeof k !== 'string' || k.length === 0 || k.length > 256)
    throw new AisocError('AISOC_ERR_VALIDATION', 'options.idempotencyKey must be 1–256 characters', {
      field: 'options.idempotencyKey',
    });
}

/**
 * The shared wrapper every action runs in: it validates input (typed errors
 * naming the field), bounds the run with `timeout_ms`, blocks state-changing
 * calls in dry runs, counts `aisoc_actions_total{type,outcome}`, logs one
 * sentence per run, withholds secrets from results and errors, and turns
 * every failure into an {@link AisocError} with a stable code. Per-call
 * retries live in the call helpers (`aws/call.ts`, `http.ts`), which read
 * the policy from the run context.
 *
 * @example
 * const action = wrapAction({ type, effect, inputSchema, config, impl, ctx, redactor });
 * await action.execute({ ip: '203.0.113.7' }, { dryRun: true, idempotencyKey: 'k1' });
 */
export function wrapAction<I>(o: WrapOptions<I>): Action {
  const { type, effect, inputSchema, config, impl, ctx, redactor } = o;

  const metrics = ctx.metrics && actionMetrics(ctx.metrics);
  const count = (outcome: string) => metrics?.actions.inc({ type, outcome });
  // The outcomes of a configured action at zero from the start: the failure alert sees 0, not no series.
  for (const outcome of effect === 'reversible' ? [...RUN_OUTCOMES, ...ROLLBACK_OUTCOMES] : RUN_OUTCOMES)
    metrics?.actions.inc({ type, outcome }, 0);

  const parseInput = (input: unknown): I =>
    parseOrThrow(inputSchema, input, 'AISOC_ERR_VALIDATION', `input of ${type}`);

  const normalise = (err: unknown, signal: AbortSignal, timeout: AbortSignal, caller?: AbortSignal) => {
    if (signal.aborted) {
      if (caller?.aborted)
        return new AisocError(
          'AISOC_ERR_ACTION_ABORTED',
          `${type} was cancelled; the change may or may not have been made`,
        );
      if (timeout.aborted)
        return new AisocError(
          'AISOC_ERR_ACTION_TIMEOUT',
          `${type} did not finish within ${config.timeout_ms} ms; the change may or may not have been made, and running it again is safe`,
          { details: { timeout_ms: config.timeout_ms } },
        );
    }
    if (isAisocError(err))
      return new AisocError(err.code, redactor.text(err.message), {
        field: err.field,
        details: err.details === undefined ? undefined : redactor.value(err.details),
        retryAfterSeconds: err.retryAfterSeconds,
      });
    return new AisocError('AISOC_ERR_ACTION_FAILED', `${type} failed: ${redactor.text(describeError(err))}`);
  };

  const checkResult = (result: ActionResult, dryRun: boolean): ActionResult => {
    if (!result || !STATUSES.has(result.status) || typeof result.summary !== 'string' || !result.summary)
      throw new AisocError('AISOC_ERR_INTERNAL', `${type} returned a malformed result`);
    if (dryRun && result.status === 'succeeded')
      throw new AisocError('AISOC_ERR_INTERNAL', `${type} reported a change during a dry run`);
    const out: ActionResult = {
      status: result.status,
      summary: result.summary,
      details: result.details ?? {},
    };
    // Rollback data is stored by the runner: it must survive JSON, and only reversible actions have any.
    if (effect === 'reversible' && result.rollback_data !== undefined && result.status === 'succeeded')
      out.rollback_data = JSON.parse(JSON.stringify(result.rollback_data));
    return redactor.value(out);
  };

  async function run(
    kind: 'execute' | 'rollback',
    input: unknown,
    rollbackData: unknown,
    options: ExecuteOptions,
  ): Promise<ActionResult> {
    checkOptions(options);
    const parsed = parseInput(input);
    const logger = (options.logger ?? ctx.logger).child({
      action: type,
      idempotency_key: options.idempotencyKey,
      dry_run: options.dryRun,
    });
    if (options.signal?.aborted)
      throw new AisocError('AISOC_ERR_ACTION_ABORTED', `${type} was cancelled before it started`);
    const timeout = AbortSignal.timeout(config.timeout_ms);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const runCtx: RunContext = {
      type,
      dryRun: options.dryRun,
      idempotencyKey: options.idempotencyKey,
      signal,
      logger,
      retry: config.retry,
      assertMayMutate(call: string) {
        if (options.dryRun)
          throw new AisocError(
            'AISOC_ERR_INTERNAL',
            `${type} attempted the state-changing call ${call} during a dry run; it was blocked`,
          );
      },
    };
    const prefix = kind === 'rollback' ? 'rollback_' : '';
    try {
      let result: ActionResult;
      if (kind === 'execute') result = await impl.execute(parsed, runCtx);
      else if (rollbackData === undefined || rollbackData === null)
        result = {
          status: 'skipped',
          summary: 'Nothing to roll back: the run changed nothing.',
          details: {},
        };
      else result = await impl.rollback!(parsed, rollbackData, runCtx);
      const safe = checkResult(result, options.dryRun);
      const outcome =
        kind === 'execute'
          ? safe.status
          : safe.status === 'succeeded'
            ? 'rolled_back'
            : `rollback_${safe.status}`;
      count(outcome);
      logger.info(
        { outcome },
        `Action ${type} ${kind === 'rollback' ? 'rollback ' : ''}${safe.status}: ${safe.summary}`,
      );
      return safe;
    } catch (err) {
      const typed = normalise(err, signal, timeout, options.signal);
      count(`${prefix}failed`);
      logger.warn({ code: typed.code }, `Action ${type} ${kind} failed: ${typed.message}`);
      throw typed;
    }
  }

  const action: Action = {
    type,
    effect,
    execute: (input, options) => run('execute', input, undefined, options),
    idempotencyKey: (input) => actionKey(type, parseInput(input)),
  };
  if (effect === 'reversible')
    action.rollback = (input, rollbackData, options) => run('rollback', input, rollbackData, options);
  return action;
}
