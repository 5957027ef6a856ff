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
  /** The events that were new, with their log sequence numbers, in log order (duplicates are not here). */
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
  return (await storeSubmissions(store, [input], opts))[0]!;
}

/**
 * Commit several submissions in one transaction, as {@link storeSubmission}
 * does one, and say what each of them stored. Their events are inserted in
 * the order given, so an event id carried by two of them is stored once, as
 * the first one's, and counts as a duplicate for the second. It all commits
 * or nothing does.
 *
 * @example const [a, b] = await storeSubmissions(store, [first, second], { config, metrics });
 */
export async function storeSubmissions(
  store: Store,
  inputs: readonly SubmitInput[],
  opts: { config: PipelineConfig; metrics: Metrics },
): Promise<StoredSubmission[]> {
  const deadLetters = inputs.map((input) =>
    input.deadLetters.map((d) => ({
      ...d,
      record: truncate(d.record, opts.config.dead_letter_record_bytes),
    })),
  );
  const events = inputs.length === 1 ? inputs[0]!.events : inputs.flatMap((i) => i.events);
  const letters = inputs.length === 1 ? deadLetters[0]! : deadLetters.flat();
  const stored = await store.transaction(async (tx) => {
    const rows: Array<{ seq: number; id: string }> = [];
    for (let i = 0; i < events.length; i += INSERT_SLICE) {
      const part = await tx.events.insert(events.slice(i, i + INSERT_SLICE));
      for (const row of part.stored) rows.push(row);
    }
    for (let i = 0; i < letters.length; i += INSERT_SLICE)
      await tx.deadLetters.insert(letters.slice(i, i + INSERT_SLICE));
    const checkpoint = inputs.findLast((input) => input.checkpoint !== undefined)?.checkpoint;
    if (checkpoint) await tx.offsets.set(checkpoint.name, checkpoint.seq);
    return rows;
  });
  const counter = pipelineMetrics(opts.metrics).deadLetters;
  for (const d of letters) counter.inc({ stage: d.stage, source: d.source });
  const results: StoredSubmission[] = inputs.map((input, i) => ({
    stored: [],
    duplicates: input.events.length,
    deadLetters: deadLetters[i]!.length,
  }));
  if (inputs.length === 1) {
    results[0]!.stored = stored;
  } else {
    // A row stored is the first occurrence of its id in the group's order: it belongs to that submission.
    const owner = new Map<string, number>();
    inputs.forEach((input, i) => {
      for (const e of input.events) if (!owner.has(e.id)) owner.set(e.id, i);
    });
    for (const row of stored) results[owner.get(row.id) ?? 0]!.stored.push(row);
  }
  for (const r of results) r.duplicates -= r.stored.length;
  return results;
}

/** What a {@link GroupCommit} is built from. */
export interface GroupCommitOptions {
  store: Store;
  logger: Logger;
  metrics: Metrics;
  config: PipelineConfig;
  /** Rows (events and dead letters) per group; a submission alone may have more (default `pipeline.group_commit_rows`). */
  maxRows?: number;
  /**
   * Admission, checked for each submission as it joins a group, in order:
   * `ahead` is the events of the submissions before it in the group, not
   * yet counted by the runner. Throwing refuses that submission alone.
   */
  admit?(input: SubmitInput, ahead: number): void;
  /**
   * Called for each submission right after its commit, before its promise
   * resolves, in log order (a group's submissions in order, groups one
   * after the other): where the runner counts and feeds what was stored.
   */
  committed?(input: SubmitInput, stored: StoredSubmission): void;
}

interface Waiting {
  input: SubmitInput;
  resolve(stored: StoredSubmission): void;
  reject(err: unknown): void;
}

/**
 * Group commit: submissions that arrive while a commit is in progress wait,
 * and are then committed together in one transaction ({@link
 * storeSubmissions}), up to `pipeline.group_commit_rows` rows a group (at a
 * few thousand rows a second on the embedded database, a fraction of a
 * second of work, so what waits behind a group waits no longer); one commit
 * runs at a time. Each submission's promise resolves after the commit that
 * holds it, with its own result, so an acknowledged event is still durable.
 * When a group of several fails, each of its submissions is committed again
 * alone: a submission the store refuses fails by itself, the rest are
 * stored.
 *
 * @example
 * const commits = new GroupCommit({ store, logger, metrics, config, committed: (input, s) => feed(s) });
 * const { stored, duplicates } = await commits.submit(input);
 */
export class GroupCommit {
  private readonly waiting: Waiting[] = [];
  private busy = false;
  private readonly maxRows: number;
  private readonly metrics;

  constructor(private readonly opts: GroupCommitOptions) {
    this.maxRows = opts.maxRows ?? opts.config.group_commit_rows;
    this.metrics = pipelineMetrics(opts.metrics);
  }

  /** Commit `input` with whatever else is waiting; resolves once it is durable. */
  submit(input: SubmitInput): Promise<StoredSubmission> {
    return new Promise<StoredSubmission>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      if (!this.busy) {
        this.busy = true;
        void this.run();
      }
    });
  }

  private async run(): Promise<void> {
    try {
      // Submissions made in the same turn as the first one join its group.
      await Promise.resolve();
      while (this.waiting.length > 0) {
        const group = this.take();
        if (group.length > 0) await this.commit(group);
      }
    } finally {
      this.busy = false;
    }
  }

  /** The next group: waiting submissions in order, each admitted as it joins, up to `maxRows`. */
  private take(): Waiting[] {
    const group: Waiting[] = [];
    let rows = 0;
    let events = 0;
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      const size = next.input.events.length + next.input.deadLetters.length;
      if (group.length > 0 && rows + size > this.maxRows) break;
      this.waiting.shift();
      try {
        this.opts.admit?.(next.input, events);
      } catch (err) {
        next.reject(err);
        continue;
      }
      group.push(next);
      rows += size;
      events += next.input.events.length;
    }
    return group;
  }

  private async commit(group: Waiting[]): Promise<void> {
    let results: StoredSubmission[];
    try {
      results = await storeSubmissions(
        this.opts.store,
        group.map((w) => w.input),
        this.opts,
      );
    } catch (err) {
      if (group.length === 1) {
        group[0]!.reject(err);
        return;
      }
      this.opts.logger.warn(
        { submissions: group.length, err: describeError(err) },
        'A group commit failed; its submissions are committed again one by one.',
      );
      for (const w of group) await this.commit([w]);
      return;
    }
    this.metrics.commitGroupSubmissions.observe(group.length);
    group.forEach((w, i) => {
      const stored = results[i]!;
      try {
        this.opts.committed?.(w.input, stored);
      } catch (err) {
        // Stored and durable whatever the runner's bookkeeping did; say so rather than fail the caller.
        this.opts.logger.error({ err: describeError(err) }, 'Bookkeeping after a commit failed.');
      }
      w.resolve(stored);
    });
  }
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
