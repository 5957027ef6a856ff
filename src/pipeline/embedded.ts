import type { Logger } from 'pino';
import { AisocError, describeError } from '../errors.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { DeadLetterInput, Store } from '../store/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { PipelineConfig } from './config.ts';
import { admissionMetrics, pipelineMetrics } from './metrics.ts';
import type { PressureMonitor } from './pressure.ts';
import { BoundedQueue, Mutex } from './queue.ts';
import type { PipelineRunner, PipelineStats, StageStats, SubmitInput, SubmitResult } from './runner.ts';
import type { AnyStage, Rejection, StageContext } from './stage.ts';

/** Events (or dead letters) per insert statement. */
const INSERT_SLICE = 100;

/** The log position every event stage has passed; persisted after each batch. */
export const EVENTS_OFFSET = 'events';

interface Batch {
  items: unknown[];
  /** Highest log sequence number in the batch (0 when the batch carries no events). */
  seqTo: number;
  /** Events the batch carries, for backlog accounting. */
  events: number;
}

export interface EmbeddedRunnerOptions {
  store: Store;
  logger: Logger;
  metrics: Metrics;
  config: PipelineConfig;
  /** Stages every event passes, in order; the last one's outputs are discarded (stages persist what they produce). */
  stages: AnyStage[];
  /** Event-loop delay and memory, checked by `admit` beside the queue. */
  pressure?: PressureMonitor;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function truncate(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  return `${Buffer.from(text).subarray(0, max).toString('utf8')}…[truncated]`;
}

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
  private readonly ctx: StageContext;
  private readonly metrics;
  private readonly submitLock = new Mutex();
  /** Events committed while the stages keep up, waiting for the first stage. */
  private readonly fresh: Array<{ seq: number; event: NormalisedEvent }> = [];
  private freshWaiter: (() => void) | undefined;
  private readonly queues: BoundedQueue<Batch>[];
  private readonly stageStats: StageStats[];
  private loops: Promise<void>[] = [];
  private running = false;
  private closing = false;
  private pending = 0;
  private processed = 0;
  private checkpoint = 0;
  /** Events with seq in (checkpoint, replayUntil] are read back from the store (after a restart). */
  private replayCursor = 0;
  private replayUntil = 0;
  private drainWaiters: Array<() => void> = [];
  /** Events per second through the whole chain, smoothed; feeds Retry-After. */
  private rate = 0;

  constructor(options: EmbeddedRunnerOptions) {
    this.opts = options;
    this.metrics = { ...pipelineMetrics(options.metrics), ...admissionMetrics(options.metrics) };
    this.ctx = { store: options.store, logger: options.logger, metrics: options.metrics };
    this.queues = options.stages.map(() => new BoundedQueue<Batch>(options.config.stage_queue_batches));
    this.stageStats = options.stages.map((s) => ({
      name: s.name,
      processed: 0,
      dead_lettered: 0,
      retries: 0,
      queued_batches: 0,
    }));
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { store } = this.opts;
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
    this.admitQueue(n, () => this.opts.pressure?.check(this.pending > 0));
  }

  /**
   * The queue's part of admission, which `submit` repeats: input already
   * decoded is stored if the queue has room, whatever the pressure, since
   * refusing it then would only make the client send it again.
   */
  private admitQueue(n: number, before?: () => void): void {
    if (this.closing) {
      this.metrics.admissionRefusals.inc({ reason: 'shutting_down' });
      throw new AisocError('AISOC_ERR_SHUTTING_DOWN', 'The server is shutting down; retry later.', {
        retryAfterSeconds: 5,
      });
    }
    before?.();
    const cap = this.opts.config.queue_capacity;
    // A batch larger than the whole capacity is admitted only into an empty pipeline, so it can never wait forever.
    if (this.pending > 0 && this.pending + n > cap) {
      this.metrics.admissionRefusals.inc({ reason: 'queue' });
      const retryAfter = Math.max(1, Math.min(60, Math.ceil(this.pending / Math.max(this.rate, 1))));
      throw new AisocError(
        'AISOC_ERR_OVERLOADED',
        `The pipeline holds ${this.pending} unprocessed events (capacity ${cap}); retry in ${retryAfter} s.`,
        { retryAfterSeconds: retryAfter, details: { pending: this.pending, capacity: cap } },
      );
    }
  }

  async submit(input: SubmitInput): Promise<SubmitResult> {
    return this.submitLock.run(async () => {
      this.admitQueue(input.events.length);
      const { store } = this.opts;
      const deadLetters = input.deadLetters.map((d) => ({
        ...d,
        record: truncate(d.record, this.opts.config.dead_letter_record_bytes),
      }));
      const result = await store.transaction(async (tx) => {
        // One statement per slice: the embedded database runs each on this thread, so a large body
        // inserted in one statement would hold the event loop for all of it. One transaction still.
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
      const byId = new Map(input.events.map((e) => [e.id, e]));
      for (const s of result.stored) {
        const event = byId.get(s.id);
        if (event) this.fresh.push({ seq: s.seq, event });
      }
      this.pending += result.stored.length;
      for (const d of deadLetters) this.metrics.deadLetters.inc({ stage: d.stage, source: d.source });
      this.updateGauges();
      this.freshWaiter?.();
      return {
        stored: result.stored.length,
        duplicates: result.duplicates,
        dead_letters: deadLetters.length,
      };
    });
  }

  async drain(timeoutMs = 60_000): Promise<void> {
    if (this.pending === 0) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.drainWaiters.push(resolve);
        timer = setTimeout(
          () =>
            reject(
              new AisocError(
                'AISOC_ERR_INTERNAL',
                `The pipeline did not drain within ${timeoutMs} ms (${this.pending} events pending).`,
              ),
            ),
          timeoutMs,
        );
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.running) return;
    this.closing = true;
    try {
      await this.drain(timeoutMs);
    } catch (err) {
      this.opts.logger.warn(
        { err: describeError(err), pending: this.pending },
        'The pipeline stopped before draining; the rest resumes at next start.',
      );
    }
    this.running = false;
    this.freshWaiter?.();
    for (const q of this.queues) q.close();
    await Promise.allSettled(this.loops);
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
      const outputs = await this.runStage(index, stage, batch.items);
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

  /** Run one stage over a batch with retries; items that keep failing alone are dead-lettered. */
  private async runStage(index: number, stage: AnyStage, items: unknown[]): Promise<unknown[]> {
    const stats = this.stageStats[index]!;
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

  private async reject(stage: string, rejected: Rejection[]): Promise<void> {
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
    if (this.pending === 0) for (const w of this.drainWaiters.splice(0)) w();
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

function isEvent(v: unknown): v is NormalisedEvent {
  return typeof v === 'object' && v !== null && 'source' in v && 'class_uid' in v;
}
