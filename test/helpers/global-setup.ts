import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePgliteTemplate } from '../../src/store/index.ts';
import { TEMPLATE_ENV } from '../../src/store/pglite.ts';

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
  return () => {
    delete process.env[TEMPLATE_ENV];
    rmSync(dir, { recursive: true, force: true });
  };
}
