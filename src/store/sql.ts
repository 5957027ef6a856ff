/**
 * The narrow SQL surface the repositories use, implemented by PGlite
 * (embedded) and node-postgres (scaled). One dialect, PostgreSQL, for both.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: T[]; rowCount: number }>;
}

export interface SqlClient extends Queryable {
  readonly engine: 'pglite' | 'postgres';
  /** Run several statements (migrations). */
  exec(text: string): Promise<void>;
  /** Run `fn` in one transaction; it commits when `fn` resolves and rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * A connection of its own, outside the pool, for session state that must
   * outlive one statement (advisory locks). PostgreSQL only: the embedded
   * engine is one session already.
   */
  session?(): Promise<SessionConnection>;
  /** The whole database as a tar archive (embedded engine only). */
  dump?(): Promise<Blob>;
  close(): Promise<void>;
}

/** A dedicated database session (see {@link SqlClient.session}). */
export interface SessionConnection extends Queryable {
  /** Called once if the connection drops before `close` (its session state, locks included, is gone). */
  onLost(listener: (err: Error) => void): void;
  close(): Promise<void>;
}

/** Convert what either driver returns for a timestamptz into an ISO string. */
export function isoTime(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return new Date(value).toISOString();
  if (typeof value === 'number') return new Date(value).toISOString();
  throw new TypeError(`Not a timestamp: ${String(value)}`);
}

/** Convert what either driver returns for a bigint (pg: string, PGlite: number or bigint) into a number. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') return Number(value);
  if (value == null) return 0;
  throw new TypeError(`Not a number: ${String(value)}`);
}

/** Parse a jsonb value: PGlite and pg both return parsed objects, but be lenient with text. */
export function fromJson<T>(value: unknown): T {
  if (typeof value === 'string') return JSON.parse(value) as T;
  return value as T;
}
