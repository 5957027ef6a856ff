import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';

/** What every stage may use. Stages never see queues, retries or checkpoints: the runner owns those. */
export interface StageContext {
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** An input a stage refuses; the runner writes it to the dead-letter table with the reason. */
export interface Rejection {
  item: unknown;
  code: string;
  reason: string;
  field?: string;
  source?: string;
}

export interface StageResult<O> {
  outputs: O[];
  rejected?: Rejection[];
}

/**
 * The stage contract: a plain function over a batch of typed records. A stage
 * may throw for a transient failure (the runner retries the batch, then each
 * item alone, dead-lettering the items that still fail); it reports bad
 * inputs it recognises as `rejected`.
 *
 * @example
 * const upper: Stage<string, string> = {
 *   name: 'upper',
 *   async process(batch) { return { outputs: batch.map((s) => s.toUpperCase()) }; },
 * };
 */
export interface Stage<I, O> {
  readonly name: string;
  process(batch: I[], ctx: StageContext): Promise<StageResult<O>>;
}

/** A stage whose input and output types are erased, as the runner holds them. */
// biome-ignore lint/suspicious/noExplicitAny: a chain of stages has a different type at each link; the builder checks them.
export type AnyStage = Stage<any, any>;
