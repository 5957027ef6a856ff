import type { NormalisedEvent } from '../schema/event.ts';
import type { DeadLetterInput } from '../store/index.ts';

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
