import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AisocError, ERROR_CATALOGUE, type ErrorCode } from '../errors.ts';
import type { IngestOutcome } from '../pipeline/ingest.ts';
import { commandConfig } from './common.ts';
import { readServerInfo } from './server-info.ts';

export interface RemoteOptions {
  url?: string;
  key?: string;
}

/**
 * A server URL checked before anything is sent: `http://` or `https://`
 * with a host. Returns it without trailing slashes.
 *
 * @example serverBase('127.0.0.1:8080') // throws AISOC_ERR_BAD_URL: write http://127.0.0.1:8080
 */
export function serverBase(url: string, field = 'url'): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.hostname) {
    const hint =
      /^[\w.-]+(:\d+)?(\/.*)?$/.test(url) || /^\[[\da-f:]+\](:\d+)?/i.test(url)
        ? ` (write http://${url})`
        : '';
    throw new AisocError(
      'AISOC_ERR_BAD_URL',
      `${JSON.stringify(url)} is not a server URL: give http:// or https:// and a host${hint}.`,
      { field },
    );
  }
  return url.replace(/\/+$/, '');
}

/** The system error code under a fetch failure (`TypeError: fetch failed` with a cause, possibly an AggregateError). */
function networkCode(err: unknown): string | undefined {
  let cause = (err as { cause?: unknown })?.cause ?? err;
  const errors = (cause as { errors?: unknown[] })?.errors;
  if (Array.isArray(errors) && errors.length > 0) cause = errors[0];
  const code = (cause as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A request that got no HTTP answer, in plain words with its own code. It is
 * marked retryable: a follower waits and sends the same batch again.
 */
export function unreachable(base: string, err: unknown): AisocError {
  const code = networkCode(err);
  const details = { retryable: true, ...(code ? { cause: code } : {}) };
  if (code === 'ECONNREFUSED')
    return new AisocError(
      'AISOC_ERR_CONNECTION_REFUSED',
      `Nothing is listening at ${base} (connection refused). Is the server running? Start it with "aisoc serve", or check --url.`,
      { field: 'url', details },
    );
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new AisocError(
      'AISOC_ERR_UNREACHABLE',
      `The host of ${base} cannot be found (${code}); check --url.`,
      {
        field: 'url',
        details,
      },
    );
  return new AisocError(
    'AISOC_ERR_UNREACHABLE',
    `Cannot reach ${base}: ${code ?? (err as Error)?.message ?? String(err)}.`,
    { field: 'url', details },
  );
}

function codeForStatus(status: number): ErrorCode {
  if (status >= 300 && status < 400) return 'AISOC_ERR_BAD_URL';
  if (status === 401) return 'AISOC_ERR_UNAUTHORIZED';
  if (status === 403) return 'AISOC_ERR_FORBIDDEN';
  if (status === 404) return 'AISOC_ERR_NOT_FOUND';
  if (status === 409) return 'AISOC_ERR_CONFLICT';
  if (status === 413) return 'AISOC_ERR_BODY_TOO_LARGE';
  if (status === 429) return 'AISOC_ERR_RATE_LIMITED';
  if (status >= 400 && status < 500) return 'AISOC_ERR_VALIDATION';
  return 'AISOC_ERR_INTERNAL';
}

/**
 * An HTTP answer that is not a success, as the server's own code (when it is
 * one of ours) or one that fits the status, in plain words. `details.status`
 * carries the HTTP status; `details.retryable` is true for 5xx.
 */
export function answerError(base: string, status: number, body: Record<string, unknown>): AisocError {
  const serverCode =
    typeof body.code === 'string' && Object.hasOwn(ERROR_CATALOGUE, body.code)
      ? (body.code as ErrorCode)
      : undefined;
  const code = serverCode ?? codeForStatus(status);
  const said = typeof body.message === 'string' && body.message ? body.message : `HTTP ${status}`;
  const message =
    status === 401
      ? `The server at ${base} refused the API key (401): ${said} Check --key or AISOC_API_KEY.`
      : status === 403
        ? `The API key is not allowed to do this (403): ${said}`
        : status >= 300 && status < 400
          ? `The server at ${base} answered a redirect (${status}); redirects are not followed, so the key never leaves for another address: give the final URL with --url.`
          : `The server at ${base} answered ${status}: ${said}`;
  return new AisocError(code, message, {
    ...(typeof body.field === 'string' ? { field: body.field } : {}),
    details: {
      ...(body.details && typeof body.details === 'object' ? (body.details as Record<string, unknown>) : {}),
      status,
      retryable: status >= 500,
      ...(typeof body.error_id === 'string' ? { error_id: body.error_id } : {}),
    },
  });
}

/**
 * Call a running server's API with an API key. Errors come back with their
 * own codes: AISOC_ERR_BAD_URL, AISOC_ERR_CONNECTION_REFUSED,
 * AISOC_ERR_UNREACHABLE, the server's code for an HTTP error
 * (AISOC_ERR_UNAUTHORIZED for 401, AISOC_ERR_FORBIDDEN for 403, …).
 */
export async function remote<T = Record<string, unknown>>(
  opts: RemoteOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  if (!opts.url)
    throw new AisocError('AISOC_ERR_VALIDATION', 'This command talks to a running server: give --url', {
      field: 'url',
    });
  const base = serverBase(opts.url);
  const key = opts.key ?? process.env.AISOC_API_KEY;
  if (!key)
    throw new AisocError('AISOC_ERR_VALIDATION', '--url needs --key (or AISOC_API_KEY)', { field: 'key' });
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      // The key must not travel to wherever a redirect points.
      redirect: 'manual',
    });
  } catch (err) {
    throw unreachable(base, err);
  }
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { message: text.slice(0, 200) };
  }
  if (!res.ok) throw answerError(base, res.status, json);
  return json as T;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Send one body to `POST /ingest/:source` of a running server, as an
 * integration should: a 429 (the pipeline is full) or a 503 (the server is
 * under pressure) is waited out for its `Retry-After` and the same body sent
 * again, which is safe because event ids derive from the records. A 400
 * whose every record was refused comes back as its outcome; any other error
 * gets its code (see {@link answerError}). Gives up after `maxAttempts`.
 *
 * @example await sendIngest('http://127.0.0.1:8080', key, 'cloudtrail', gzipped, { 'content-encoding': 'gzip' })
 */
export async function sendIngest(
  base: string,
  key: string,
  source: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
  maxAttempts = 600,
): Promise<IngestOutcome> {
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(`${base}/ingest/${encodeURIComponent(source)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
        body,
        // The key and the events must not travel to wherever a redirect points.
        redirect: 'manual',
      });
    } catch (err) {
      // The server is down or restarting: marked retryable, so a follower waits and sends the batch again.
      throw unreachable(base, err);
    }
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status === 202) return json as unknown as IngestOutcome;
    if ((res.status === 429 || res.status === 503) && attempt < maxAttempts) {
      const seconds = Number(res.headers.get('retry-after'));
      await sleep((Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 60) : 1) * 1000);
      continue;
    }
    const details = json.details as Record<string, unknown> | undefined;
    if (res.status === 400 && json.code === 'AISOC_ERR_VALIDATION' && details?.outcome)
      return details.outcome as IngestOutcome;
    throw answerError(base, res.status, json);
  }
}

/**
 * Where a management command without `--url` sends its requests: the server
 * that runs on the data directory (its `server.json`, beside the database
 * lock), or undefined when none runs. The key is `--key`, then
 * AISOC_API_KEY, then `<data-dir>/admin.key`. The saved admin key is only
 * ever sent to the server of its own data directory, never to a `--url`.
 */
export function localServer(opts: RemoteOptions, dataDir: string): Required<RemoteOptions> | undefined {
  if (opts.url) return undefined;
  const info = readServerInfo(dataDir);
  if (!info) return undefined;
  let key = opts.key ?? process.env.AISOC_API_KEY;
  const keyFile = join(resolve(dataDir), 'admin.key');
  if (!key && existsSync(keyFile)) key = readFileSync(keyFile, 'utf8').trim() || undefined;
  if (!key)
    throw new AisocError(
      'AISOC_ERR_VALIDATION',
      `A server runs on ${resolve(dataDir)} at ${info.url}, but no key was given and ${keyFile} does not exist: give --key (or AISOC_API_KEY).`,
      { field: 'key' },
    );
  return { url: info.url, key };
}

/**
 * The server a remote-only command (cases, actions) talks to: `--url`, or the
 * one running on the data directory; otherwise an error saying how to get one.
 */
export function serverFor(opts: RemoteOptions, dataDir: string): RemoteOptions {
  if (opts.url) return opts;
  const found = localServer(opts, dataDir);
  if (found) return found;
  throw new AisocError(
    'AISOC_ERR_VALIDATION',
    `No server runs on the data directory ${resolve(dataDir)}: start one with "aisoc serve", or give --url and --key.`,
    { field: 'url' },
  );
}

/** Add `--url` and `--key` to a command. */
export function withRemote<C extends { option(flags: string, description: string): C }>(c: C): C {
  return c
    .option(
      '--url <url>',
      'the server to talk to (e.g. http://127.0.0.1:8080; default: the server running on the data directory)',
    )
    .option(
      '--key <key>',
      'API key (env AISOC_API_KEY; default for the data directory server: its admin.key)',
    );
}

/** {@link serverFor} with the data directory of a command's configuration (`--data-dir`, AISOC_DATA_DIR, the config file). */
export function serverOf(opts: RemoteOptions, cmd: Command): RemoteOptions {
  return serverFor(opts, commandConfig(cmd).data_dir);
}
