/**
 * The console's only way to the API: same origin, the key in an Authorization header (never in a URL),
 * and every failure turned into an {@link ApiError} carrying the server's stable code and field.
 */

/** The error body every API route answers with (`ErrorBody` on the server). */
export interface ErrorBody {
  code: string;
  message: string;
  field?: string;
  error_id?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const KEY_STORAGE = 'aisoc.key';

/** The key lives in sessionStorage only: it dies with the tab and is never written to a URL or localStorage. */
export const keyStore = {
  get(): string | null {
    try {
      return sessionStorage.getItem(KEY_STORAGE);
    } catch {
      return null;
    }
  },
  set(key: string): void {
    sessionStorage.setItem(KEY_STORAGE, key);
  },
  clear(): void {
    sessionStorage.removeItem(KEY_STORAGE);
  },
};

export type Query = Record<string, string | number | boolean | undefined | null | readonly string[]>;

/** `?a=1&b=x,y` from a query object: empty values are left out, arrays are comma-separated. */
export function queryString(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) {
      if (v.length) p.set(k, v.join(','));
    } else p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** A key to use instead of the stored one (sign-in checks a key before storing it). */
  key?: string;
}

/** Listeners told when the server refuses the stored key (401), so the app can sign out. */
const unauthorisedListeners = new Set<() => void>();
export function onUnauthorised(f: () => void): () => void {
  unauthorisedListeners.add(f);
  return () => unauthorisedListeners.delete(f);
}

/** Calls the API and parses its JSON answer; throws {@link ApiError} on any non-2xx answer. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const key = options.key ?? keyStore.get();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let res: Response;
  try {
    res = await fetch(`${path}${queryString(options.query)}`, {
      method: options.method ?? 'GET',
      headers,
      body,
      signal: options.signal,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK', 'The server could not be reached.');
  }
  const text = await res.text();
  if (!res.ok) {
    let err: Partial<ErrorBody> = {};
    try {
      err = JSON.parse(text) as Partial<ErrorBody>;
    } catch {
      // A proxy's HTML error page: keep the status.
    }
    if (res.status === 401 && !options.key) for (const f of unauthorisedListeners) f();
    throw new ApiError(
      res.status,
      err.code ?? `HTTP_${res.status}`,
      err.message ?? `The server answered ${res.status}.`,
      err.field,
    );
  }
  return (text ? JSON.parse(text) : undefined) as T;
}
