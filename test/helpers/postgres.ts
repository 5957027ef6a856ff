import pg from 'pg';
import { IN_CI } from './data.ts';

/** The server the PostgreSQL test runs use (trust auth on the CI machine). */
export const TEST_PG_URL = process.env.AISOC_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: boolean | undefined;

/**
 * Whether the test PostgreSQL server answers. Outside CI an unreachable
 * server skips the PostgreSQL runs with a message; in CI it fails them.
 */
export async function postgresAvailable(): Promise<boolean> {
  if (reachable !== undefined) return reachable;
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    reachable = true;
  } catch (err) {
    if (IN_CI)
      throw new Error(`PostgreSQL at ${TEST_PG_URL} is unreachable in CI: ${(err as Error).message}`);
    console.warn(`Skipping PostgreSQL runs: ${TEST_PG_URL} is unreachable (${(err as Error).message}).`);
    reachable = false;
  } finally {
    await client.end().catch(() => {});
  }
  return reachable;
}

/** A fresh, empty database on the test server; `drop` removes it. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `aisoc_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(TEST_PG_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
