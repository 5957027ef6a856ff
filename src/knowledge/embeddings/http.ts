import { AisocError, describeError } from '../../errors.ts';

export interface PostOptions {
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Further attempts after the first, for network errors, 408, 429 and 5xx. */
  retries: number;
  /** First back-off; doubles per attempt (a `Retry-After` header wins, up to 30 s). */
  backoffMs?: number;
  /** Name used in error messages (`openai embeddings`). */
  what: string;
}

const RETRYABLE = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * POST a JSON body and parse a JSON answer, with a timeout per attempt and
 * retries with back-off for failures that may pass. Errors are
 * `AISOC_ERR_EMBEDDINGS` naming the endpoint and status, never the headers
 * (they may hold a key).
 *
 * @example await postJson('http://127.0.0.1:11434/api/embed', { model, input }, { timeoutMs: 30_000, retries: 2, what: 'ollama embeddings' })
 */
export async function postJson(url: string, body: unknown, options: PostOptions): Promise<unknown> {
  const backoff = options.backoffMs ?? 250;
  let lastError = '';
  for (let attempt = 0; attempt <= options.retries; attempt++) {
    let wait = backoff * 2 ** attempt;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs),
        // A redirect would re-send the texts to wherever the answer points: never follow one.
        redirect: 'manual',
      });
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel();
        throw new AisocError(
          'AISOC_ERR_EMBEDDINGS',
          `${options.what} at ${url} answered ${res.status} (a redirect); redirects are not followed, configure the final URL.`,
          { field: 'knowledge.embeddings.url', details: { status: res.status } },
        );
      }
      const text = await res.text();
      if (res.ok) {
        try {
          return JSON.parse(text);
        } catch {
          throw new AisocError(
            'AISOC_ERR_EMBEDDINGS',
            `${options.what} at ${url} answered with invalid JSON.`,
            {
              field: 'knowledge.embeddings.url',
            },
          );
        }
      }
      const detail = text.slice(0, 300).replace(/\s+/g, ' ');
      lastError = `${options.what} at ${url} answered ${res.status}: ${detail}`;
      if (!RETRYABLE.has(res.status))
        throw new AisocError('AISOC_ERR_EMBEDDINGS', lastError, { details: { status: res.status } });
      const after = Number(res.headers.get('retry-after'));
      if (Number.isFinite(after) && after > 0) wait = Math.min(after * 1000, 30_000);
    } catch (err) {
      if (err instanceof AisocError) throw err;
      const name = (err as Error).name;
      lastError =
        name === 'TimeoutError'
          ? `${options.what} at ${url} did not answer within ${options.timeoutMs} ms`
          : `${options.what} at ${url} failed: ${describeError(err)}`;
    }
    if (attempt < options.retries) await sleep(wait);
  }
  throw new AisocError('AISOC_ERR_EMBEDDINGS', `${lastError} (after ${options.retries + 1} attempts)`, {
    field: 'knowledge.embeddings.url',
  });
}
