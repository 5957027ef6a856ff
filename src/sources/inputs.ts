import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { glob } from 'tinyglobby';
import { AisocError } from '../errors.ts';

// Hidden files and macOS resource forks only: everything else is read, and
// detection says why a file is skipped (a README, a Sigma rule, a packet capture).
const SKIP = /(^|\/)(\.|__MACOSX\/)/;

/**
 * Expand files, directories (recursively) and glob patterns into a sorted
 * list of files. A pattern that matches nothing is an error naming it.
 * Hidden files (`.name`) and `__MACOSX/` folders inside directories are left out.
 *
 * @example await expandInputs(['logs/', 'eve-*.json']) // ['/abs/logs/a.json', '/abs/eve-1.json']
 */
export async function expandInputs(patterns: string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const p of patterns) {
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(p);
    } catch {
      st = undefined;
    }
    if (st?.isFile()) {
      out.add(resolve(p));
      continue;
    }
    const matches = st?.isDirectory()
      ? await glob('**/*', { cwd: p, absolute: true, onlyFiles: true, dot: false })
      : await glob(p, { absolute: true, onlyFiles: true });
    const kept = st?.isDirectory()
      ? matches.filter((m) => !SKIP.test(m.slice(resolve(p).length + 1)))
      : matches;
    if (kept.length === 0)
      throw new AisocError('AISOC_ERR_VALIDATION', `No input files match ${p}`, { field: 'files' });
    for (const m of kept) out.add(m);
  }
  return [...out].sort();
}
