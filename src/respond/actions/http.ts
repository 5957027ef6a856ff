import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { AisocError, type ErrorCode } from '../../errors.ts';
import { VERSION } from '../../version.ts';
import { parseRetryAfter, type RetryVerdict, withRetry } from './retry.ts';
import type { RunContext } from './types.ts';

/** One HTTP request an action makes. */
export interface HttpCall {
  /** What the request is, for messages and logs (`Slack webhook`); the URL never appears in them. */
  label: string;
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  /** TLS verification; `ca` is a PEM bundle trusted instead of the system roots (a private CA). */
  tls?: { rejectUnauthorized: boolean; ca?: string };
  /** Statuses handed back instead of thrown (default: 2xx). */
  accept?: (status: number) => boolean;
  /** Whether the request changes something (refused in dry runs). */
  mutating: boolean;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const RETRY_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);
const NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);
const MAX_RESPONSE = 1024 * 1024;

/** A response whose status is worth another attempt; kept internal to the retry loop. */
class RetryableStatus extends Error {
  constructor(readonly result: HttpResult) {
    super(`HTTP ${result.status}`);
  }
}

function classify(err: unknown): RetryVerdict {
  if (err instanceof RetryableStatus)
    return {
      retry: true,
      reason: err.result.status === 429 ? 'throttled' : 'server_error',
      retryAfterMs: parseRetryAfter(err.result.headers['retry-after']),
    };
  const code = (err as { code?: string }).code ?? '';
  return NETWORK.has(code) ? { retry: true, reason: 'network' } : { retry: false };
}

function send(call: HttpCall, signal: AbortSignal): Promise<HttpResult> {
  const url = new URL(call.url);
  const body = call.body === undefined ? undefined : Buffer.from(call.body, 'utf8');
  const headers: Record<string, string> = {
    'user-agent': `aisoc/${VERSION}`,
    ...(body ? { 'content-length': String(body.length) } : {}),
    ...call.headers,
  };
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const options = {
      method: call.method,
      headers,
      signal,
      // One connection per request: nothing lingers after a run, and no state carries between runs.
      agent: false as const,
      ...(secure ? { rejectUnauthorized: call.tls?.rejectUnauthorized ?? true, ca: call.tls?.ca } : {}),
    };
    const req = (secure ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size <= MAX_RESPONSE) chunks.push(d);
      });
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

function statusError(call: HttpCall, r: HttpResult): AisocError {
  let code: ErrorCode = 'AISOC_ERR_ACTION_FAILED';
  if (r.status === 401 || r.status === 403) code = 'AISOC_ERR_ACTION_ACCESS_DENIED';
  else if (r.status === 404 || r.status === 410) code = 'AISOC_ERR_ACTION_NOT_FOUND';
  else if (r.status === 429) code = 'AISOC_ERR_ACTION_THROTTLED';
  const why = r.status >= 300 && r.status < 400 ? ' (redirects are not followed)' : '';
  return new AisocError(code, `${call.label} answered HTTP ${r.status}${why}`, {
    details: { call: call.label, http_status: r.status, response: r.body.slice(0, 500) },
  });
}

function transportError(call: HttpCall, err: unknown): AisocError {
  const code = (err as { code?: string }).code ?? 'unknown';
  const tls = /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code);
  const what = tls ? `TLS verification of ${call.label} failed` : `${call.label} could not be reached`;
  return new AisocError('AISOC_ERR_ACTION_FAILED', `${what}: ${code}`, {
    details: { call: call.label, error_code: code },
  });
}

/**
 * Make one HTTP(S) request for an action, with the run's retry policy (429,
 * 408 and 5xx responses honour Retry-After; network errors back off), its
 * signal, and typed errors that name the call, never the URL (webhook URLs
 * are secrets). Redirects are not followed: a signed or authenticated
 * request must not be replayed to another host.
 *
 * @example
 * const r = await httpCall(run, { label: 'PagerDuty Events API', url, method: 'POST', body, mutating: true });
 */
export async function httpCall(run: RunContext, call: HttpCall): Promise<HttpResult> {
  if (call.mutating) run.assertMayMutate(call.label);
  const accept = call.accept ?? ((s: number) => s >= 200 && s < 300);
  let result: HttpResult;
  try {
    result = await withRetry(
      async () => {
        const r = await send(call, run.signal);
        if (!accept(r.status) && RETRY_STATUS.has(r.status)) throw new RetryableStatus(r);
        return r;
      },
      {
        policy: run.retry,
        signal: run.signal,
        classify,
        onRetry: (_err, attempt, delayMs, verdict) =>
          run.logger.debug(
            { call: call.label, attempt, delay_ms: Math.round(delayMs), reason: verdict.reason },
            `Retrying ${call.label} after ${verdict.reason}.`,
          ),
      },
    );
  } catch (err) {
    if (run.signal.aborted) throw err;
    if (err instanceof RetryableStatus) throw statusError(call, err.result);
    throw transportError(call, err);
  }
  if (!accept(result.status)) throw statusError(call, result);
  return result;
}
