import type { FastifyReply, FastifyRequest } from 'fastify';
import { AisocError } from '../errors.ts';
import type { ApiKeyRecord, ApiScope, Store } from '../store/index.ts';
import { hashApiKey } from '../store/index.ts';

/**
 * What a route requires: a scope; `authenticated`, any valid key whatever its
 * scopes (`/whoami`: a console signing in with an ingest-only key must learn
 * what it may do, not be refused); or `public` (`/health`, `/openapi.json`,
 * the `/docs` pages and the console's static files).
 */
export type RouteScope = ApiScope | 'authenticated' | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scope an API key needs for this route; routes that declare none need `read`. */
    scope?: RouteScope;
  }
  interface FastifyRequest {
    apiKey?: ApiKeyRecord;
  }
}

/** Whether a key's scopes grant `needed`: `admin` grants everything. */
export function grants(scopes: readonly string[], needed: ApiScope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}

/** The bearer token of a request, if any. */
export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

/**
 * The API key a request carries: `Authorization: Bearer <key>`, or
 * `X-API-Key: <key>` for integrations that can only set a custom header.
 * Two different keys in one request are refused rather than guessed between.
 *
 * @example apiKeyOf(req) // 'aisoc_…' or undefined
 */
export function apiKeyOf(req: FastifyRequest): string | undefined {
  const bearer = bearerToken(req);
  const h = req.headers['x-api-key'];
  const header = typeof h === 'string' && /^\S+$/.test(h.trim()) ? h.trim() : undefined;
  if (bearer && header && bearer !== header) {
    throw new AisocError('AISOC_ERR_UNAUTHORIZED', 'Authorization and X-API-Key carry different keys.', {
      field: 'x-api-key',
    });
  }
  return bearer ?? header;
}

/**
 * Verifies API keys against their stored hashes, with a short cache so a
 * busy ingest client costs one lookup per few seconds, not per request.
 * Requests that arrive while a key is being looked up share that lookup:
 * under load a lookup waits behind the store's backlog, and every request
 * in the meantime would otherwise add one more query to it.
 */
export class KeyVerifier {
  private readonly cache = new Map<string, { record: ApiKeyRecord | undefined; until: number }>();
  private readonly lookups = new Map<string, Promise<ApiKeyRecord | undefined>>();

  constructor(
    private readonly store: Store,
    private readonly ttlMs = 5_000,
  ) {}

  async verify(key: string): Promise<ApiKeyRecord | undefined> {
    const h = hashApiKey(key);
    const hit = this.cache.get(h);
    const now = Date.now();
    if (hit && hit.until > now) return hit.record;
    let lookup = this.lookups.get(h);
    if (!lookup) {
      lookup = this.lookup(h, key).finally(() => this.lookups.delete(h));
      this.lookups.set(h, lookup);
    }
    return lookup;
  }

  private async lookup(h: string, key: string): Promise<ApiKeyRecord | undefined> {
    const record = await this.store.apiKeys.findActiveByKey(key);
    if (this.cache.size > 10_000) this.cache.clear();
    // Valid for the TTL from when the answer came, not from when it was asked.
    this.cache.set(h, { record, until: Date.now() + this.ttlMs });
    if (record) void this.store.apiKeys.touch(record.id).catch(() => {});
    return record;
  }

  /** Forget cached verdicts (after a key is created or revoked in this process). */
  invalidate(): void {
    this.cache.clear();
    this.lookups.clear();
  }
}

/**
 * Counts, per client address, the requests that failed authentication (no
 * key, an unknown key, a key without the route's scope) in fixed windows.
 * Past `max` in a window the address is told to wait; the per-key rate limit
 * cannot do this, because it trusts the key a request claims before it is
 * verified, so a client rotating made-up keys was never limited.
 */
export class AddressLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs = 60_000,
    /** Addresses tracked at once; past it expired windows are dropped, then the oldest (spoofed X-Forwarded-For cannot grow memory). */
    private readonly capacity = 10_000,
  ) {}

  /** Seconds the address must wait before its next unauthenticated request, or 0. */
  waitSeconds(address: string, now = Date.now()): number {
    const w = this.windows.get(address);
    return w && w.resetAt > now && w.count >= this.max ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 0;
  }

  /** Count one failure of `address`; returns the seconds it must now wait (0 while it is within its budget). */
  fail(address: string, now = Date.now()): number {
    let w = this.windows.get(address);
    if (!w || w.resetAt <= now) {
      if (!w && this.windows.size >= this.capacity) this.evict(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(address, w);
    }
    w.count++;
    return w.count > this.max ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 0;
  }

  private evict(now: number): void {
    for (const [a, w] of this.windows) if (w.resetAt <= now) this.windows.delete(a);
    while (this.windows.size >= this.capacity) {
      const oldest = this.windows.keys().next().value;
      if (oldest === undefined) break;
      this.windows.delete(oldest);
    }
  }
}

function rateLimited(seconds: number): AisocError {
  return new AisocError(
    'AISOC_ERR_RATE_LIMITED',
    `Too many requests without a valid API key from this address; retry in ${seconds} s.`,
    { field: 'authorization', retryAfterSeconds: seconds },
  );
}

/**
 * The onRequest hook: 401 without a valid key, 403 when the key lacks the
 * route's scope. Fail closed. With a `limiter`, an address past its budget of
 * such failures gets 429 instead, for the rest of the window; a valid key
 * with the scope is still served from that address (clients behind one NAT
 * are not locked out by a neighbour).
 */
export function authHook(verifier: KeyVerifier, limiter?: AddressLimiter) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const scope: RouteScope = req.routeOptions.config?.scope ?? 'read';
    if (scope === 'public') return;
    const refuse = (err: AisocError): never => {
      const wait = limiter?.fail(req.ip) ?? 0;
      throw wait > 0 ? rateLimited(wait) : err;
    };
    let token: string | undefined;
    try {
      token = apiKeyOf(req);
    } catch (err) {
      return refuse(err as AisocError);
    }
    if (!token) {
      // Over the budget, a request without a key is refused before any work.
      const wait = limiter?.waitSeconds(req.ip) ?? 0;
      if (wait > 0) throw rateLimited(wait);
      return refuse(
        new AisocError('AISOC_ERR_UNAUTHORIZED', 'Send an API key as "Authorization: Bearer <key>".', {
          field: 'authorization',
        }),
      );
    }
    const record = await verifier.verify(token);
    if (!record)
      return refuse(
        new AisocError('AISOC_ERR_UNAUTHORIZED', 'The API key is unknown or revoked.', {
          field: 'authorization',
        }),
      );
    if (scope !== 'authenticated' && !grants(record.scopes, scope)) {
      return refuse(
        new AisocError(
          'AISOC_ERR_FORBIDDEN',
          `This route needs the ${scope} scope; the key ${record.name} has ${record.scopes.join(', ')}.`,
          { field: 'authorization' },
        ),
      );
    }
    req.apiKey = record;
  };
}
