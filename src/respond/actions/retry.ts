import { z } from 'zod';

/** Retry policy for the calls an action makes (not for the action as a whole). */
export const RetryConfig = z
  .strictObject({
    max_attempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(4)
      .describe('Attempts per call, the first included, on throttling, 5xx and network errors'),
    base_delay_ms: z
      .number()
      .int()
      .min(0)
      .default(250)
      .describe('Back-off before the second attempt, in milliseconds; doubles per attempt, with full jitter'),
    max_delay_ms: z
      .number()
      .int()
      .min(0)
      .default(8000)
      .describe('Longest wait between attempts, in milliseconds (also caps a server-sent Retry-After)'),
  })
  .describe('Retries of throttled or failed calls');
export type RetryConfig = z.infer<typeof RetryConfig>;

/** How a failed attempt should be treated. */
export interface RetryVerdict {
  retry: boolean;
  /** The server's own wait hint (Retry-After), in milliseconds. */
  retryAfterMs?: number;
  /** Short reason for logs: throttled, server_error, network. */
  reason?: string;
}

/**
 * Wait `ms`, or reject with the signal's reason as soon as it aborts.
 *
 * @example await sleep(100, AbortSignal.timeout(1000));
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Exponential back-off with full jitter (spreads retries of many callers), at least the server's hint. */
export function backoffMs(attempt: number, policy: RetryConfig, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.max_delay_ms, policy.base_delay_ms * 2 ** (attempt - 1));
  const jittered = Math.random() * ceiling;
  const hinted = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, policy.max_delay_ms);
  return Math.max(jittered, hinted);
}

/**
 * Run `attempt` until it succeeds, `classify` says its error is final, the
 * attempts run out or the signal aborts; the last error is rethrown as is.
 *
 * @example
 * const out = await withRetry((n) => send(), { policy, signal, classify: (e) => ({ retry: isThrottle(e) }) });
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  options: {
    policy: RetryConfig;
    signal: AbortSignal;
    classify: (err: unknown) => RetryVerdict;
    onRetry?: (err: unknown, attempt: number, delayMs: number, verdict: RetryVerdict) => void;
  },
): Promise<T> {
  const { policy, signal } = options;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (signal.aborted) throw err;
      const verdict = options.classify(err);
      if (!verdict.retry || n >= policy.max_attempts) throw err;
      const delay = backoffMs(n, policy, verdict.retryAfterMs);
      options.onRetry?.(err, n, delay, verdict);
      await sleep(delay, signal);
    }
  }
}

/** Parse a Retry-After header (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
