import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AisocError } from '../errors.ts';

/** Bits that let the group or others in. */
const OPEN = 0o077;

function tighten(path: string, mode: number, field: string): void {
  try {
    chmodSync(path, mode);
  } catch (err) {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `${path} is open to other users and cannot be made private (${(err as NodeJS.ErrnoException).code}): the data directory holds the database and the admin key; use a directory you own.`,
      { field, cause: err },
    );
  }
}

/**
 * Create `dir` (with any missing parents) readable by its owner only, or
 * tighten it to 0700 when it exists with group or other bits: it holds the
 * database, the admin key and the server's URL, and with a private directory
 * nothing inside is reachable by other users whatever a file's own mode.
 *
 * @example ensurePrivateDir('./.aisoc')
 */
export function ensurePrivateDir(dir: string, field = 'data_dir'): void {
  if (process.platform === 'win32') {
    mkdirSync(dir, { recursive: true });
    return;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (lstatSync(dir).mode & OPEN) tighten(dir, 0o700, field);
}

/**
 * Take the group and other bits off everything under `dir`: PGlite's file
 * system layer writes the files of its initial database 0666 (969 files, the
 * WAL included) whatever the umask, and keeps those modes as it reuses them.
 * Symbolic links are not followed.
 */
export function privatiseTree(dir: string, field = 'data_dir'): void {
  if (process.platform === 'win32') return;
  const walk = (path: string) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    if (st.mode & OPEN) tighten(path, st.mode & 0o700, field);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
}
