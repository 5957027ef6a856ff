import { PGlite, type Transaction } from '@electric-sql/pglite';
import { acquireDirLock } from './lock.ts';
import { ensurePrivateDir, privatiseTree } from './private-dir.ts';
import type { Queryable, SqlClient } from './sql.ts';

function wrapTx(tx: Transaction): Queryable {
  return {
    async query<T>(text: string, params?: unknown[]) {
      const r = await tx.query<T>(text, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
  };
}

/**
 * PostgreSQL compiled to WebAssembly, file-backed under `dir` (or in memory
 * when `dir` is undefined). Commits are written through to the files before
 * a query resolves, so a process killed right after a commit keeps it.
 * The directory is 0700 and its files lose group and other bits on open and
 * on close (files PostgreSQL creates while running are 0600 already).
 */
export async function openPglite(dir?: string): Promise<SqlClient> {
  let release = () => {};
  if (dir) {
    ensurePrivateDir(dir);
    release = acquireDirLock(`${dir}.lock`);
  }
  let db: PGlite;
  try {
    db = await PGlite.create(dir);
  } catch (err) {
    release();
    throw err;
  }
  if (dir) {
    try {
      privatiseTree(dir);
    } catch (err) {
      await db.close().catch(() => {});
      release();
      throw err;
    }
  }
  return {
    engine: 'pglite',
    async query<T>(text: string, params?: unknown[]) {
      const r = await db.query<T>(text, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(text: string) {
      await db.exec(text);
    },
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return db.transaction((tx) => fn(wrapTx(tx)));
    },
    async close() {
      try {
        if (!db.closed) await db.close();
        if (dir) privatiseTree(dir);
      } finally {
        release();
      }
    },
  };
}
