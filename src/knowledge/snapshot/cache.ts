/**
 * The built knowledge index on disk, under `<data_dir>/cache/`, so a
 * restart loads it (one file read off the event loop) instead of
 * rebuilding. The file name carries a digest of everything the index is
 * built from: the bundle's and training files' paths, sizes, modification
 * and change times, the mapper's parameters, the snapshot format and the
 * build code. A change to any of them names another file, so a stale index
 * is never read; the older file is deleted when the new one is written.
 * The change time is the one a rewrite cannot set back (a copy that keeps
 * the size and the modification time still changes it); hashing the bundle
 * itself would read tens of megabytes at every start.
 *
 * The name also carries the SHA-256 of the file's bytes, checked (on the
 * thread pool) when it is read: a damaged file is refused, and rebuilt,
 * rather than opened into wrong answers.
 */
import { createHash, webcrypto } from 'node:crypto';
import { statSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { AisocError } from '../../errors.ts';
import { SNAPSHOT_FORMAT } from './format.ts';

const PREFIX = 'knowledge-index-';
const SUFFIX = '.bin';

/** The cache directory of a data directory. */
export function cacheDir(dataDir: string): string {
  return join(resolve(dataDir), 'cache');
}

function fileStamp(
  path: string,
): { path: string; size: number; mtime_ms: number; ctime_ms: number } | { path: string } {
  try {
    const s = statSync(path);
    return {
      path: resolve(path),
      size: s.size,
      mtime_ms: Math.trunc(s.mtimeMs),
      ctime_ms: Math.trunc(s.ctimeMs),
    };
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

/** A cached index's file name: the key, then the SHA-256 of its bytes. */
const NAME = /^knowledge-index-([0-9a-f]{32})-([0-9a-f]{64})\.bin$/;

/** The path of the cached index for `key` whose bytes hash to `sha256`. */
export function cachedIndexPath(dir: string, key: string, sha256: string): string {
  return join(dir, `${PREFIX}${key}-${sha256}${SUFFIX}`);
}

async function sha256(bytes: Uint8Array): Promise<string> {
  // WebCrypto hashes on the thread pool: ~40 MB would hold the event loop for a tenth of a second.
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
}

/**
 * The cached index for `key`, if there is one (read and checked off the
 * event loop). Throws, naming the file, when its bytes do not match the
 * checksum in its name; the caller rebuilds.
 */
export async function readCachedIndex(dir: string, key: string): Promise<Uint8Array | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const name = names.find((n) => NAME.exec(n)?.[1] === key);
  if (!name) return undefined;
  const path = join(dir, name);
  let b: Buffer;
  try {
    b = await readFile(path);
  } catch {
    return undefined;
  }
  // A view, not a copy: the file is tens of megabytes.
  const bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if ((await sha256(bytes)) !== NAME.exec(name)![2])
    throw new AisocError(
      'AISOC_ERR_INTERNAL',
      `the file ${path} does not match the checksum in its name (damaged or truncated)`,
      { file: path },
    );
  return bytes;
}

/**
 * Write the index atomically (a temporary file renamed over the name, mode
 * 0600: it holds nothing secret, but the data directory is the server's
 * alone), then delete indexes cached under other keys or checksums.
 */
export async function writeCachedIndex(dir: string, key: string, bytes: Uint8Array): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = cachedIndexPath(dir, key, await sha256(bytes));
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, bytes, { mode: 0o600, flag: 'wx', flush: true });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const kept = basename(path);
  for (const name of await readdir(dir)) {
    if (name.startsWith(PREFIX) && name !== kept) await rm(join(dir, name), { force: true });
  }
  return path;
}
