import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { AisocError, describeError } from '../errors.ts';
import {
  type FollowPosition,
  HEAD_MAX,
  holdsPosition,
  type PositionStore,
  readAt,
  sha256,
  TAIL_MAX,
} from './follow-position.ts';

// The position store, the lock and the records of lines are modules of their own; the CLI imports them from here.
export { lockStateFile } from './follow-lock.ts';
export {
  defaultStateFile,
  type FollowPosition,
  filePositionStore,
  type KvLike,
  kvPositionStore,
  type PositionStore,
} from './follow-position.ts';
export { assertFollowable, linesToRecords } from './follow-records.ts';

const CHUNK = 1024 * 1024;
const NEWLINE = Buffer.from('\n');

/** What {@link followFile} follows, where it keeps its position, and how it sends lines. */
export interface FollowOptions {
  /** The file to follow; it may not exist yet. */
  path: string;
  /** Where the position is kept. */
  store: PositionStore;
  /**
   * Deliver complete lines (without their newline; blank lines left out).
   * Resolve only once they are durable: the position moves past them after.
   */
  send(lines: string[]): Promise<void>;
  /** Lines per batch (default 500). */
  batchLines?: number;
  /** Longest a line waits for its batch to fill, in ms (default 500). */
  flushMs?: number;
  /** Fallback poll interval in ms; fs.watch wakes the follower sooner when it works (default 1000). */
  pollMs?: number;
  /** After a rotation, how long the old file must stay quiet before the new one is read, in ms (default 1000). */
  rotateGraceMs?: number;
  /** Longest line kept, in bytes; longer lines are dropped and counted (default 16 MiB). */
  maxLineBytes?: number;
  /** With no saved position: start at the end of the file instead of its beginning. */
  fromEnd?: boolean;
  /** Whether a failed send is retried (with back-off) rather than ending the follower. */
  retryable?(err: unknown): boolean;
  /** After a stop is requested, how long a failing send keeps being retried, in ms (default 10,000). */
  stopTimeoutMs?: number;
  /** Stops the follower: complete lines read so far are sent, the position saved, files closed. */
  signal?: AbortSignal;
  logger?: Logger;
}

/** What a follower did, returned when it stops. */
export interface FollowStats {
  /** Lines delivered and acknowledged. */
  lines: number;
  batches: number;
  rotations: number;
  truncations: number;
  /** Lines too long to keep, and incomplete last lines of rotated files. */
  dropped_lines: number;
  /** Failed sends that were retried. */
  retries: number;
  /** Lines read but not acknowledged when the follower stopped (sent again on restart). */
  unacknowledged: number;
}

/** By default a send is retried when the failure is transient: overload, or a server or network failure. */
export function transientError(err: unknown): boolean {
  if (!(err instanceof AisocError)) return false;
  if (err.details?.retryable === true) return true;
  return (
    err.code === 'AISOC_ERR_OVERLOADED' ||
    err.code === 'AISOC_ERR_UNDER_PRESSURE' ||
    err.code === 'AISOC_ERR_STORE' ||
    err.code === 'AISOC_ERR_SHUTTING_DOWN'
  );
}

interface Line {
  text: string;
  /** Bytes of the line in the file, for the bound on what is held in memory. */
  size: number;
  /** Offset just past the line's newline. */
  end: number;
}

interface Current {
  fh: FileHandle;
  dev: number;
  ino: number;
  /** Next byte to read. */
  readPos: number;
  /** Bytes of the line not yet complete. */
  partial: Buffer[];
  partialBytes: number;
  /** Inside a line longer than the limit: skip to its newline. */
  discarding: boolean;
  /** Hash of the first line once it is complete, to notice content replaced under the same inode. */
  head?: { hash: string; bytes: number };
  ackOffset: number;
}

class StopNow extends Error {}

/**
 * Follow a growing file: send its complete lines in batches as they are
 * appended (a partial last line waits for its newline), survive rotation
 * (the path names a new inode: the old file's remaining complete lines are
 * read first, then the new file from its start) and truncation (the file
 * shrinks below the position, or its first line changes: read again from
 * the start), and keep the position durably after each acknowledged batch.
 * fs.watch wakes the follower; a poll interval backs it up, since watching
 * misses events on some file systems. Resolves when `signal` aborts, after
 * sending what was complete; rejects when a send fails for good.
 *
 * @example
 * const ac = new AbortController();
 * process.once('SIGINT', () => ac.abort());
 * await followFile({ path: 'eve.json', store: filePositionStore('eve.state'), send: (lines) => post(lines), signal: ac.signal });
 */
export async function followFile(options: FollowOptions): Promise<FollowStats> {
  return new Follower(options).run();
}

class Follower {
  private readonly path: string;
  private readonly batchLines: number;
  private readonly flushMs: number;
  private readonly pollMs: number;
  private readonly graceMs: number;
  private readonly maxLine: number;
  private readonly retryable: (err: unknown) => boolean;
  private readonly stats: FollowStats = {
    lines: 0,
    batches: 0,
    rotations: 0,
    truncations: 0,
    dropped_lines: 0,
    retries: 0,
    unacknowledged: 0,
  };
  private cur: Current | undefined;
  private queue: Line[] = [];
  private queuedBytes = 0;
  private queuedSince = 0;
  private watcher: FSWatcher | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private stopDeadline = 0;

  constructor(private readonly o: FollowOptions) {
    this.path = resolve(o.path);
    this.batchLines = positive(o.batchLines ?? 500, 'batch');
    this.flushMs = o.flushMs ?? 500;
    this.pollMs = o.pollMs ?? 1000;
    this.graceMs = o.rotateGraceMs ?? 1000;
    this.maxLine = o.maxLineBytes ?? 16 * 1024 * 1024;
    this.retryable = o.retryable ?? transientError;
  }

  private get stopping(): boolean {
    return this.o.signal?.aborted === true;
  }

  async run(): Promise<FollowStats> {
    const onAbort = () => {
      this.stopDeadline = Date.now() + (this.o.stopTimeoutMs ?? 10_000);
      this.wake();
    };
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    if (this.stopping) onAbort();
    this.watch();
    try {
      await this.start();
      while (!this.stopping) {
        const read = await this.readAvailable();
        if (this.queue.length >= this.batchLines) {
          await this.flush(this.batchLines);
          continue;
        }
        if (this.queue.length > 0 && Date.now() - this.queuedSince >= this.flushMs) await this.flush();
        const changed = await this.checkFile();
        if (read > 0 || changed) continue;
        const untilFlush = this.queue.length > 0 ? this.queuedSince + this.flushMs - Date.now() : this.pollMs;
        await this.sleep(Math.max(1, Math.min(this.pollMs, untilFlush)));
      }
      // Stopping: what is complete now is sent, so nothing read is left unacknowledged.
      // Bounded by the size at the stop, so a file that keeps growing cannot hold the stop up.
      const cur = this.cur;
      if (cur) {
        const size = (await cur.fh.stat()).size;
        for (;;) {
          const read = await this.readAvailable();
          while (this.queue.length > 0) await this.flush(this.batchLines);
          if (read === 0 || cur.readPos >= size) break;
        }
      }
    } catch (err) {
      if (!(err instanceof StopNow)) throw err;
    } finally {
      this.stats.unacknowledged = this.queue.length;
      this.o.signal?.removeEventListener('abort', onAbort);
      this.watcher?.close();
      await this.cur?.fh.close().catch(() => undefined);
    }
    return this.stats;
  }

  // ------------------------------------------------------------ waking

  private watch(): void {
    try {
      // The directory, not the file: a watch on the file follows its inode away on rotation.
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        if (name === null || name === basename(this.path)) this.wake();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // No watching here (no inotify left, a network file system): the poll interval does the work.
      this.watcher = undefined;
    }
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    // An event while the follower is busy is kept, so the next sleep does not wait a whole poll for it.
    if (w) w();
    else this.woken = true;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping || this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  // ------------------------------------------------------------ opening and resuming

  private async start(): Promise<void> {
    const saved = await this.o.store.load();
    const pos = saved && saved.path === this.path ? saved : undefined;
    if (saved && !pos)
      this.o.logger?.warn(
        { saved: saved.path, path: this.path, store: this.o.store.where },
        'The saved follow position belongs to another path; starting this file afresh.',
      );
    const fh = await this.openWhenPresent();
    if (!fh) return;
    const st = await fh.stat();
    if (pos && (st.dev !== pos.dev || st.ino !== pos.ino)) {
      // The path names another file than the one we stopped in: finish the old one first if it is still beside it.
      const old = await this.findSibling(pos, 'inode');
      if (old) {
        this.o.logger?.info(
          { path: this.path },
          'The file was rotated while the follower was stopped: reading the rest of the old file first.',
        );
        await fh.close();
        this.cur = this.current(old.fh, old.st, pos.offset);
        await this.drainAndSwitch();
        return;
      }
    }
    let offset = 0;
    if (pos) {
      const sameInode = st.dev === pos.dev && st.ino === pos.ino;
      const sameContent = await holdsPosition(fh, st.size, pos);
      // Another inode with the same first line and the same bytes before the offset is the same content (moved back, or a renumbered device).
      if (sameContent && (sameInode || pos.tail_hash !== undefined)) offset = pos.offset;
      else if (sameInode) {
        const copy = await this.findSibling(pos, 'copy');
        if (copy) await this.drainCopy(copy, pos.offset);
        this.stats.truncations++;
        this.o.logger?.info(
          { path: this.path },
          'The file was truncated or replaced while the follower was stopped: reading it from the start.',
        );
      } else {
        this.stats.rotations++;
        this.o.logger?.info(
          { path: this.path },
          'The file was rotated while the follower was stopped and the old file is gone: reading the new file from the start.',
        );
      }
    } else if (this.o.fromEnd) {
      offset = await lastLineEnd(fh, st.size);
    }
    this.cur = this.current(fh, st, offset);
    if (!pos || pos.offset !== offset || st.dev !== pos.dev || st.ino !== pos.ino) await this.save();
  }

  private async openWhenPresent(): Promise<FileHandle | undefined> {
    let told = false;
    for (;;) {
      try {
        const fh = await open(this.path, 'r');
        const st = await fh.stat();
        if (!st.isFile()) {
          await fh.close();
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            `${this.path} is not a regular file; --follow takes one file`,
            {
              field: 'files',
            },
          );
        }
        return fh;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (!told) this.o.logger?.info({ path: this.path }, 'Waiting for the file to appear.');
      told = true;
      if (this.stopping) return undefined;
      await this.sleep(this.pollMs);
    }
  }

  private current(fh: FileHandle, st: { dev: number; ino: number }, offset: number): Current {
    return {
      fh,
      dev: st.dev,
      ino: st.ino,
      readPos: offset,
      partial: [],
      partialBytes: 0,
      discarding: false,
      ackOffset: offset,
    };
  }

  /**
   * A file beside the followed path that holds the content a position was
   * saved in: by `inode`, the old file renamed by rotation; by `copy`, the
   * copy copytruncate made (a name starting with the followed file's name,
   * the same first line and the same bytes before the offset), which holds
   * the lines written between the last read and the truncation.
   */
  private async findSibling(pos: FollowPosition, by: 'inode' | 'copy') {
    const dir = dirname(this.path);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return undefined;
    }
    for (const name of names) {
      const p = join(dir, name);
      if (p === this.path || (by === 'copy' && !name.startsWith(basename(this.path)))) continue;
      try {
        const st = await stat(p);
        if (!st.isFile()) continue;
        const sameInode = st.dev === pos.dev && st.ino === pos.ino;
        if (by === 'inode' ? !sameInode : sameInode || pos.tail_hash === undefined) continue;
        const fh = await open(p, 'r');
        if (await holdsPosition(fh, st.size, pos)) return { fh, st };
        await fh.close();
      } catch {
        // Gone between listing and opening: not ours to read.
      }
    }
    return undefined;
  }

  /** Read the rest of a copy made by copytruncate, from the saved offset, then go back to the followed file. */
  private async drainCopy(
    copy: { fh: FileHandle; st: { dev: number; ino: number } },
    offset: number,
  ): Promise<void> {
    const back = this.cur;
    this.o.logger?.info(
      { path: this.path },
      'The file was copied before it was truncated: reading the rest of the copy first.',
    );
    this.cur = this.current(copy.fh, copy.st, offset);
    try {
      // A copy is not written to: no grace period.
      await this.drain(0);
    } finally {
      await copy.fh.close();
      this.cur = back;
    }
  }

  // ------------------------------------------------------------ reading

  /** Read what is there (up to a bounded queue), cutting complete lines. Returns the bytes read. */
  private async readAvailable(): Promise<number> {
    const cur = this.cur;
    if (!cur) return 0;
    let total = 0;
    while (this.queue.length < this.batchLines * 4 && this.queuedBytes < 64 * 1024 * 1024) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await cur.fh.read(buf, 0, CHUNK, cur.readPos);
      if (bytesRead === 0) break;
      // Emptied and written again since the last look: these bytes are new content, read from the start instead.
      if (await this.headChanged(cur)) break;
      this.consume(cur, buf.subarray(0, bytesRead));
      total += bytesRead;
    }
    return total;
  }

  private consume(cur: Current, chunk: Buffer): void {
    const base = cur.readPos;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) {
        if (!cur.discarding) {
          cur.partial.push(Buffer.from(chunk.subarray(start)));
          cur.partialBytes += chunk.length - start;
          if (cur.partialBytes > this.maxLine) this.startDiscarding(cur);
        }
        break;
      }
      const end = base + nl + 1;
      if (cur.discarding) {
        cur.discarding = false;
      } else {
        const piece = chunk.subarray(start, nl);
        const bytes = cur.partialBytes > 0 ? Buffer.concat([...cur.partial, piece]) : piece;
        const atStart = end - bytes.length - 1 === 0;
        // The first line identifies the content: known as soon as it is complete, checked after every read.
        if (atStart && !cur.head) {
          const first = Buffer.concat([bytes, NEWLINE]).subarray(0, HEAD_MAX);
          cur.head = { hash: sha256(first), bytes: first.length };
        }
        if (bytes.length > this.maxLine) this.dropLine(end);
        else this.emit(bytes, end, atStart);
      }
      cur.partial = [];
      cur.partialBytes = 0;
      start = nl + 1;
    }
    cur.readPos = base + chunk.length;
  }

  private startDiscarding(cur: Current): void {
    cur.discarding = true;
    cur.partial = [];
    cur.partialBytes = 0;
    this.stats.dropped_lines++;
    this.o.logger?.warn(
      { path: this.path, max_line_bytes: this.maxLine },
      'A line longer than the limit was dropped.',
    );
  }

  private dropLine(end: number): void {
    this.stats.dropped_lines++;
    this.o.logger?.warn(
      { path: this.path, end, max_line_bytes: this.maxLine },
      'A line longer than the limit was dropped.',
    );
  }

  private emit(bytes: Buffer, end: number, atStart: boolean): void {
    let from = 0;
    if (atStart && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) from = 3;
    let to = bytes.length;
    if (to > from && bytes[to - 1] === 0x0d) to--;
    const text = bytes.toString('utf8', from, to);
    if (text.trim() === '') return;
    if (this.queue.length === 0) this.queuedSince = Date.now();
    this.queue.push({ text, end, size: to - from });
    this.queuedBytes += to - from;
  }

  // ------------------------------------------------------------ sending

  /** Send up to `n` queued lines (all by default), then save the position past them. */
  private async flush(n = this.queue.length): Promise<void> {
    const cur = this.cur;
    if (!cur || this.queue.length === 0) return;
    const batch = this.queue.slice(0, n);
    await this.sendWithRetry(batch.map((l) => l.text));
    this.queue.splice(0, batch.length);
    for (const l of batch) this.queuedBytes -= l.size;
    if (this.queue.length > 0) this.queuedSince = Date.now();
    this.stats.lines += batch.length;
    this.stats.batches++;
    cur.ackOffset = batch[batch.length - 1]!.end;
    await this.save();
  }

  private async sendWithRetry(lines: string[]): Promise<void> {
    let delay = 500;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.send(lines);
        return;
      } catch (err) {
        if (!this.retryable(err)) throw err;
        if (this.stopping && Date.now() >= this.stopDeadline) throw new StopNow();
        this.stats.retries++;
        this.o.logger?.warn(
          { path: this.path, attempt, retry_in_ms: delay, err: describeError(err) },
          'Sending lines failed; retrying.',
        );
        await new Promise((r) => setTimeout(r, this.stopping ? Math.min(delay, 1000) : delay));
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  private async save(): Promise<void> {
    if (this.cur) await this.o.store.save(await this.positionOf(this.cur));
  }

  private async positionOf(cur: Current): Promise<FollowPosition> {
    const position: FollowPosition = {
      path: this.path,
      dev: cur.dev,
      ino: cur.ino,
      offset: cur.ackOffset,
      updated_at: new Date().toISOString(),
    };
    const head = await this.headOf(cur);
    if (head && head.bytes <= cur.ackOffset) {
      position.head_hash = head.hash;
      position.head_bytes = head.bytes;
    }
    if (cur.ackOffset > 0) {
      const n = Math.min(TAIL_MAX, cur.ackOffset);
      position.tail_hash = sha256(await readAt(cur.fh, cur.ackOffset - n, n));
      position.tail_bytes = n;
    }
    return position;
  }

  /**
   * Whether the first line differs from the one seen: the file was emptied
   * and written again, perhaps past the position already (which the size
   * alone cannot tell). Checked after each read, so bytes of new content
   * are never taken for the continuation of the old.
   */
  private async headChanged(cur: Current): Promise<boolean> {
    const head = cur.head;
    if (!head) return false;
    return sha256(await readAt(cur.fh, 0, head.bytes)) !== head.hash;
  }

  /** The file's first line (at most 4 KiB), once complete. */
  private async headOf(cur: Current): Promise<{ hash: string; bytes: number } | undefined> {
    if (cur.head) return cur.head;
    const buf = await readAt(cur.fh, 0, HEAD_MAX);
    const nl = buf.indexOf(0x0a);
    if (nl < 0 && buf.length < HEAD_MAX) return undefined;
    const bytes = nl < 0 ? HEAD_MAX : nl + 1;
    cur.head = { hash: sha256(buf.subarray(0, bytes)), bytes };
    return cur.head;
  }

  // ------------------------------------------------------------ rotation and truncation

  /** Notice rotation and truncation; returns whether the file being read changed. */
  private async checkFile(): Promise<boolean> {
    const cur = this.cur;
    if (!cur) {
      const fh = await this.openWhenPresent();
      if (!fh) return false;
      const st = await fh.stat();
      this.cur = this.current(fh, st, 0);
      await this.save();
      return true;
    }
    let st: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      st = await stat(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      st = undefined;
    }
    if (st && st.dev === cur.dev && st.ino === cur.ino) {
      if (st.size >= cur.readPos && !(await this.headChanged(cur))) return false;
      // Truncated (copytruncate), perhaps already written again: what was read is sent, the rest of the
      // copy if there is one, then the file is read from the start.
      await this.flush();
      const copy = cur.head ? await this.findSibling(await this.positionOf(cur), 'copy') : undefined;
      if (copy) await this.drainCopy(copy, cur.ackOffset);
      else if (cur.partialBytes > 0) this.dropIncomplete(cur, 'truncated');
      this.stats.truncations++;
      this.o.logger?.info({ path: this.path }, 'The file was truncated: reading it from the start.');
      cur.readPos = 0;
      cur.ackOffset = 0;
      cur.head = undefined;
      cur.partial = [];
      cur.partialBytes = 0;
      cur.discarding = false;
      await this.save();
      return true;
    }
    // Renamed or removed: the path will name another file (or names one already).
    if (!st) return false;
    await this.drainAndSwitch();
    return true;
  }

  /**
   * Read the current file to its end and send it all, until it has been
   * quiet for `graceMs` (after a rotation a writer may still append to the
   * old file before it reopens the path). An incomplete last line is dropped.
   */
  private async drain(graceMs: number): Promise<void> {
    const cur = this.cur!;
    let quietSince = Date.now();
    for (;;) {
      const read = await this.readAvailable();
      if (this.queue.length > 0) await this.flush(this.batchLines);
      if (read > 0) quietSince = Date.now();
      else if (this.queue.length === 0 && (Date.now() - quietSince >= graceMs || this.stopping)) break;
      else if (read === 0) await new Promise((r) => setTimeout(r, Math.min(100, graceMs)));
    }
    if (cur.partialBytes > 0) this.dropIncomplete(cur, 'rotated');
  }

  /** After a rotation: finish the old file, then read the file the path names now from its start. */
  private async drainAndSwitch(): Promise<void> {
    await this.drain(this.graceMs);
    await this.cur!.fh.close();
    this.cur = undefined;
    this.stats.rotations++;
    this.o.logger?.info({ path: this.path }, 'The file was rotated: reading the new file from its start.');
    const fh = await this.openWhenPresent();
    if (!fh) return;
    this.cur = this.current(fh, await fh.stat(), 0);
    await this.save();
  }

  private dropIncomplete(cur: Current, why: string): void {
    this.stats.dropped_lines++;
    this.o.logger?.warn(
      { path: this.path, bytes: cur.partialBytes },
      `The file was ${why} with an incomplete last line; that line is dropped.`,
    );
    cur.partial = [];
    cur.partialBytes = 0;
  }
}

/** Where the last complete line of a file ends (its start when no newline is found in the last 64 KiB). */
async function lastLineEnd(fh: FileHandle, size: number): Promise<number> {
  const n = Math.min(size, 64 * 1024);
  const tail = await readAt(fh, size - n, n);
  const nl = tail.lastIndexOf(0x0a);
  return nl < 0 ? (n === size ? 0 : size) : size - n + nl + 1;
}

function positive(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 1)
    throw new AisocError(
      'AISOC_ERR_VALIDATION',
      `--${field} must be a whole number of at least 1, got ${n}`,
      {
        field,
      },
    );
  return n;
}
