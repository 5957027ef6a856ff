import type { z } from 'zod';

export type ActionEffect = 'read-only' | 'reversible' | 'destructive';

export interface ActionOutcome {
  status: 'succeeded' | 'dry_run' | 'skipped';
  summary: string;
  details: Record<string, unknown>;
  rollback_data?: unknown;
}

/**
 * What the response engine needs from the action catalogue. The catalogue in
 * `src/respond/actions/` implements it; the engine never imports an action
 * directly, so actions are added without touching it.
 */
export interface ActionPort {
  /** Types available in this runtime (configured and enabled). */
  types(): string[];
  info(
    type: string,
  ): { type: string; description: string; effect: ActionEffect; inputSchema: z.ZodType } | undefined;
  /** Stable key for this action and input: equal keys are one action. */
  idempotencyKey(type: string, input: unknown): string;
  execute(
    type: string,
    input: unknown,
    /** `preview`: a dry run made so an approver sees what a waiting request will do (always with `dryRun`). */
    opts: { dryRun: boolean; idempotencyKey: string; signal: AbortSignal; preview?: boolean },
  ): Promise<ActionOutcome>;
  rollback(
    type: string,
    input: unknown,
    rollbackData: unknown,
    opts: { dryRun: boolean; signal: AbortSignal },
  ): Promise<ActionOutcome>;
}
