import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePgliteTemplate } from '../../src/store/index.ts';
import { TEMPLATE_ENV } from '../../src/store/pglite.ts';

/** The run's shared ATT&CK index cache, which testServer() (runtime.ts) uses. */
export const INDEX_CACHE_ENV = 'AISOC_TEST_INDEX_CACHE_DIR';

/**
 * Once per test run: dump an empty, migrated embedded database and point
 * `AISOC_PGLITE_TEMPLATE` at it, so the hundreds of databases the tests open
 * (in memory, in temporary data directories, in spawned servers) start from
 * it instead of running `initdb` each time. The workers and the processes
 * they spawn inherit the variable.
 */
export default async function setup(): Promise<() => void> {
  if (process.env[TEMPLATE_ENV]) return () => {};
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-template-'));
  const path = join(dir, 'pglite-template.tar');
  await writePgliteTemplate(path);
  process.env[TEMPLATE_ENV] = path;
  // testServer() points knowledge.index_cache_dir here: the ATT&CK index is built once per run, not per file.
  process.env[INDEX_CACHE_ENV] = join(dir, 'knowledge-index');
  return () => {
    delete process.env[TEMPLATE_ENV];
    delete process.env[INDEX_CACHE_ENV];
    rmSync(dir, { recursive: true, force: true });
  };
}
