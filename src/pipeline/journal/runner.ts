import { join } from 'node:path';
import type { AppConfig } from '../../app-config.ts';
import { AisocError, describeError, isBackpressure } from '../../errors.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import type { DeadLetterInput } from '../../store/index.ts';
import { admitQueue, DrainWaiters } from '../execution.ts';
import { admissionMetrics, journalMetrics, pipelineMetrics } from '../metrics.ts';
import type { PipelineRunner, PipelineStats, RunnerContext, SubmitInput, SubmitResult } from '../runner.ts';
import type { JournalConfig } from './config.ts';
import { FRAME_HEADER_BYTES } from './frame.ts';
import { Journal } from './journal.ts';

/** The journal loader's checkpoint in `pipeline_offsets`: the journal position the store holds everything before. */
export const JOURNAL_OFFSET = 'journal-loader';

/** Failures at one position after which frames are loaded one at a time. */
const SINGLE_AFTER_FAILURES = 3;
/** Failures at one position (the last ones of a single frame) after which that frame is dead-lettered. */
const SET_ASIDE_AFTER_FAILURES = 6;

/**
 * Whether the store refused a load for what it holds (an invalid value: SQLSTATE
 * classes 22 and 23, or our validation error), not because it is down or busy.
 */
function refusedForContent(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'AISOC_ERR_VALIDATION') return true;
    if (typeof code === 'string' && /^(22|23)[0-9A-Z]{3}$/.test(code)) return true;
  }
  return false;
}

/** What a frame's payload holds: one ingest request, normalised. */
interface FramePayload {
  events: NormalisedEvent[];
  deadLetters: DeadLetterInput[];
}

export interface JournaledRunnerOptions {
  /** `pipeline.journal`. */
  config: JournalConfig;
  /** Where the segments are (`pipeline.journal.dir`, resolved). */
  dir: string;
}

/**
 * The durable ingest journal in front of a runner (`pipeline.journal`):
 * `submit` appends the normalised submission as one frame and resolves
 * once an fdatasync covers it (group commit: frames appended while one
 * fdatasync runs share the next), so an acknowledgement means durable in
 * the journal. A loader reads the frames back in order and submits them to
 * the runner underneath, whose store drops duplicates by event id; each
 * load commits the loader's checkpoint in the same transaction, so a frame
 * is loaded exactly once whatever crashes when. `drain` waits for the
 * journal to be loaded, then for the runner; past
 * `pipeline.journal.max_pending_bytes` not yet loaded, ingestion is
 * refused with 429 and a retry hint.
 *
 * @example
 * const runner = new JournaledRunner(createRunner('embedded', ctx), ctx, { config: ctx.config.journal, dir });
 * await runner.start();
 */
export class JournaledRunner implements PipelineRunner {
  readonly kind: string;
  readonly retentionFloor?: () => Promise<number>;
  private readonly journal: Journal;
  private readonly metrics;
  private readonly refusals;
  private readonly drains = new DrainWaiters();
  private loop: Promise<void> | undefined;
  private closing = false;
  private stopping = false;
  private stopped = false;
  private wake: (() => void) | undefined;
  private interrupt: (() => void) | undefined;
  /** Journal bytes loaded per second, smoothed; feeds Retry-After. */
  private rate = 0;
  private lastRateAt = Date.now();

  constructor(
    private readonly inner: PipelineRunner,
    private readonly ctx: RunnerContext,
    private readonly opts: JournaledRunnerOptions,
  ) {
    this.kind = inner.kind;
    if (inner.retentionFloor) {
      const floor = inner.retentionFloor.bind(inner);
      this.retentionFloor = floor;
    }
    this.metrics = journalMetrics(ctx.metrics);
    this.refusals = admissionMetrics(ctx.metrics).admissionRefusals;
    this.refusals.inc({ reason: 'journal' }, 0);
    this.journal = new Journal({
      dir: opts.dir,
      segmentBytes: opts.config.segment_bytes,
      logger: ctx.logger,
      metrics: ctx.metrics,
    });
  }

  async start(): Promise<void> {
    if (this.loop) return;
    await this.inner.start();
    const checkpoint = await this.ctx.store.offsets.get(JOURNAL_OFFSET);
    const found = await this.journal.open(checkpoint);
    if (found.frames > 0)
      this.ctx.logger.info(
        { frames: found.frames, events: found.events, bytes: found.bytes },
        'The ingest journal holds frames not yet loaded into the store; they load now.',
      );
    this.journal.onDurable = () => this.wake?.();
    this.loop = this.loadLoop();
  }

  /**
   * Admission: refused while stopping, under pressure (event loop, memory),
   * or with more than `max_pending_bytes` of the journal not yet loaded.
   * The queue behind it does not refuse here: the journal is the buffer.
   */
  admit(_n: number): void {
    admitQueue(
      this.ctx.metrics,
      { closing: this.closing, pending: 0, capacity: 1, retryAfterSeconds: () => 1 },
      0,
      () => this.ctx.pressure?.check(this.journal.pendingBytes > 0 || this.inner.stats().pending > 0),
    );
    this.admitBytes(0);
  }

  private admitBytes(extra: number): void {
    const pending = this.journal.pendingBytes;
    const max = this.opts.config.max_pending_bytes;
    if (pending === 0 || pending + extra <= max) return;
    this.refusals.inc({ reason: 'journal' });
    const retryAfter = Math.max(1, Math.min(60, Math.ceil(pending / Math.max(this.rate, 1))));
    throw new AisocError(
      'AISOC_ERR_OVERLOADED',
      `The ingest journal holds ${pending} bytes not yet loaded into the store (pipeline.journal.max_pending_bytes ${max}); retry in ${retryAfter} s.`,
      { retryAfterSeconds: retryAfter, details: { pending_bytes: pending, max_pending_bytes: max } },
    );
  }

  /** Append the submission as one frame; resolves once it is fsynced (journaled: true). */
  async submit(input: SubmitInput): Promise<SubmitResult> {
    if (this.closing) {
      admitQueue(this.ctx.metrics, { closing: true, pending: 0, capacity: 1, retryAfterSeconds: () => 5 }, 0);
    }
    const ids = new Set<string>();
    for (const e of input.events) ids.add(e.id);
    const result: SubmitResult = {
      stored: ids.size,
      duplicates: input.events.length - ids.size,
      dead_letters: input.deadLetters.length,
      journaled: true,
    };
    if (input.events.length === 0 && input.deadLetters.length === 0) return result;
    const body: FramePayload = { events: input.events, deadLetters: input.deadLetters };
    const payload = Buffer.from(JSON.stringify(body));
    this.admitBytes(payload.length + FRAME_HEADER_BYTES);
    await this.journal.append(payload, input.events.length);
    return result;
  }

  /** Resolve once the journal is loaded into the store and the runner underneath has drained. */
  async drain(timeoutMs = 60_000): Promise<void> {
    const started = Date.now();
    await this.drains.wait(() => this.journal.pendingBytes, timeoutMs);
    await this.inner.drain(Math.max(1, timeoutMs - (Date.now() - started)));
  }

  /**
   * Stop taking input, fsync what is queued, let the loader finish what it
   * can within `timeoutMs` (the rest loads at the next start), then stop
   * the runner underneath with the time left.
   */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.closing = true;
    const started = Date.now();
    await this.journal.flushed();
    if (this.loop) {
      try {
        await this.drains.wait(() => this.journal.pendingBytes, timeoutMs);
      } catch {
        this.ctx.logger.warn(
          { pending_bytes: this.journal.pendingBytes, pending_frames: this.journal.pendingFrames },
          'The ingest journal was not fully loaded before stop; the rest loads at the next start.',
        );
      }
    }
    this.stopping = true;
    this.wake?.();
    this.interrupt?.();
    await this.loop;
    await this.journal.close();
    await this.inner.stop(Math.max(0, timeoutMs - (Date.now() - started)));
  }

  stats(): PipelineStats {
    const s = this.inner.stats();
    const j = this.journal;
    return {
      ...s,
      pending: s.pending + j.pendingEvents,
      journal: {
        pending_bytes: j.pendingBytes,
        pending_frames: j.pendingFrames,
        pending_events: j.pendingEvents,
        segments: j.segmentCount,
        checkpoint: j.loadedTo,
      },
    };
  }

  // -------------------------------------------------------------- the loader

  private async loadLoop(): Promise<void> {
    const { logger } = this.ctx;
    let failures = 0;
    let failedAt = -1;
    while (!this.stopping) {
      const from = this.journal.loadedTo;
      if (from >= this.journal.durableEnd) {
        if (this.journal.pendingBytes === 0) this.drains.release();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      try {
        // After repeated failures at one position, frames go one at a time, to find the one at fault.
        const loaded = await this.loadFrom(from, failedAt === from && failures >= SINGLE_AFTER_FAILURES);
        if (!loaded) return;
        failures = 0;
        failedAt = -1;
      } catch (err) {
        if (failedAt !== from) {
          failedAt = from;
          failures = 0;
        }
        failures++;
        logger.error(
          { err: describeError(err), position: from, attempt: failures },
          'Loading the ingest journal into the store failed; it is tried again.',
        );
        if (failures >= SET_ASIDE_AFTER_FAILURES && refusedForContent(err)) {
          // One frame the store keeps refusing for what it holds must not hold back everything behind it.
          // A store that is down or busy refuses everything alike: those are waited out, never set aside.
          try {
            await this.setAside(from, err);
          } catch (e) {
            logger.error({ err: describeError(e) }, 'A journal frame could not be dead-lettered.');
            await this.pause(5_000);
          }
          continue;
        }
        await this.pause(Math.min(5_000, 100 * 2 ** failures));
      }
    }
  }

  /**
   * The frame at `from`, which the store refused alone again and again: kept
   * whole in the dead-letter table with the reason, and passed, in one
   * transaction.
   */
  private async setAside(from: number, err: unknown): Promise<void> {
    const { store, logger, config } = this.ctx;
    const { frames } = await this.journal.read(from, 1);
    const frame = frames[0];
    if (!frame) return;
    // The whole frame is kept on disk (fsynced) before the checkpoint passes it: the dead letter holds its start.
    const kept = await this.journal.keepRejected(frame);
    const record = frame.payload.subarray(0, config.dead_letter_record_bytes).toString('utf8');
    await store.transaction(async (tx) => {
      await tx.deadLetters.insert([
        {
          source: 'journal',
          stage: 'journal',
          code: 'AISOC_ERR_STORE',
          reason: `The store refused this ingest journal frame (${frame.events} events) ${SET_ASIDE_AFTER_FAILURES} times: ${describeError(err)}; the whole frame is kept in ${kept}`,
          record,
        },
      ]);
      await tx.offsets.set(JOURNAL_OFFSET, frame.end);
    });
    pipelineMetrics(this.ctx.metrics).deadLetters.inc({ stage: 'journal', source: 'journal' });
    logger.error(
      { position: frame.start, events: frame.events, err: describeError(err) },
      'The store keeps refusing a journal frame; it is kept in the dead-letter table and loading goes on.',
    );
    this.metrics.journalFramesLoaded.inc();
    await this.journal.loaded(frame.end, 1, frame.events);
  }

  /** Load the frames at `from` (one transaction's worth, or one frame); false when stopped before they were. */
  private async loadFrom(from: number, single = false): Promise<boolean> {
    const { config, logger, store } = this.ctx;
    const read = await this.journal.read(from, single ? 1 : this.opts.config.load_batch_bytes);
    const events: NormalisedEvent[] = [];
    const deadLetters: DeadLetterInput[] = [];
    let next = read.frames.length > 0 ? from : read.next;
    let frames = 0;
    let frameEvents = 0;
    for (const f of read.frames) {
      let body: FramePayload;
      try {
        body = JSON.parse(f.payload.toString('utf8')) as FramePayload;
        if (!Array.isArray(body.events) || !Array.isArray(body.deadLetters))
          throw new Error('not a journal frame payload');
      } catch (err) {
        // The CRC matched, so this is what was written: a bug, not damage. Say so and go on.
        logger.error(
          { position: f.start, err: describeError(err) },
          'A journal frame does not hold a submission; it is skipped.',
        );
        frames++;
        frameEvents += f.events;
        next = f.end;
        continue;
      }
      const rows = body.events.length + body.deadLetters.length;
      if (frames > 0 && events.length + deadLetters.length + rows > config.group_commit_rows) break;
      for (const e of body.events) events.push(e);
      for (const d of body.deadLetters) deadLetters.push(d);
      frames++;
      frameEvents += f.events;
      next = f.end;
    }
    if (events.length === 0 && deadLetters.length === 0) {
      await store.offsets.set(JOURNAL_OFFSET, next);
    } else {
      const stored = await this.submitLoad({
        events,
        deadLetters,
        checkpoint: { name: JOURNAL_OFFSET, seq: next },
      });
      if (!stored) return false;
    }
    this.metrics.journalFramesLoaded.inc(frames);
    this.observeRate(next - from);
    await this.journal.loaded(next, frames, frameEvents);
    return true;
  }

  /** Submit to the runner underneath, waiting while its queue is full; false when stopped first. */
  private async submitLoad(input: SubmitInput): Promise<boolean> {
    while (!this.stopping) {
      const { pending, capacity } = this.inner.stats();
      if (pending > 0 && pending + input.events.length > capacity) {
        await this.pause(20);
        continue;
      }
      try {
        await this.inner.submit(input);
        return true;
      } catch (err) {
        if (!isBackpressure(err)) throw err;
        await this.pause(50);
      }
    }
    return false;
  }

  /** Wait `ms`, or less when stopping. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.interrupt = done;
    });
  }

  private observeRate(bytes: number): void {
    const now = Date.now();
    const dt = Math.max(1, now - this.lastRateAt) / 1000;
    this.lastRateAt = now;
    const instant = bytes / dt;
    this.rate = this.rate === 0 ? instant : 0.8 * this.rate + 0.2 * instant;
  }
}

/**
 * Put the ingest journal in front of `runner` when `pipeline.journal.enabled`
 * (otherwise return it as it is). Only the embedded runner takes one: the
 * nats runner acknowledges from a JetStream stream, which is a journal
 * already; refused with `AISOC_ERR_CONFIG` naming `pipeline.journal.enabled`.
 */
export function withJournal(
  runner: PipelineRunner,
  ctx: RunnerContext,
  config: Pick<AppConfig, 'data_dir' | 'pipeline'>,
): PipelineRunner {
  const journal = config.pipeline.journal;
  if (!journal.enabled) return runner;
  assertJournalRunner(config.pipeline.runner, journal.enabled);
  return new JournaledRunner(runner, ctx, {
    config: journal,
    dir: journal.dir ?? join(config.data_dir, 'journal'),
  });
}

/** Refuse `pipeline.journal.enabled` with a runner other than the embedded one, naming the field. */
export function assertJournalRunner(runner: string, enabled: boolean): void {
  if (!enabled || runner === 'embedded') return;
  const why =
    runner === 'nats'
      ? 'the nats runner acknowledges ingestion once JetStream has stored it, and that stream already is the journal'
      : `the journal loads into the embedded runner only, not ${runner}`;
  throw new AisocError(
    'AISOC_ERR_CONFIG',
    `pipeline.journal.enabled: true cannot be used with pipeline.runner: ${runner}: ${why}. Turn the journal off or use pipeline.runner: embedded.`,
    { field: 'pipeline.journal.enabled' },
  );
}
