/**
 * Admission by the process's health, beside the queue: when the event loop
 * falls behind or memory runs high, new input is refused with 503
 * `AISOC_ERR_UNDER_PRESSURE` and a `Retry-After`, before its body is read,
 * so the work already accepted drains and `/health` keeps answering.
 *
 * Event-loop delay comes from `perf_hooks.monitorEventLoopDelay` (the delay
 * of a 10 ms timer, as Node measures it), read and reset every
 * `pressure_sample_ms`: input is refused when the maximum of each of the
 * last two windows is above `max_event_loop_delay_ms`. One long pause (a
 * major garbage collection, start-up) does not shed load; lag that persists,
 * which is what load causes, does within two windows. Memory is the resident set size against
 * `max_rss_bytes`; since RSS does not fall at once when load stops (freed
 * heap is returned lazily and the embedded database's memory never
 * shrinks), memory refuses input only while there is accepted work to drain,
 * so a high but idle process is never locked out.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { AisocError } from '../errors.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { PipelineConfig } from './config.ts';
import { admissionMetrics } from './metrics.ts';

export interface PressureSample {
  /** Largest event-loop delay over the last window, in ms. */
  eventLoopDelayMs: number;
  rssBytes: number;
}

export interface PressureReading extends PressureSample {
  /** The smallest window maximum among the last windows: the delay that persisted, in ms. */
  sustainedDelayMs: number;
  /** Why input is refused now, if it is. */
  refusing?: 'event_loop' | 'memory';
}

/** Windows in a row whose delay must exceed the limit before input is refused. */
const LAG_WINDOWS = 2;

export interface PressureOptions {
  config: Pick<PipelineConfig, 'max_event_loop_delay_ms' | 'max_rss_bytes' | 'pressure_sample_ms'>;
  metrics?: Metrics;
  /** Replace the measurement (tests drive the check with it; call `sample()` to take a reading). */
  probe?: () => PressureSample;
}

/**
 * @example
 * const pressure = new PressureMonitor({ config: config.pipeline, metrics });
 * pressure.start();
 * pressure.check(pending > 0); // throws AISOC_ERR_UNDER_PRESSURE (503) when the loop lags or memory is high
 */
export class PressureMonitor {
  private histogram?: IntervalHistogram;
  private timer?: NodeJS.Timeout;
  private last: PressureSample = { eventLoopDelayMs: 0, rssBytes: 0 };
  private recent: number[] = [];
  private readonly metrics?: ReturnType<typeof admissionMetrics>;

  constructor(private readonly options: PressureOptions) {
    if (options.metrics) this.metrics = admissionMetrics(options.metrics);
  }

  /** Begin sampling (unref'd: it never holds the process open). */
  start(): void {
    if (this.timer) return;
    if (!this.options.probe) {
      this.histogram = monitorEventLoopDelay({ resolution: 10 });
      this.histogram.enable();
    }
    this.timer = setInterval(() => this.sample(), this.options.config.pressure_sample_ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.histogram?.disable();
    this.histogram = undefined;
  }

  /** Forget past windows (the server calls this once listening: start-up pauses are not load). */
  reset(): void {
    this.histogram?.reset();
    this.recent = [];
  }

  /** Take a reading now (the timer does this every `pressure_sample_ms`). */
  sample(): PressureSample {
    if (this.options.probe) {
      this.last = this.options.probe();
    } else {
      const h = this.histogram;
      // The histogram holds nanoseconds; an empty window reads as no delay.
      const delay = h && h.count > 0 ? h.max / 1e6 : 0;
      h?.reset();
      this.last = { eventLoopDelayMs: delay, rssBytes: process.memoryUsage.rss() };
    }
    this.recent.push(this.last.eventLoopDelayMs);
    if (this.recent.length > LAG_WINDOWS) this.recent.shift();
    const m = this.metrics;
    m?.admissionEventLoopDelay.set(this.last.eventLoopDelayMs / 1000);
    m?.admissionRss.set(this.last.rssBytes);
    return this.last;
  }

  /** The last reading and whether it refuses input (with work to drain: `busy`). */
  reading(busy = true): PressureReading {
    const { max_event_loop_delay_ms, max_rss_bytes } = this.options.config;
    const sustained = this.recent.length < LAG_WINDOWS ? 0 : Math.min(...this.recent);
    const r: PressureReading = { ...this.last, sustainedDelayMs: sustained };
    if (max_event_loop_delay_ms > 0 && sustained > max_event_loop_delay_ms) r.refusing = 'event_loop';
    else if (busy && max_rss_bytes > 0 && r.rssBytes > max_rss_bytes) r.refusing = 'memory';
    return r;
  }

  /**
   * Throw `AISOC_ERR_UNDER_PRESSURE` when input should wait. `busy` says
   * whether accepted work is still draining (memory refuses only then).
   */
  check(busy: boolean): void {
    const r = this.reading(busy);
    if (!r.refusing) return;
    this.metrics?.admissionRefusals.inc({ reason: r.refusing });
    const { max_event_loop_delay_ms, max_rss_bytes } = this.options.config;
    if (r.refusing === 'event_loop') {
      const lag = r.sustainedDelayMs;
      // A lag of L ms clears once the backlog behind it drains: ask for a little more than L.
      const retry = Math.max(1, Math.min(30, Math.ceil((2 * lag) / 1000)));
      throw new AisocError(
        'AISOC_ERR_UNDER_PRESSURE',
        `The server is behind: its event loop was delayed over ${Math.round(lag)} ms in each of the last ${LAG_WINDOWS} samples (limit ${max_event_loop_delay_ms} ms); retry in ${retry} s.`,
        { retryAfterSeconds: retry, details: { reason: 'event_loop', event_loop_delay_ms: Math.round(lag) } },
      );
    }
    const mib = (b: number) => Math.round(b / 1048576);
    throw new AisocError(
      'AISOC_ERR_UNDER_PRESSURE',
      `The server is short of memory: ${mib(r.rssBytes)} MiB resident (limit ${mib(max_rss_bytes)} MiB); retry in 5 s.`,
      { retryAfterSeconds: 5, details: { reason: 'memory', rss_bytes: r.rssBytes } },
    );
  }
}
