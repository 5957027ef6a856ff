import { renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AppConfig } from '../app-config.ts';
import { migrate } from './migrations.ts';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import { ensurePrivateDir } from './private-dir.ts';
import { Store } from './repository.ts';

export * from './repository.ts';

const DEFAULT_SHARED_BUFFERS_MB = 32;

export interface OpenStoreOptions {
  /** PostgreSQL URL; when absent the embedded PGlite database under `dataDir/pg` is used. */
  databaseUrl?: string;
  /** Data directory for the embedded database; `undefined` with no URL means in memory (tests). */
  dataDir?: string;
  /**
   * PostgreSQL `shared_buffers` of the embedded database, in MiB. Default: 32 (`embedded_db.shared_buffers_mb`'s
   * default); PostgreSQL's own 128 costs a second of start-up zeroing it, and an in-memory database gains
   * nothing from a page cache over memory.
   */
  sharedBuffersMb?: number;
}

/**
 * Open the store and bring its schema up to date.
 *
 * @example
 * const store = await openStore({ dataDir: './.aisoc' });
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  // The data directory holds the database, the admin key and the server's URL: its owner's only.
  if (options.dataDir && !options.databaseUrl) ensurePrivateDir(resolve(options.dataDir));
  const client = options.databaseUrl
    ? await openPostgres(options.databaseUrl)
    : await openPglite(options.dataDir ? join(resolve(options.dataDir), 'pg') : undefined, {
        sharedBuffersMb: options.sharedBuffersMb ?? DEFAULT_SHARED_BUFFERS_MB,
      });
  try {
    await migrate(client);
  } catch (err) {
    await client.close();
    throw err;
  }
  return new Store(client);
}

export function storeOptionsFromConfig(config: AppConfig): OpenStoreOptions {
  return config.database_url
    ? { databaseUrl: config.database_url }
    : { dataDir: config.data_dir, sharedBuffersMb: config.embedded_db.shared_buffers_mb };
}

/**
 * Write a dump of an empty, fully migrated embedded database to `path`, for
 * `AISOC_PGLITE_TEMPLATE` (new embedded databases then skip `initdb`).
 *
 * @example
 * await writePgliteTemplate('/tmp/aisoc-template.tar');
 */
export async function writePgliteTemplate(path: string): Promise<void> {
  const client = await openPglite();
  try {
    await migrate(client);
    const blob = await client.dump?.();
    if (!blob) throw new Error('The embedded engine cannot dump its data directory');
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.from(await blob.arrayBuffer()), { mode: 0o600 });
    renameSync(tmp, path);
  } finally {
    await client.close();
  }
}
