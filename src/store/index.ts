import { join, resolve } from 'node:path';
import type { AppConfig } from '../config/schema.ts';
import { migrate } from './migrations.ts';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import { Store } from './repository.ts';

export * from './repository.ts';

export interface OpenStoreOptions {
  /** PostgreSQL URL; when absent the embedded PGlite database under `dataDir/pg` is used. */
  databaseUrl?: string;
  /** Data directory for the embedded database; `undefined` with no URL means in memory (tests). */
  dataDir?: string;
  /** PostgreSQL `shared_buffers` of the embedded database, in MiB (default PostgreSQL's 128). */
  sharedBuffersMb?: number;
}

/**
 * Open the store and bring its schema up to date.
 *
 * @example
 * const store = await openStore({ dataDir: './.aisoc' });
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const client = options.databaseUrl
    ? await openPostgres(options.databaseUrl)
    : await openPglite(options.dataDir ? join(resolve(options.dataDir), 'pg') : undefined, {
        ...(options.sharedBuffersMb ? { sharedBuffersMb: options.sharedBuffersMb } : {}),
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
