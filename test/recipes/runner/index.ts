/**
 * Example for docs/ARCHITECTURE.md, "How to add a pipeline runner": written
 * as that recipe says (`src/pipeline/serial/index.ts` in the product);
 * `test/recipes.test.ts` runs the runner conformance suite on it through an
 * extended registry, and a runtime runs on it.
 *
 * The serial runner keeps no queue of its own: the events table is the log,
 * and one loop reads the next batch after its checkpoint, passes it through
 * every stage in turn, and moves the checkpoint. Simpler than the embedded
 * runner (no stage overlaps another) and slower; it shares the embedded
 * runner's checkpoint (`EVENTS_OFFSET`), which retention reads, so either
 * runner picks up where the other stopped.
 */
import { z } from 'zod';
import { EVENTS_OFFSET } from '../../../src/pipeline/embedded.ts';
import {
  admitQueue,
  DrainWaiters,
  drainBeforeStop,
  emptyStageStats,
  type QueueState,
  StageExecutor,
  sleep,
  storeSubmission,
} from '../../../src/pipeline/execution.ts';
import { pipelineMetrics } from '../../../src/pipeline/metrics.ts';
import { Mutex } from '../../../src/pipeline/queue.ts';
import type {
  PipelineRunner,
  PipelineStats,
  RunnerContext,
  RunnerFactory,
  StageStats,
  SubmitInput,
  SubmitResult,
} from '../../../src/pipeline/runner.ts';

/** `pipeline.serial`: the runner's own settings, beside the shared `pipeline` fields it honours. */
export const SerialConfig = z
  .strictObject({
    pause_ms: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Pause after each batch, in ms, leaving the event loop to other work'),
  })
  .describe('Serial runner: one loop over the events table');
export type SerialConfig = z.infer<typeof SerialConfig>;

export class SerialRunner implements PipelineRunner {
  readonly kind = 'serial';
  private readonly executor: StageExecutor;
  private readonly stageStats: StageStats[];
  private readonly metrics;
  private readonly settings: SerialConfig;
  private readonly submitLock = new Mutex();
  private loop: Promise<void> | undefined;
  private running = false;
  private closing = false;
  /** Set by submit: the loop reads again instead of waiting. */
  private more = false;
  private wake: (() => void) | undefined;
  private readonly drains = new DrainWaiters();
  private checkpoint = 0;
  private pending = 0;
  private processed = 0;

  constructor(private readonly ctx: RunnerContext) {
    this.executor = new StageExecutor(ctx);
    this.stageStats = ctx.stages.map(emptyStageStats);
    this.metrics = pipelineMetrics(ctx.metrics);
    // With a line in RUNNERS, `ctx.config.serial` is this section, typed and parsed; an example outside the
    // registry's type reads it as given (a config built without it has none: the defaults).
    this.settings = SerialConfig.parse((ctx.config as { serial?: unknown }).serial ?? {});
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.checkpoint = await this.ctx.store.offsets.get(EVENTS_OFFSET);
    this.pending = await this.ctx.store.events.countAfter(this.checkpoint);
    this.metrics.backlog.set(this.pending);
    this.running = true;
    this.loop = this.run();
  }

  admit(n: number): void {
    admitQueue(this.ctx.metrics, this.queueState(), n, () => this.ctx.pressure?.check(this.pending > 0));
  }

  private queueState(): QueueState {
    return {
      closing: this.closing,
      pending: this.pending,
      capacity: this.ctx.config.queue_capacity,
      // A batch a turn: the backlog in batches, as seconds, is a fair guess.
      retryAfterSeconds: () =>
        Math.max(1, Math.min(60, Math.ceil(this.pending / this.ctx.config.batch_size))),
    };
  }

  submit(input: SubmitInput): Promise<SubmitResult> {
    return this.submitLock.run(async () => {
      admitQueue(this.ctx.metrics, this.queueState(), input.events.length);
      const r = await storeSubmission(this.ctx.store, input, this.ctx);
      this.pending += r.stored.length;
      this.metrics.backlog.set(this.pending);
      this.more = true;
      this.wake?.();
      return { stored: r.stored.length, duplicates: r.duplicates, dead_letters: r.deadLetters };
    });
  }

  drain(timeoutMs = 60_000): Promise<void> {
    return this.drains.wait(() => this.pending, timeoutMs);
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.running) return;
    this.closing = true;
    await drainBeforeStop(this, timeoutMs, this.ctx.logger);
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  stats(): PipelineStats {
    return {
      runner: this.kind,
      pending: this.pending,
      capacity: this.ctx.config.queue_capacity,
      processed: this.processed,
      checkpoint: this.checkpoint,
      stages: this.stageStats.map((s) => ({ ...s })),
    };
  }

  /** The one loop: the next batch after the checkpoint, through every stage, then the checkpoint. */
  private async run(): Promise<void> {
    const { store, config } = this.ctx;
    while (this.running) {
      this.more = false;
      const rows = await store.events.afterSeq(this.checkpoint, config.batch_size);
      if (rows.length === 0) {
        // Checked in the same turn as the waiter is set: a submit or stop since the read is not missed.
        if (!this.more && this.running) await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      let items: unknown[] = rows.map((r) => r.event);
      for (const [i, stage] of this.ctx.stages.entries())
        items = await this.executor.run(stage, this.stageStats[i]!, items);
      this.checkpoint = rows[rows.length - 1]!.seq;
      await store.offsets.set(EVENTS_OFFSET, this.checkpoint);
      this.pending = Math.max(0, this.pending - rows.length);
      this.processed += rows.length;
      this.metrics.backlog.set(this.pending);
      if (this.pending === 0) this.drains.release();
      if (this.settings.pause_ms > 0) await sleep(this.settings.pause_ms);
    }
  }
}

/** The registry entry: one line `serial: serialRunnerFactory,` in `RUNNERS` would ship it. */
export const serialRunnerFactory = {
  type: 'serial',
  description: 'one loop over the events table, a batch at a time through every stage',
  configSchema: SerialConfig,
  create: (ctx) => new SerialRunner(ctx),
} satisfies RunnerFactory<SerialConfig>;
