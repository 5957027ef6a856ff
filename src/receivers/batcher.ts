import type { Logger } from 'pino';
import { AisocError, describeError, isBackpressure } from '../errors.ts';
import type { FramedRecord } from '../sources/framing.ts';
import type { DeadLetterInput } from '../store/index.ts';

export interface BatcherOptions {
  /** Lines submitted at once. */
  batchLines: number;
  /** Longest a line waits before its batch is submitted. */
  batchWaitMs: number;
  /** Lines held at most; past this, {@link LineBatcher.full} is true. */
  bufferLines: number;
  /** Longest wait before resubmitting a batch refused as overloaded. */
  overloadRetryMaxMs: number;
  /** Hand a batch to the pipeline; resolves when it is durable. */
  submit(records: FramedRecord[]): Promise<void>;
  /** Store dead letters (oversize messages). */
  submitDeadLetters(items: DeadLetterInput[]): Promise<void>;
  /** Called when back-pressure starts (true) and ends (false). */
  onPressure(on: boolean): void;
  /** Lines given up on, and why. */
  onDrop(n: number, reason: 'dropped_error' | 'dropped_shutdown'): void;
  onBatch(outcome: 'stored' | 'overloaded' | 'failed'): void;
  onBuffered(n: number): void;
  logger: Logger;
}

/** Attempts for a batch that fails for a reason other than overload, before its lines are dropped. */
const FAILURE_ATTEMPTS = 5;

const sleep = (ms: number, signal: { cancelled: boolean; wake?: () => void }) =>
  new Promise<void>((resolve) => {
    if (signal.cancelled) return resolve();
    const t = setTimeout(resolve, ms);
    signal.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });

/**
 * Collects lines from every connection of a receiver and submits them in
 * batches (every `batchLines` lines or `batchWaitMs`), one batch at a time,
 * in arrival order. When the pipeline answers `AISOC_ERR_OVERLOADED` (or
 * `AISOC_ERR_UNDER_PRESSURE`: the event loop lags or memory is high), the
 * batch is kept and resubmitted after the delay the runner asks for, and
 * {@link LineBatcher.pressure} turns on so TCP connections pause; it turns
 * off once the batch went through and the buffer is below half.
 *
 * @example
 * const b = new LineBatcher({ batchLines: 500, batchWaitMs: 200, bufferLines: 20000, … });
 * if (!b.full) b.push({ value: line });
 */
export class LineBatcher {
  private buffer: FramedRecord[] = [];
  private deadLetters: DeadLetterInput[] = [];
  private timer: NodeJS.Timeout | undefined;
  private due = false;
  private flushing: Promise<void> | undefined;
  private blocked = false;
  private pressureOn = false;
  private stopping = false;
  private readonly waiter: { cancelled: boolean; wake?: () => void } = { cancelled: false };

  constructor(private readonly opts: BatcherOptions) {}

  /** Lines held. */
  get size(): number {
    return this.buffer.length;
  }

  /** The buffer is full: callers drop (UDP) or must already be paused (TCP). */
  get full(): boolean {
    return this.buffer.length >= this.opts.bufferLines;
  }

  /** Whether producers that can wait (TCP) should pause. */
  get pressure(): boolean {
    return this.pressureOn;
  }

  push(record: FramedRecord): void {
    this.buffer.push(record);
    this.opts.onBuffered(this.buffer.length);
    if (this.buffer.length >= this.opts.batchLines) this.kick();
    else if (!this.timer) this.timer = setTimeout(() => this.onTimer(), this.opts.batchWaitMs);
    this.updatePressure();
  }

  pushDeadLetter(item: DeadLetterInput): void {
    // Dead letters are few and small (the record is cut to a preview); they ride with the next flush.
    if (this.deadLetters.length < this.opts.bufferLines) this.deadLetters.push(item);
    if (!this.timer) this.timer = setTimeout(() => this.onTimer(), this.opts.batchWaitMs);
  }

  /**
   * Submit everything held, waiting at most `timeoutMs` (overload retries
   * included); what is still held after that is dropped and counted.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + timeoutMs;
    this.due = true;
    while ((this.buffer.length > 0 || this.deadLetters.length > 0) && Date.now() < deadline) {
      this.kick();
      const flushing = this.flushing;
      if (!flushing) break;
      let timedOut = false;
      const t = setTimeout(
        () => {
          timedOut = true;
          this.waiter.cancelled = true;
          this.waiter.wake?.();
        },
        Math.max(0, deadline - Date.now()),
      );
      await flushing;
      clearTimeout(t);
      if (timedOut) break;
    }
    this.waiter.cancelled = true;
    this.waiter.wake?.();
    await this.flushing;
    if (this.buffer.length > 0) {
      this.opts.onDrop(this.buffer.length, 'dropped_shutdown');
      this.opts.logger.warn(
        { lines: this.buffer.length },
        'The syslog receiver stopped with lines the pipeline could not take in time; they were dropped.',
      );
      this.buffer = [];
      this.opts.onBuffered(0);
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    this.due = true;
    this.kick();
  }

  private kick(): void {
    if (this.flushing) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      // Lines that arrived during the flush may already make a batch (or be due).
      if (
        !this.waiter.cancelled &&
        (this.buffer.length >= this.opts.batchLines || (this.due && this.buffer.length > 0))
      )
        this.kick();
      else if (this.buffer.length > 0 && !this.timer && !this.stopping)
        this.timer = setTimeout(() => this.onTimer(), this.opts.batchWaitMs);
    });
  }

  private updatePressure(): void {
    const on = this.blocked || this.buffer.length >= this.opts.bufferLines;
    const off = !this.blocked && this.buffer.length < this.opts.bufferLines / 2;
    if (on && !this.pressureOn) {
      this.pressureOn = true;
      this.opts.onPressure(true);
    } else if (off && this.pressureOn) {
      this.pressureOn = false;
      this.opts.onPressure(false);
    }
  }

  private async flush(): Promise<void> {
    if (this.deadLetters.length > 0) {
      const items = this.deadLetters;
      this.deadLetters = [];
      try {
        await this.opts.submitDeadLetters(items);
      } catch (err) {
        this.opts.logger.warn(
          { err: describeError(err), count: items.length },
          'Oversize syslog messages could not be dead-lettered.',
        );
      }
    }
    let failures = 0;
    let overloadDelay = 100;
    while (
      this.buffer.length > 0 &&
      (this.due || this.buffer.length >= this.opts.batchLines || this.stopping)
    ) {
      if (this.waiter.cancelled) return;
      const batch = this.buffer.slice(0, this.opts.batchLines);
      try {
        await this.opts.submit(batch);
        this.opts.onBatch('stored');
        this.blocked = false;
        this.done(batch.length);
        failures = 0;
        overloadDelay = 100;
      } catch (err) {
        if (err instanceof AisocError && err.code === 'AISOC_ERR_VALIDATION' && err.details?.outcome) {
          // Every line was refused by the source; they are stored as dead letters, so the batch is done.
          this.opts.onBatch('stored');
          this.done(batch.length);
          continue;
        }
        if (isBackpressure(err)) {
          this.opts.onBatch('overloaded');
          if (!this.blocked) {
            this.opts.logger.warn(
              { retry_after_s: err.retryAfterSeconds, held: this.buffer.length },
              'The pipeline is full: syslog TCP connections are paused and UDP messages beyond the buffer are dropped until it drains.',
            );
          }
          this.blocked = true;
          this.updatePressure();
          const hinted = (err.retryAfterSeconds ?? 1) * 1000;
          // Start soon and back off to the runner's hint, so a short stall does not hold TCP for seconds.
          await sleep(Math.min(overloadDelay, hinted, this.opts.overloadRetryMaxMs), this.waiter);
          overloadDelay = Math.min(overloadDelay * 2, this.opts.overloadRetryMaxMs);
          continue;
        }
        failures++;
        this.opts.onBatch('failed');
        if (failures >= FAILURE_ATTEMPTS) {
          this.opts.logger.error(
            { err: describeError(err), lines: batch.length },
            'A batch of syslog lines failed repeatedly and was dropped.',
          );
          this.opts.onDrop(batch.length, 'dropped_error');
          this.done(batch.length);
          failures = 0;
          continue;
        }
        await sleep(Math.min(100 * 2 ** failures, this.opts.overloadRetryMaxMs), this.waiter);
      }
    }
    this.due = false;
  }

  private done(n: number): void {
    this.buffer.splice(0, n);
    this.opts.onBuffered(this.buffer.length);
    this.updatePressure();
  }
}
