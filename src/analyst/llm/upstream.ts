/**
 * A failure of one attempt to reach a model endpoint, as a backend core
 * reports it to the shared wrapper. It is internal: the wrapper turns it
 * into an `AisocError` (`AISOC_ERR_LLM`) after redacting secrets, and
 * decides from `retryable` and `retryAfterMs` whether to try again.
 */
export class UpstreamError extends Error {
  /** HTTP status, when the endpoint answered. */
  readonly status?: number;
  /** Whether another attempt may succeed (429, 5xx, network errors). */
  readonly retryable: boolean;
  /** The wait the endpoint asked for (`Retry-After`, `retry-after-ms`), in ms. */
  readonly retryAfterMs?: number;
  /** `http` (the endpoint answered with an error), `network` (it could not be reached), `protocol` (it answered nonsense). */
  readonly kind: 'http' | 'network' | 'protocol';

  constructor(
    message: string,
    options: {
      kind: 'http' | 'network' | 'protocol';
      status?: number;
      retryable?: boolean;
      retryAfterMs?: number;
      cause?: unknown;
    },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UpstreamError';
    this.kind = options.kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.retryable =
      options.retryable ??
      (options.kind === 'network' || (options.status !== undefined && isRetryableStatus(options.status)));
  }
}

/**
 * Statuses worth another attempt: timeouts, conflicts on busy servers, rate
 * limits and server errors (529 is Anthropic's "overloaded"). 4xx other
 * than these mean the request itself is wrong and will fail again.
 */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 408 || status === 425 || status === 429 || status === 529 || (status >= 500 && status <= 599)
  );
}

/**
 * The wait an endpoint asked for, in ms: `retry-after-ms` (OpenAI), else
 * `Retry-After` as seconds or an HTTP date. Undefined when absent or
 * unreadable; never negative.
 *
 * @example
 * retryAfterMs((n) => ({ 'retry-after': '2' })[n]) // → 2000
 */
export function retryAfterMs(
  header: (name: string) => string | null | undefined,
  now = Date.now(),
): number | undefined {
  const ms = header('retry-after-ms');
  if (ms != null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = header('retry-after');
  if (value == null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
