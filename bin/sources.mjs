// Which files of src/ the release build compiles into dist/, and a stamp of
// them. The build (scripts/build-dist.mjs) records the stamp in dist/; the
// launcher (bin/aisoc.mjs) recomputes it in a checkout and runs dist/ only
// when the two agree, so an edit made after the last build never runs as the
// old compiled code. Plain JavaScript: the launcher reads it before any
// TypeScript loader exists. A stamp is each file's path, size and
// modification time (~6 ms for the tree, where hashing the contents would
// read 4 MB at every start).
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** The file in dist/ that holds the stamp of the sources it was built from. */
export const STAMP_FILE = 'build-stamp.json';

/**
 * Whether a path under src/ (relative, with `/`) is part of the release
 * build: TypeScript and plain `.mjs` modules, but not tests, test support
 * (`testing/`), fixtures, or measuring scripts run by hand (`*.measure.ts`).
 *
 * @example isBuiltSource('cli/main.ts') // true
 */
export function isBuiltSource(rel) {
  if (!/\.(ts|mjs)$/.test(rel) || rel.endsWith('.d.ts')) return false;
  if (/\.(test|measure)\.ts$/.test(rel)) return false;
  return !/(^|\/)(testing|fixtures)\//.test(rel);
}

/** The built files of a source tree, as sorted paths relative to it (with `/`). */
export function sourceFiles(srcDir) {
  const out = [];
  for (const e of readdirSync(srcDir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const rel = relative(srcDir, join(e.parentPath, e.name)).split(sep).join('/');
    if (isBuiltSource(rel)) out.push(rel);
  }
  return out.sort();
}

/** A digest of the built files' paths, sizes and modification times. */
export function sourceStamp(srcDir) {
  const h = createHash('sha256');
  for (const rel of sourceFiles(srcDir)) {
    const s = statSync(join(srcDir, rel));
    h.update(`${rel}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 32);
}
