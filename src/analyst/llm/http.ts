import { retryAfterMs, UpstreamError } from './upstream.ts';

export interface PostJsonOptions {
  headers?: Record<string, string>;
  signal: AbortSignal;
  /** Largest response body read, in bytes; a larger one is a protocol error (a runaway or hostile endpoint). */
  maxResponseBytes: number;
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

/** The error message of an endpoint's JSON error body (`{error: "…"}`, `{error: {message}}`, `{message}`). */
export function errorMessageOf(body: unknown, fallback: string): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    if (typeof b.error === 'string') return b.error;
    if (
      b.error &&
      typeof b.error === 'object' &&
      typeof (b.error as Record<string, unknown>).message === 'string'
    )
      return (b.error as Record<string, string>).message!;
    if (typeof b.message === 'string') return b.message;
  }
  return fallback;
}

/**
 * POST a JSON body and read a JSON answer, for the HTTP backends (Ollama,
 * OpenAI-compatible). Non-2xx answers and network failures become an
 * {@link UpstreamError} carrying the status and the `Retry-After` wait; an
 * abort propagates unchanged so the wrapper can tell a timeout from a
 * cancellation by which signal fired.
 *
 * @example
 * const { body } = await postJson('http://127.0.0.1:11434/api/chat', { model: 'llama3.1' }, { signal, maxResponseBytes: 4 << 20 });
 */
export async function postJson(
  url: string,
  payload: unknown,
  options: PostJsonOptions,
): Promise<JsonResponse> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
      body: JSON.stringify(payload),
      signal: options.signal,
      // A redirect would re-send the prompt (alert data) to wherever the answer points: never follow one.
      redirect: 'manual',
    });
  } catch (err) {
    if (options.signal.aborted) throw err;
    throw new UpstreamError(`the endpoint could not be reached: ${networkReason(err)}`, {
      kind: 'network',
      cause: err,
    });
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    throw new UpstreamError(
      `HTTP ${res.status}: the endpoint redirects${redirectTarget(res)}; redirects are not followed, configure the final URL`,
      { kind: 'http', status: res.status },
    );
  }
  const text = await readCapped(res, options.maxResponseBytes, options.signal);
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const snippet = text.slice(0, 300).replace(/\s+/g, ' ');
    throw new UpstreamError(`HTTP ${res.status}: ${errorMessageOf(body, snippet || res.statusText)}`, {
      kind: 'http',
      status: res.status,
      retryAfterMs: retryAfterMs((n) => res.headers.get(n)),
    });
  }
  if (body === undefined) {
    throw new UpstreamError(
      `HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 120).replace(/\s+/g, ' ')}`,
      { kind: 'protocol', status: res.status, retryable: false },
    );
  }
  return { status: res.status, body };
}

async function readCapped(res: Response, max: number, signal: AbortSignal): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => {});
        throw new UpstreamError(`the response is larger than ${max} bytes`, {
          kind: 'protocol',
          status: res.status,
          retryable: false,
        });
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof UpstreamError || signal.aborted) throw err;
    throw new UpstreamError(`the connection broke while reading the answer: ${networkReason(err)}`, {
      kind: 'network',
      cause: err,
    });
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Every `code` along an error's cause chain (undici and the AWS SDK nest the socket error). */
export function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 6 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

/** `ECONNREFUSED`, `ECONNRESET`, … from the nested causes (the socket's own code first), else the message. */
export function networkReason(err: unknown): string {
  const codes = errorCodes(err);
  const socket = codes.find((c) => c.startsWith('E') && !c.startsWith('ERR_'));
  if (socket ?? codes[0]) return (socket ?? codes[0])!;
  return err instanceof Error ? err.message : String(err);
}

/** ` to <origin>` of a redirect's Location, for the message (never the path: it may carry tokens). */
function redirectTarget(res: Response): string {
  const location = res.headers.get('location');
  if (!location) return '';
  try {
    return ` to ${new URL(location, res.url).origin}`;
  } catch {
    return '';
  }
}
