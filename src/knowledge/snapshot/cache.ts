/**
 * The built knowledge index on disk, under `<data_dir>/cache/`, so a
 * restart loads it (one file read off the event loop) instead of
 * rebuilding. The file name carries a digest of everything the index is
 * built from: the bundle's and training files' paths, sizes and modification
 * times, the mapper's parameters, the snapshot format and the build code.
 * A change to any of them names another file, so a stale index is never
 * read; the older file is deleted when the new one is written.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SNAPSHOT_FORMAT } from './format.ts';

const PREFIX = 'knowledge-index-';
const SUFFIX = '.bin';

/** The cache directory of a data directory. */
export function cacheDir(dataDir: string): string {
  return join(resolve(dataDir), 'cache');
}

function fileStamp(path: string): { path: string; size: number; mtime_ms: number } | { path: string } {
  try {
    const s = statSync(path);
    return { path: resolve(path), size: s.size, mtime_ms: Math.trunc(s.mtimeMs) };
  } catch {
    return { path: resolve(path) };
  }
}

/**
 * The cache key of a build: changes whenever its inputs or its code do.
 *
 * @example indexCacheKey({ bundle, training_files: [], params: {} }, codeDigest)
 */
export function indexCacheKey(
  inputs: {
    bundle: string;
    extra_bundles?: readonly string[];
    training_files: readonly string[];
    params: unknown;
  },
  code: string,
): string {
  return createHash('sha256')
    .update(
      JSON.stringify({
        format: SNAPSHOT_FORMAT,
        code,
        bundle: fileStamp(inputs.bundle),
        extra_bundles: (inputs.extra_bundles ?? []).map(fileStamp),
        training_files: inputs.training_files.map(fileStamp),
        params: inputs.params ?? {},
      }),
    )
    .digest('hex')
    .slice(0, 32);
}

/** The path of the cached index for `key`. */
export function cachedIndexPath(dir: string, key: string): string {
  return join(dir, `${PREFIX}${key}${SUFFIX}`);
}

/** The cached index for `key`, if there is one (read off the event loop). */
export async function readCachedIndex(dir: string, key: string): Promise<Uint8Array | undefined> {
  try {
    // A view, not a copy: the file is tens of megabytes.
    const b = await readFile(cachedIndexPath(dir, key));
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch {
    return undefined;
  }
}

/**
 * Write the index atomically (a temporary file renamed over the name, mode
 * 0600: it holds nothing secret, but the data directory is the server's
 * alone), then delete indexes cached under other keys.
 */
export async function writeCachedIndex(dir: string, key: string, bytes: Uint8Array): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = cachedIndexPath(dir, key);
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, bytes, { mode: 0o600, flag: 'wx', flush: true });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  for (const name of await readdir(dir)) {
    if (name.startsWith(PREFIX) && name !== `${PREFIX}${key}${SUFFIX}`)
      await rm(join(dir, name), { force: true });
  }
  return path;
}
