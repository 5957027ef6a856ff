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
  /**
   * A consumer's checkpoint written in the same transaction as the events
   * (the journal loader's position), so what is loaded and how far the
   * loader got commit together. The last one of a group commit is written.
   */
  checkpoint?: { name: string; seq: number };
}

export interface SubmitResult {
  /** New events stored; for a journaled submission, events made durable in the journal. */
  stored: number;
  duplicates: number;
  dead_letters: number;
  /**
   * Durable in the ingest journal (`pipeline.journal`), not yet in the
   * store: duplicates of events stored earlier are dropped when it is loaded.
   */
  journaled?: boolean;
}

/** The ingest journal's part of {@link PipelineStats}, when `pipeline.journal.enabled`. */
export interface JournalStats {
  /** Bytes acknowledged (or being fsynced) and not yet loaded into the store. */
  pending_bytes: number;
  /** Frames (one per ingest request) acknowledged and not yet loaded. */
  pending_frames: number;
  /** Events in those frames. */
  pending_events: number;
  segments: number;
  /** Journal position the store holds everything before. */
  checkpoint: number;
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
  journal?: JournalStats;
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
  /**
   * The highest events-table sequence number retention may delete up to:
   * events past it may still be read back by a stage. Absent, retention
   * takes the checkpoint `pipeline_offsets.events` (the embedded runner's
   * log position).
   */
  retentionFloor?(): Promise<number>;
}

/**
 * What a process runs of the pipeline (`aisoc serve --role`): `api` takes
 * input and runs no stage, `worker` runs the stages and takes no input, `all`
 * (the default) does both in one process.
 */
export type RunnerRole = 'api' | 'worker' | 'all';

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
  /** What this process runs (default `all`); a runner that cannot split refuses anything else (see `RunnerFactory.roles`). */
  readonly role?: RunnerRole;
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
  /** The roles it runs in (default `['all']`: one process does everything); `createRunner` refuses the others. */
  readonly roles?: readonly RunnerRole[];
  /**
   * Its processes share one PostgreSQL database (default false): the
   * runtime refuses to open it over the embedded store, naming
   * `pipeline.runner` and `AISOC_DATABASE_URL`.
   */
  readonly requiresPostgres?: boolean;
  create(ctx: RunnerContext): PipelineRunner;
}
