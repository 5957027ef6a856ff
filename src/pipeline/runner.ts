import type { Logger } from 'pino';
import type { z } from 'zod';
import type { NormalisedEvent } from '../schema/event.ts';
import type { DeadLetterInput, Store } from '../store/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { PipelineConfig } from './config.ts';
import type { PressureMonitor } from './pressure.ts';
import type { AnyStage } from './stage.ts';

export interface SubmitInput {
  events: NormalisedEvent[];
  /** Records rejected while decoding, stored in the same transaction as the events. */
  deadLetters: DeadLetterInput[];
}

export interface SubmitResult {
  stored: number;
  duplicates: number;
  dead_letters: number;
}

export interface StageStats {
  name: string;
  processed: number;
  dead_lettered: number;
  retries: number;
  queued_batches: number;
}

export interface PipelineStats {
  runner: string;
  /** Events accepted but not yet through every stage. */
  pending: number;
  capacity: number;
  /** Events through every stage since start. */
  processed: number;
  checkpoint: number;
  stages: StageStats[];
}

/**
 * What the API and the CLI hand events to. `submit` resolves only once the
 * events are durable (embedded: committed to the store; NATS: acknowledged by
 * JetStream), so an acknowledged event survives a crash. A runner that is
 * full throws `AISOC_ERR_OVERLOADED` with a retry hint instead of buffering
 * without bound.
 */
export interface PipelineRunner {
  readonly kind: string;
  start(): Promise<void>;
  /** Throws `AISOC_ERR_OVERLOADED` when `n` more events would exceed the capacity. */
  admit(n: number): void;
  submit(input: SubmitInput): Promise<SubmitResult>;
  /** Resolve once every accepted event has passed every stage. */
  drain(timeoutMs?: number): Promise<void>;
  /** Refuse new input, drain, and stop the stage loops. */
  stop(timeoutMs?: number): Promise<void>;
  stats(): PipelineStats;
}

/**
 * A process's part in a scaled-out deployment (`aisoc serve --role`): `api`
 * accepts input (`submit`) and runs no stage, `worker` runs the stages,
 * `all` does both (one process, the default).
 */
export type PipelineRole = 'api' | 'worker' | 'all';

/**
 * What a runner is built from. The runner owns everything between the
 * stages (queues, back-pressure, retries, dead letters, checkpoints,
 * metrics); the stages are the same whatever the runner.
 */
export interface RunnerContext {
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /**
   * The `pipeline` section: the settings every runner honours (capacity,
   * batch size, retries, dead-letter size), and the runner's own
   * `pipeline.<type>` when it declares a `configSchema`.
   */
  readonly config: PipelineConfig;
  /** Stages every event passes, in order; the last one's outputs are discarded (stages persist what they produce). */
  readonly stages: AnyStage[];
  /** Event-loop delay and memory, for `admit` to check beside the runner's own capacity. */
  readonly pressure?: PressureMonitor;
  /** This process's part (default `all`); a runner that cannot split its work refuses the others. */
  readonly role?: PipelineRole;
}

/**
 * The component contract for pipeline runners: `{ type, configSchema?,
 * create }`. Adding one is a folder under `src/pipeline/<type>/` and one
 * line in `RUNNERS` (`src/pipeline/runners.ts`): its type becomes a choice
 * of `pipeline.runner`, and its `configSchema` the section
 * `pipeline.<type>`. `create` does no I/O (connections are made in
 * `start`), and the runner must pass `describeRunnerConformance`
 * (`src/pipeline/testing/runner-conformance.ts`).
 */
export interface RunnerFactory<C = undefined> {
  readonly type: string;
  /** One phrase, shown in the description of `pipeline.runner`. */
  readonly description: string;
  readonly configSchema?: z.ZodType<C>;
  create(ctx: RunnerContext): PipelineRunner;
}
