import type { Queryable, SessionConnection, SqlClient } from './sql.ts';

/** node-postgres, loaded on first use: an embedded server never needs it (~60 ms of every start). */
async function loadPg(): Promise<typeof import('pg').default> {
  return (await import('pg')).default;
}

/** A PostgreSQL server through a node-postgres pool. */
export async function openPostgres(url: string, poolSize = 10): Promise<SqlClient> {
  const pg = await loadPg();
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // Idle clients can error when the server restarts; the pool replaces them.
  pool.on('error', () => {});
  // Fail fast at start-up when the server is unreachable.
  const probe = await pool.connect();
  probe.release();
  return {
    engine: 'postgres',
    async query<T>(text: string, params?: unknown[]) {
      const r = await pool.query(text, params as unknown[]);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
    async exec(text: string) {
      await pool.query(text);
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          async query<R>(text: string, params?: unknown[]) {
            const r = await client.query(text, params as unknown[]);
            return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
          },
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    session: () => openSession(url),
    async close() {
      await pool.end();
    },
  };
}

/** One connection outside the pool, kept alive, reporting once if it drops. */
async function openSession(url: string): Promise<SessionConnection> {
  const pg = await loadPg();
  const client = new pg.Client({ connectionString: url, keepAlive: true });
  const listeners: Array<(err: Error) => void> = [];
  let closing = false;
  let lost = false;
  const report = (err: Error) => {
    if (closing || lost) return;
    lost = true;
    for (const l of listeners) l(err);
  };
  client.on('error', report);
  client.on('end', () => report(new Error('the server closed the connection')));
  await client.connect();
  return {
    async query<T>(text: string, params?: unknown[]) {
      const r = await client.query(text, params as unknown[]);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
    onLost(listener) {
      listeners.push(listener);
    },
    async close() {
      closing = true;
      await client.end().catch(() => {});
    },
  };
}
