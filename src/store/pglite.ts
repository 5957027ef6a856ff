import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { AisocError } from '../errors.ts';
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
    const fresh = !dir || !existsSync(join(dir, 'PG_VERSION'));
    const template = fresh ? templateFromEnv() : undefined;
    db = await PGlite.create(dir, template ? { loadDataDir: template } : {});
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
    async dump() {
      return db.dumpDataDir('none');
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
