import { describeError } from '../errors.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import {
  admitQueue,
  DrainWaiters,
  drainBeforeStop,
  emptyStageStats,
  GroupCommit,
  type QueueState,
  StageExecutor,
  type StoredSubmission,
  sleep,
} from './execution.ts';
import { pipelineMetrics } from './metrics.ts';
import { BoundedQueue } from './queue.ts';
import type {
  PipelineRunner,
  PipelineStats,
  RunnerContext,
  RunnerFactory,
  StageStats,
  SubmitInput,
  SubmitResult,
} from './runner.ts';
import { lockEmbeddedRunner } from './single-runner.ts';

/**
 * The embedded runner's checkpoint (its row in `pipeline_offsets`, one per
 * consumer): the log position every event stage has passed, persisted
 * after each batch. Named `events` before migration 6, which renamed it.
 */
export const EVENTS_OFFSET = 'embedded-runner';

interface Batch {
  items: unknown[];
  /** Highest log sequence number in the batch (0 when the batch carries no events). */
  seqTo: number;
  /** Events the batch carries, for backlog accounting. */
  events: number;
}

/** What the embedded runner is built from: the context every runner gets. */
export type EmbeddedRunnerOptions = RunnerContext;

/**
 * The in-process runner. The events table is the durable log: `submit`
 * commits events before it resolves, the stages read them in log order (from
 * memory while they keep up, from the table after a restart), and the
 * checkpoint advances only when a batch has passed every stage. Stages are
 * connected by bounded queues, so a slow stage slows its producer, and the
 * number of accepted-but-unprocessed events is capped: past it, `admit`
 * refuses with a retry hint.
 */
export class EmbeddedRunner implements PipelineRunner {
  readonly kind = 'embedded';
  private readonly opts: EmbeddedRunnerOptions;
  private readonly executor: StageExecutor;
  private readonly metrics;
  /** Submissions that arrive while one commits share the next transaction. */
  private readonly commits: GroupCommit;
  /** Events committed while the stages keep up, waiting for the first stage. */
  private readonly fresh: Array<{ seq: number; event: NormalisedEvent }> = [];
  private freshWaiter: (() => void) | undefined;
  private readonly queues: BoundedQueue<Batch>[];
  private readonly stageStats: StageStats[];
  private loops: Promise<void>[] = [];
  private running = false;
  private releaseLock: (() => Promise<void>) | undefined;
  private closing = false;
  private pending = 0;
  private processed = 0;
  private checkpoint = 0;
  /** Events with seq in (checkpoint, replayUntil] are read back from the store (after a restart). */
  private replayCursor = 0;
  private replayUntil = 0;
  private readonly drains = new DrainWaiters();
  /** Events per second through the whole chain, smoothed; feeds Retry-After. */
  private rate = 0;

  constructor(options: EmbeddedRunnerOptions) {
    this.opts = options;
    this.metrics = pipelineMetrics(options.metrics);
    this.queues = options.stages.map(() => new BoundedQueue<Batch>(options.config.stage_queue_batches));
    this.stageStats = options.stages.map(emptyStageStats);
    this.executor = new StageExecutor(options);
    this.commits = new GroupCommit({
      ...options,
      admit: (input, ahead) =>
        admitQueue(
          options.metrics,
          { ...this.queueState(), pending: this.pending + ahead },
          input.events.length,
        ),
      committed: (input, stored) => this.accept(input, stored),
    });
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { store } = this.opts;
    // One embedded runner per database: a second process refuses to start (single-runner.ts).
    this.releaseLock ??= await lockEmbeddedRunner(store, this.opts.logger);
    this.checkpoint = await store.offsets.get(EVENTS_OFFSET);
    this.replayCursor = this.checkpoint;
    this.replayUntil = await store.events.maxSeq();
    if (this.replayUntil > this.checkpoint) {
      this.pending = await store.events.countAfter(this.checkpoint);
      this.opts.logger.info(
        { pending: this.pending, checkpoint: this.checkpoint },
        'The pipeline resumes events accepted before the last stop.',
      );
    }
    this.updateGauges();
    this.running = true;
    this.loops = [this.feedLoop(), ...this.opts.stages.map((_, i) => this.stageLoop(i))];
  }

  admit(n: number): void {
    admitQueue(this.opts.metrics, this.queueState(), n, () => this.opts.pressure?.check(this.pending > 0));
  }

  /**
   * The queue's part of admission, which `submit` repeats: input already
   * decoded is stored if the queue has room, whatever the pressure, since
   * refusing it then would only make the client send it again.
   */
  private queueState(): QueueState {
    return {
      closing: this.closing,
      pending: this.pending,
      capacity: this.opts.config.queue_capacity,
      retryAfterSeconds: () => Math.max(1, Math.min(60, Math.ceil(this.pending / Math.max(this.rate, 1)))),
    };
  }

  /**
   * Group commit: a submission is admitted when its turn comes, committed
   * with the others waiting then, and resolves after that commit.
   */
  async submit(input: SubmitInput): Promise<SubmitResult> {
    const result = await this.commits.submit(input);
    return {
      stored: result.stored.length,
      duplicates: result.duplicates,
      dead_letters: result.deadLetters,
    };
  }

  /** A submission is committed (commits come in log order): count it and feed its new events. */
  private accept(input: SubmitInput, result: StoredSubmission): void {
    // The first event with an id is the one stored (a later one in the same submission is its duplicate).
    const byId = new Map<string, NormalisedEvent>();
    for (const e of input.events) if (!byId.has(e.id)) byId.set(e.id, e);
    for (const s of result.stored) {
      const event = byId.get(s.id);
      if (event) this.fresh.push({ seq: s.seq, event });
    }
    this.pending += result.stored.length;
    this.updateGauges();
    this.freshWaiter?.();
  }

  drain(timeoutMs = 60_000): Promise<void> {
    return this.drains.wait(() => this.pending, timeoutMs);
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.running) return this.unlock();
    this.closing = true;
    await drainBeforeStop(this, timeoutMs, this.opts.logger);
    this.running = false;
    this.freshWaiter?.();
    for (const q of this.queues) q.close();
    await Promise.allSettled(this.loops);
    await this.unlock();
  }

  private async unlock(): Promise<void> {
    const release = this.releaseLock;
    this.releaseLock = undefined;
    await release?.();
  }

  stats(): PipelineStats {
    return {
      runner: this.kind,
      pending: this.pending,
      capacity: this.opts.config.queue_capacity,
      processed: this.processed,
      checkpoint: this.checkpoint,
      stages: this.stageStats.map((s, i) => ({ ...s, queued_batches: this.queues[i]?.length ?? 0 })),
    };
  }

  // -------------------------------------------------------------- internals

  /** Take the next batch of events in log order: replayed from the store first, then fresh ones. */
  private async nextBatch(): Promise<Batch | undefined> {
    const size = this.opts.config.batch_size;
    while (this.running) {
      if (this.replayCursor < this.replayUntil) {
        const rows = await this.opts.store.events.afterSeq(this.replayCursor, size, this.replayUntil);
        if (rows.length === 0) {
          this.replayCursor = this.replayUntil;
          continue;
        }
        this.replayCursor = rows[rows.length - 1]!.seq;
        return { items: rows.map((r) => r.event), seqTo: this.replayCursor, events: rows.length };
      }
      if (this.fresh.length > 0) {
        const taken = this.fresh.splice(0, size);
        return {
          items: taken.map((t) => t.event),
          seqTo: taken[taken.length - 1]!.seq,
          events: taken.length,
        };
      }
      await new Promise<void>((resolve) => {
        this.freshWaiter = resolve;
      });
      this.freshWaiter = undefined;
    }
    return undefined;
  }

  private async feedLoop(): Promise<void> {
    const first = this.queues[0];
    if (!first) return;
    for (;;) {
      const batch = await this.nextBatch();
      if (!batch) return;
      try {
        await first.push(batch);
      } catch {
        return;
      }
      this.updateGauges();
    }
  }

  private async stageLoop(index: number): Promise<void> {
    const stage = this.opts.stages[index]!;
    const input = this.queues[index]!;
    const output = this.queues[index + 1];
    for (;;) {
      const batch = await input.shift();
      if (!batch) return;
      const started = process.hrtime.bigint();
      const outputs = await this.executor.run(stage, this.stageStats[index]!, batch.items);
      this.metrics.stageDuration.observe(
        { stage: stage.name },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
      const next: Batch = { items: outputs, seqTo: batch.seqTo, events: batch.events };
      if (output) {
        try {
          await output.push(next);
        } catch {
          return;
        }
      } else {
        await this.commit(next);
      }
      this.updateGauges();
    }
  }

  private async commit(batch: Batch): Promise<void> {
    if (batch.seqTo > this.checkpoint) {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.opts.store.offsets.set(EVENTS_OFFSET, batch.seqTo);
          break;
        } catch (err) {
          // Losing a checkpoint only means replaying a batch after a restart; keep trying briefly.
          if (attempt >= 5) {
            this.opts.logger.error(
              { err: describeError(err) },
              'The pipeline checkpoint could not be saved.',
            );
            break;
          }
          await sleep(100 * 2 ** attempt);
        }
      }
      this.checkpoint = batch.seqTo;
    }
    this.pending = Math.max(0, this.pending - batch.events);
    this.processed += batch.events;
    this.observeRate(batch.events);
    if (this.pending === 0) this.drains.release();
  }

  private lastRateAt = Date.now();
  private observeRate(n: number): void {
    const now = Date.now();
    const dt = Math.max(1, now - this.lastRateAt) / 1000;
    this.lastRateAt = now;
    const instant = n / dt;
    this.rate = this.rate === 0 ? instant : 0.8 * this.rate + 0.2 * instant;
  }

  private updateGauges(): void {
    const m = this.metrics;
    m.backlog.set(this.pending);
    m.queueDepth.set({ queue: 'events' }, this.fresh.length);
    this.opts.stages.forEach((s, i) => {
      m.queueDepth.set({ queue: s.name }, this.queues[i]?.length ?? 0);
    });
  }
}

/**
 * The registry entry of the embedded runner (`pipeline.runner: embedded`,
 * the default). Its settings are the shared `pipeline` fields.
 */
export const embeddedRunnerFactory = {
  type: 'embedded',
  description: 'in-process queues over the store',
  create: (ctx) => new EmbeddedRunner(ctx),
} satisfies RunnerFactory;
