import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `../shared/data` beside the project (override with AISOC_SHARED_DATA). */
export const SHARED_DATA = resolve(
  process.env.AISOC_SHARED_DATA ?? join(dirname(fileURLToPath(import.meta.url)), '../../../shared/data'),
);

/** Whether we run in CI, where the shared data must be present. */
export const IN_CI = Boolean(process.env.CI);

/**
 * Whether shared data is available for a test. Outside CI a missing folder
 * skips with a message; in CI it is a failure (the data is part of the
 * environment there).
 *
 * @example
 * describe.skipIf(!sharedData('cloudtrail'))('real CloudTrail', () => { … });
 */
export function sharedData(...parts: string[]): string | undefined {
  const p = join(SHARED_DATA, ...parts);
  if (existsSync(p)) return p;
  if (IN_CI) throw new Error(`Shared data ${p} is missing in CI; it is required there.`);
  console.warn(`Skipping: shared data ${p} is absent (set AISOC_SHARED_DATA to its location).`);
  return undefined;
}
