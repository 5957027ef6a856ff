import type { Logger } from 'pino';
import { AisocError, describeError } from '../errors.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { DeadLetterInput, Store } from '../store/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { PipelineConfig } from './config.ts';
import { admissionMetrics, pipelineMetrics } from './metrics.ts';
import type { PipelineRunner, StageStats, SubmitInput } from './runner.ts';
import type { AnyStage, Rejection, StageContext } from './stage.ts';

/*
 * What every runner does the same way, whatever its queues: making a
 * submission durable, and running a stage over a batch with retries,
 * isolation of the item at fault and dead letters. A runner decides only
 * where batches wait and how far it has got.
 */

/** Events (or dead letters) per insert statement. */
const INSERT_SLICE = 100;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function truncate(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  return `${Buffer.from(text).subarray(0, max).toString('utf8')}…[truncated]`;
}

function isEvent(v: unknown): v is NormalisedEvent {
  return typeof v === 'object' && v !== null && 'source' in v && 'class_uid' in v;
}

/** What {@link storeSubmission} committed. */
export interface StoredSubmission {
  /** The events that were new, with their log sequence numbers (duplicates are not here). */
  stored: Array<{ seq: number; id: string }>;
  duplicates: number;
  /** Dead letters stored (each record cut to `pipeline.dead_letter_record_bytes`). */
  deadLetters: number;
}

/**
 * Commit a submission's events and decoding dead letters in one transaction
 * (a slice of rows per statement: the embedded database runs each on this
 * thread, so one statement for a large body would hold the event loop for
 * all of it), and count the dead letters. A runner resolves `submit` after
 * this, so an acknowledged event is durable.
 *
 * @example const { stored } = await storeSubmission(store, input, { config, metrics });
 */
export async function storeSubmission(
  store: Store,
  input: SubmitInput,
  opts: { config: PipelineConfig; metrics: Metrics },
): Promise<StoredSubmission> {
  const deadLetters = input.deadLetters.map((d) => ({
    ...d,
    record: truncate(d.record, opts.config.dead_letter_record_bytes),
  }));
  const result = await store.transaction(async (tx) => {
    const r: { stored: Array<{ seq: number; id: string }>; duplicates: number } = {
      stored: [],
      duplicates: 0,
    };
    for (let i = 0; i < input.events.length; i += INSERT_SLICE) {
      const part = await tx.events.insert(input.events.slice(i, i + INSERT_SLICE));
      r.stored.push(...part.stored);
      r.duplicates += part.duplicates;
    }
    for (let i = 0; i < deadLetters.length; i += INSERT_SLICE)
      await tx.deadLetters.insert(deadLetters.slice(i, i + INSERT_SLICE));
    return r;
  });
  const counter = pipelineMetrics(opts.metrics).deadLetters;
  for (const d of deadLetters) counter.inc({ stage: d.stage, source: d.source });
  return { ...result, deadLetters: deadLetters.length };
}

/** A stage's counters as `PipelineRunner.stats` reports them, at zero. */
export function emptyStageStats(stage: AnyStage): StageStats {
  return { name: stage.name, processed: 0, dead_lettered: 0, retries: 0, queued_batches: 0 };
}

/**
 * Runs stages over batches the way the runner contract promises: a failing
 * batch is retried with back-off (`pipeline.retry_attempts`,
 * `retry_backoff_ms`), then each item alone; items that still fail, and
 * items a stage rejects, are dead-lettered with the reason. Counts into the
 * stage's {@link StageStats} and `aisoc_stage_items_total`.
 *
 * @example
 * const exec = new StageExecutor({ store, logger, metrics, config });
 * const outputs = await exec.run(stage, stats, batch);
 */
export class StageExecutor {
  private readonly ctx: StageContext;
  private readonly metrics;

  constructor(
    private readonly opts: { store: Store; logger: Logger; metrics: Metrics; config: PipelineConfig },
  ) {
    this.ctx = { store: opts.store, logger: opts.logger, metrics: opts.metrics };
    this.metrics = pipelineMetrics(opts.metrics);
  }

  /** Run one stage over a batch with retries; items that keep failing alone are dead-lettered. */
  async run(stage: AnyStage, stats: StageStats, items: unknown[]): Promise<unknown[]> {
    const { retry_attempts, retry_backoff_ms } = this.opts.config;
    let lastError: unknown;
    for (let attempt = 1; attempt <= retry_attempts; attempt++) {
      try {
        const result = await stage.process(items, this.ctx);
        await this.reject(stage.name, result.rejected ?? []);
        stats.processed += items.length;
        stats.dead_lettered += result.rejected?.length ?? 0;
        this.metrics.stageItems.inc(
          { stage: stage.name, outcome: 'ok' },
          items.length - (result.rejected?.length ?? 0),
        );
        return result.outputs;
      } catch (err) {
        lastError = err;
        stats.retries++;
        this.metrics.stageItems.inc({ stage: stage.name, outcome: 'retried' }, items.length);
        if (attempt < retry_attempts) await sleep(retry_backoff_ms * 2 ** (attempt - 1));
      }
    }
    this.opts.logger.warn(
      { stage: stage.name, items: items.length, err: describeError(lastError) },
      'A stage failed on a whole batch; its items are retried one by one.',
    );
    const outputs: unknown[] = [];
    for (const item of items) {
      try {
        const result = await stage.process([item], this.ctx);
        await this.reject(stage.name, result.rejected ?? []);
        outputs.push(...result.outputs);
        stats.processed++;
      } catch (err) {
        stats.dead_lettered++;
        await this.reject(stage.name, [
          {
            item,
            code: err instanceof AisocError ? err.code : 'AISOC_ERR_INTERNAL',
            reason: describeError(err),
          },
        ]);
      }
    }
    return outputs;
  }

  /** Store a stage's rejections as dead letters, retrying a failing store before giving up with an error log. */
  async reject(stage: string, rejected: Rejection[]): Promise<void> {
    if (rejected.length === 0) return;
    const rows: DeadLetterInput[] = rejected.map((r) => {
      const source = r.source ?? (isEvent(r.item) ? r.item.source : 'pipeline');
      let record: string;
      try {
        record = JSON.stringify(r.item) ?? String(r.item);
      } catch {
        record = String(r.item);
      }
      const row: DeadLetterInput = {
        source,
        stage,
        code: r.code,
        reason: r.reason,
        record: truncate(record, this.opts.config.dead_letter_record_bytes),
      };
      if (r.field) row.field = r.field;
      return row;
    });
    for (const row of rows) this.metrics.deadLetters.inc({ stage, source: row.source });
    this.metrics.stageItems.inc({ stage, outcome: 'dead_letter' }, rows.length);
    // Dead letters must not be lost, but a store outage must not kill the loop either: retry, then log.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.opts.store.deadLetters.insert(rows);
        return;
      } catch (err) {
        if (attempt === 4)
          this.opts.logger.error({ err: describeError(err), stage }, 'Dead letters could not be stored.');
        await sleep(200 * 2 ** attempt);
      }
    }
  }
}

/** What {@link admitQueue} checks. */
export interface QueueState {
  /** The runner is stopping: everything is refused. */
  closing: boolean;
  /** Events accepted and not yet through every stage. */
  pending: number;
  /** `pipeline.queue_capacity`. */
  capacity: number;
  /** The wait to suggest when full, in seconds (1–60), from what the runner knows of its drain rate. */
  retryAfterSeconds(): number;
}

/**
 * The queue's part of admission, the same for every runner: while stopping,
 * `AISOC_ERR_SHUTTING_DOWN`; then `before` (the pressure check, for
 * `admit`); then, when `n` more events would pass the capacity,
 * `AISOC_ERR_OVERLOADED` with a retry hint. Refusals are counted in
 * `aisoc_admission_refusals_total{reason}`.
 *
 * @example admitQueue(metrics, { closing, pending, capacity, retryAfterSeconds: () => 5 }, n);
 */
export function admitQueue(metrics: Metrics, state: QueueState, n: number, before?: () => void): void {
  const refusals = admissionMetrics(metrics).admissionRefusals;
  if (state.closing) {
    refusals.inc({ reason: 'shutting_down' });
    throw new AisocError('AISOC_ERR_SHUTTING_DOWN', 'The server is shutting down; retry later.', {
      retryAfterSeconds: 5,
    });
  }
  before?.();
  const { pending, capacity } = state;
  // A batch larger than the whole capacity is admitted only into an empty pipeline, so it can never wait forever.
  if (pending > 0 && pending + n > capacity) {
    refusals.inc({ reason: 'queue' });
    const retryAfter = state.retryAfterSeconds();
    throw new AisocError(
      'AISOC_ERR_OVERLOADED',
      `The pipeline holds ${pending} unprocessed events (capacity ${capacity}); retry in ${retryAfter} s.`,
      { retryAfterSeconds: retryAfter, details: { pending, capacity } },
    );
  }
}

/**
 * The callers of `drain` waiting for a runner's backlog to empty. The
 * runner calls {@link DrainWaiters.release} whenever its backlog reaches
 * zero.
 *
 * @example
 * drain(timeoutMs) { return this.drains.wait(() => this.pending, timeoutMs); }
 */
export class DrainWaiters {
  private waiters: Array<() => void> = [];

  /** Resolve once the backlog is empty (at once when it is); `AISOC_ERR_INTERNAL` after `timeoutMs`. */
  async wait(pending: () => number, timeoutMs: number): Promise<void> {
    if (pending() === 0) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.waiters.push(resolve);
        timer = setTimeout(
          () =>
            reject(
              new AisocError(
                'AISOC_ERR_INTERNAL',
                `The pipeline did not drain within ${timeoutMs} ms (${pending()} events pending).`,
              ),
            ),
          timeoutMs,
        );
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** The backlog is empty: wake every waiter. */
  release(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/**
 * `stop`'s first half, the same for every runner: drain within `timeoutMs`,
 * or say that what is left resumes at the next start.
 */
export async function drainBeforeStop(
  runner: Pick<PipelineRunner, 'drain' | 'stats'>,
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  try {
    await runner.drain(timeoutMs);
  } catch (err) {
    logger.warn(
      { err: describeError(err), pending: runner.stats().pending },
      'The pipeline stopped before draining; the rest resumes at next start.',
    );
  }
}
