import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { acquireDirLock } from './lock.ts';
import type { Queryable, SqlClient } from './sql.ts';

/** Resolve on the next turn of the event loop, after pending I/O callbacks. */
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/**
 * PGlite runs each statement synchronously on this thread, and statements
 * waiting for its lock are handed it through promise callbacks, so a queue
 * of them would run back to back without the event loop ever reaching I/O
 * (a `/health` request waited seconds behind a backlog of inserts). Each
 * statement here starts on a turn of its own: the loop is held for one
 * statement at a time, never for a queue of them.
 */
class TurnQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(nextTurn).then(fn);
    this.tail = p.catch(() => {});
    return p;
  }
}

function wrapTx(tx: Transaction): Queryable {
  return {
    async query<T>(text: string, params?: unknown[]) {
      await nextTurn();
      const r = await tx.query<T>(text, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
  };
}

/**
 * Create a new database directory in a short-lived process (see
 * pglite-init.mjs), so the server keeps none of the memory creation needs.
 */
function createInProcess(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [fileURLToPath(new URL('./pglite-init.mjs', import.meta.url)), dir],
      { timeout: 300_000, maxBuffer: 1024 * 1024 },
      (err, _stdout, stderr) => {
        if (err)
          reject(
            new Error(`Creating the embedded database in ${dir} failed: ${stderr.trim() || err.message}`),
          );
        else resolve();
      },
    );
  });
}

/**
 * PostgreSQL compiled to WebAssembly, file-backed under `dir` (or in memory
 * when `dir` is undefined). Commits are written through to the files before
 * a query resolves, so a process killed right after a commit keeps it.
 */
export async function openPglite(
  dir?: string,
  options: { sharedBuffersMb?: number } = {},
): Promise<SqlClient> {
  let release = () => {};
  if (dir) {
    mkdirSync(dir, { recursive: true });
    release = acquireDirLock(`${dir}.lock`);
  }
  let db: PGlite;
  try {
    if (dir && !existsSync(join(dir, 'PG_VERSION'))) await createInProcess(dir);
    db = await PGlite.create(
      dir,
      options.sharedBuffersMb
        ? {
            // PostgreSQL's page cache lives in this process's memory (all of it, from the start); the
            // operating system's file cache sits under it, so a smaller one costs little.
            startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${options.sharedBuffersMb}MB`],
          }
        : {},
    );
  } catch (err) {
    release();
    throw err;
  }
  const turns = new TurnQueue();
  return {
    engine: 'pglite',
    query<T>(text: string, params?: unknown[]) {
      return turns.run(async () => {
        const r = await db.query<T>(text, params);
        return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
      });
    },
    exec(text: string) {
      return turns.run(async () => {
        await db.exec(text);
      });
    },
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return turns.run(() => db.transaction((tx) => fn(wrapTx(tx))));
    },
    async close() {
      try {
        if (!db.closed) await db.close();
      } finally {
        release();
      }
    },
  };
}
