import { createHash } from 'node:crypto';
import { type FileHandle, mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AisocError, describeError } from '../errors.ts';

/**
 * Where a follower stands in a file, saved only after every line before
 * `offset` was acknowledged (stored durably), so a restart resumes with no
 * loss and sends nothing twice but the batch that was in flight.
 */
export interface FollowPosition {
  /** The followed path, absolute. */
  path: string;
  /** Device and inode of the file the offset belongs to: a new inode at the path means rotation. */
  dev: number;
  ino: number;
  /** Byte offset just past the last acknowledged line. */
  offset: number;
  /** SHA-256 (hex) of the file's first line (at most 4 KiB): recognises the same content after copytruncate. */
  head_hash?: string;
  head_bytes?: number;
  /** SHA-256 of the (at most 256) bytes before `offset`: the offset still ends the same line. */
  tail_hash?: string;
  tail_bytes?: number;
  updated_at: string;
}

/** Durable storage for one follower's position. */
export interface PositionStore {
  /** Where positions are kept, for messages. */
  readonly where: string;
  load(): Promise<FollowPosition | undefined>;
  save(position: FollowPosition): Promise<void>;
}

/** The most bytes of a file's first line a position hashes. */
export const HEAD_MAX = 4096;
/** The most bytes before the offset a position hashes. */
export const TAIL_MAX = 256;

/** SHA-256 of bytes, in hex. */
export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

function isPosition(v: unknown): v is FollowPosition {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return (
    typeof p.path === 'string' &&
    typeof p.dev === 'number' &&
    typeof p.ino === 'number' &&
    typeof p.offset === 'number' &&
    Number.isInteger(p.offset) &&
    p.offset >= 0
  );
}

/**
 * Positions in a JSON state file, written atomically (a temporary file in
 * the same directory, flushed to disk, then renamed over the old one), so a
 * crash leaves the old position or the new one, never half of either.
 *
 * @example
 * const store = filePositionStore('/var/lib/aisoc/follow/eve.json.state');
 * await store.save({ path: '/var/log/suricata/eve.json', dev: 2049, ino: 131, offset: 5120, updated_at: new Date().toISOString() });
 */
export function filePositionStore(file: string): PositionStore {
  const abs = resolve(file);
  return {
    where: abs,
    async load() {
      let text: string;
      try {
        text = await readFile(abs, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new AisocError(
          'AISOC_ERR_VALIDATION',
          `Cannot read the follow state file ${abs}: ${describeError(err)}`,
          {
            field: 'state',
          },
        );
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new AisocError(
          'AISOC_ERR_VALIDATION',
          `The follow state file ${abs} is not valid JSON (${describeError(err)}); remove it to start the file over`,
          { field: 'state' },
        );
      }
      if (!isPosition(value))
        throw new AisocError(
          'AISOC_ERR_VALIDATION',
          `The follow state file ${abs} does not hold a position (path, dev, ino, offset); remove it to start the file over`,
          { field: 'state' },
        );
      return value;
    },
    async save(position) {
      await mkdir(dirname(abs), { recursive: true });
      const tmp = `${abs}.${process.pid}.tmp`;
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(position)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, abs);
      // The rename itself is durable only once the directory is flushed.
      const dir = await open(dirname(abs), 'r');
      try {
        await dir.sync();
      } catch {
        // Some file systems refuse fsync on a directory; the rename is still atomic there.
      } finally {
        await dir.close();
      }
    },
  };
}

/** The small key-value store the embedded store offers (`store.kv`). */
export interface KvLike {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
}

/**
 * Positions in the store's `kv` table under `follow:<absolute path>`: in
 * local mode the position lives beside the events it describes.
 *
 * @example const store = kvPositionStore(runtime.store.kv, '/var/ossec/logs/alerts/alerts.json');
 */
export function kvPositionStore(kv: KvLike, path: string): PositionStore {
  const key = `follow:${resolve(path)}`;
  return {
    where: `kv ${key}`,
    async load() {
      const v = await kv.get<unknown>(key);
      if (v === undefined || v === null) return undefined;
      if (!isPosition(v))
        throw new AisocError('AISOC_ERR_VALIDATION', `The stored follow position ${key} is not a position`, {
          field: 'state',
        });
      return v;
    },
    save: (position) => kv.set(key, position),
  };
}

/** The default state file of a followed path: `<data-dir>/follow/<sha256 of the absolute path>.json`. */
export function defaultStateFile(dataDir: string, path: string): string {
  return join(dataDir, 'follow', `${sha256(Buffer.from(resolve(path))).slice(0, 32)}.json`);
}

/** Whether a file still holds the content a position was saved in: long enough, same first line, same bytes before the offset. */
export async function holdsPosition(fh: FileHandle, size: number, pos: FollowPosition): Promise<boolean> {
  if (size < pos.offset) return false;
  if (pos.head_hash !== undefined && pos.head_bytes !== undefined) {
    if (sha256(await readAt(fh, 0, pos.head_bytes)) !== pos.head_hash) return false;
  }
  if (pos.tail_hash !== undefined && pos.tail_bytes !== undefined) {
    const tail = await readAt(fh, pos.offset - pos.tail_bytes, pos.tail_bytes);
    if (sha256(tail) !== pos.tail_hash) return false;
  }
  return true;
}

/** Read `length` bytes at `position` (fewer at the end of the file). */
export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(Math.max(0, length));
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}
