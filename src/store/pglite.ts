import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite, type Transaction, types } from '@electric-sql/pglite';
import { AisocError } from '../errors.ts';
import { acquireDirLock } from './lock.ts';
import { ensurePrivateDir, privatiseTree } from './private-dir.ts';
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
 * A `json`/`jsonb` parameter given as bytes is sent as it is, in binary
 * format (`toPgJsonb` in json.ts); anything else as PGlite would.
 */
const jsonSerializer =
  (oid: number) =>
  (value: unknown): string =>
    // PGlite's writer sends bytes a serializer returns as a binary parameter; the type names only text.
    ArrayBuffer.isView(value) ? (value as unknown as string) : types.serializers[oid]!(value);
const SERIALIZERS = { [types.JSON]: jsonSerializer(types.JSON), [types.JSONB]: jsonSerializer(types.JSONB) };

/** The environment variable naming a template for new embedded databases (see {@link templateFromEnv}). */
export const TEMPLATE_ENV = 'AISOC_PGLITE_TEMPLATE';

let envTemplate: { path: string; blob: Blob } | undefined;

/**
 * A new embedded database normally runs `initdb`, which takes seconds. When
 * `AISOC_PGLITE_TEMPLATE` names a dump of an empty database (written by
 * {@link writePgliteTemplate}), a new database — in memory, or in a data
 * directory that holds none yet — starts from that dump instead. Migrations
 * still run afterwards, so a template older than the code only costs the
 * migrations it lacks. The test suite sets it once per run; servers need not.
 */
function templateFromEnv(env: NodeJS.ProcessEnv = process.env): Blob | undefined {
  const path = env[TEMPLATE_ENV];
  if (!path) return undefined;
  if (envTemplate?.path === path) return envTemplate.blob;
  if (!existsSync(path))
    throw new AisocError('AISOC_ERR_CONFIG', `${TEMPLATE_ENV} names ${path}, which does not exist`, {
      field: TEMPLATE_ENV,
    });
  envTemplate = { path, blob: new Blob([readFileSync(path)]) };
  return envTemplate.blob;
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
 * The directory is 0700 and its files lose group and other bits on open and
 * on close (files PostgreSQL creates while running are 0600 already).
 */
export async function openPglite(
  dir?: string,
  options: { sharedBuffersMb?: number } = {},
): Promise<SqlClient> {
  let release = () => {};
  if (dir) {
    ensurePrivateDir(dir);
    release = acquireDirLock(`${dir}.lock`);
  }
  let db: PGlite;
  try {
    const fresh = !dir || !existsSync(join(dir, 'PG_VERSION'));
    // A template is one database image to load; without one, a new directory is made by initdb in a process
    // of its own (it needs three WebAssembly instances at once).
    const template = fresh ? templateFromEnv() : undefined;
    if (dir && fresh && !template) await createInProcess(dir);
    db = await PGlite.create(dir, {
      serializers: SERIALIZERS,
      ...(template ? { loadDataDir: template } : {}),
      ...(options.sharedBuffersMb
        ? {
            // PostgreSQL's page cache lives in this process's memory (all of it, from the start); the
            // operating system's file cache sits under it, so a smaller one costs little.
            startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${options.sharedBuffersMb}MB`],
          }
        : {}),
    });
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
    dump() {
      return turns.run(() => db.dumpDataDir('none'));
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
