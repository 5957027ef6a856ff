import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Metrics } from '../../telemetry/metrics.ts';
import type { CommandRunner } from './local/runner.ts';
import type { RetryConfig } from './retry.ts';

/**
 * What an action does to the environment it protects. It drives approvals:
 * `destructive` actions never run on LLM output alone.
 *
 * - `read-only`: changes nothing in the protected environment (describes,
 *   and notifications, which only tell people);
 * - `reversible`: changes it, and `rollback` undoes the change;
 * - `destructive`: changes it in a way no rollback can undo.
 */
export const ACTION_EFFECTS = ['read-only', 'reversible', 'destructive'] as const;
export type ActionEffect = (typeof ACTION_EFFECTS)[number];

/**
 * `succeeded`: the change was made; `dry_run`: nothing was changed and the
 * summary says what would have been; `skipped`: the target was already in the
 * desired state, so nothing was changed.
 */
export type ActionStatus = 'succeeded' | 'dry_run' | 'skipped';

/** What `execute` and `rollback` return. Everything in it is safe to store and show: no secrets. */
export interface ActionResult {
  status: ActionStatus;
  /** One sentence for people: what was (or would be) done, to what. */
  summary: string;
  /** Machine-readable facts about the run (ids, previous state); never secrets. */
  details: Record<string, unknown>;
  /**
   * What `rollback` needs to undo this run (JSON-serialisable). Present only
   * when a reversible action changed something.
   */
  rollback_data?: Record<string, unknown>;
}

/** Per-run options, given by the runner. */
export interface ExecuteOptions {
  /** When true, no state-changing call is made; read-only calls may be, to say what would change. */
  dryRun: boolean;
  /** The runner's key for this run, usually {@link Action.idempotencyKey}; used where a target can deduplicate. */
  idempotencyKey: string;
  /** Cancels the run; the action's own `timeout_ms` applies as well. */
  signal?: AbortSignal;
  /** Logger for this run (defaults to the one given at creation). */
  logger?: Logger;
}

/** What a factory gets besides its config. */
export interface ActionContext {
  readonly logger: Logger;
  /** Where `aisoc_actions_total` is counted; absent in library use. */
  readonly metrics?: Metrics;
  /** Environment that secrets are read from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** How local commands are run (default: `execFile`-style, never a shell); tests inject one. */
  readonly commandRunner?: CommandRunner;
}

/**
 * A configured, ready-to-run response action. Inputs are validated by the
 * factory's `inputSchema`; bad input is refused with `AISOC_ERR_VALIDATION`
 * naming the field, before any call is made.
 *
 * @example
 * const action = registry.create('aws.iam.disable_access_key', {}, ctx);
 * const input = { access_key_id: 'AKIAIOSFODNN7EXAMPLE' };
 * const key = action.idempotencyKey(input);
 * const preview = await action.execute(input, { dryRun: true, idempotencyKey: key });
 * const done = await action.execute(input, { dryRun: false, idempotencyKey: key });
 * if (done.rollback_data) await action.rollback?.(input, done.rollback_data, { dryRun: false, idempotencyKey: key });
 */
export interface Action {
  readonly type: string;
  readonly effect: ActionEffect;
  execute(input: unknown, options: ExecuteOptions): Promise<ActionResult>;
  /** Present exactly when `effect` is `reversible`. */
  rollback?(input: unknown, rollbackData: unknown, options: ExecuteOptions): Promise<ActionResult>;
  /** A stable SHA-256 (hex) of the type and the normalised input: equal inputs, equal keys. */
  idempotencyKey(input: unknown): string;
}

/**
 * The component contract for response actions: `{ type, configSchema, create }`
 * plus what approvals and the UI need to know before running one. Adding an
 * action is a file under `src/respond/actions/<vendor>/` and one line in
 * `src/respond/actions/index.ts`.
 */
export interface ActionFactory<C = unknown, I = unknown> {
  /** Dotted name: `<vendor>.<service>.<verb>` or `<vendor>.<verb>`, e.g. `aws.iam.disable_access_key`. */
  readonly type: string;
  readonly description: string;
  readonly effect: ActionEffect;
  readonly configSchema: z.ZodType<C>;
  readonly inputSchema: z.ZodType<I>;
  /** Validate the config (unknown keys are errors) and read its secrets; throws `AISOC_ERR_CONFIG` naming the field. */
  create(config: unknown, ctx: ActionContext): Action;
}

/** Settings every action's config has (from {@link baseConfigShape}). */
export interface BaseActionConfig {
  timeout_ms: number;
  retry: RetryConfig;
}

/**
 * What an action's implementation gets for one run: the caller's options
 * resolved (the signal already carries the action's timeout) and the retry
 * policy from its config.
 */
export interface RunContext {
  readonly type: string;
  readonly dryRun: boolean;
  readonly idempotencyKey: string;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly retry: RetryConfig;
  /**
   * Called by every call helper before a state-changing call. Throws in a dry
   * run, so a bug cannot turn a preview into a change.
   */
  assertMayMutate(call: string): void;
}

/** The part of an action its author writes; the shared wrapper does the rest. */
export interface ActionImpl<I> {
  execute(input: I, run: RunContext): Promise<ActionResult>;
  rollback?(input: I, rollbackData: unknown, run: RunContext): Promise<ActionResult>;
}
