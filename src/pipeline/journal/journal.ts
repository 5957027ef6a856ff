import { type FileHandle, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AisocError, describeError } from '../../errors.ts';
import { ensurePrivateDir } from '../../store/private-dir.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import { journalMetrics } from '../metrics.ts';
import { encodeFrame, FRAME_HEADER_BYTES, frameAt, nextFrame } from './frame.ts';

/*
 * The journal is a sequence of segment files, each named for the journal
 * position of its first byte (20 digits, `.seg`), so a position — a byte
 * count since the journal began — names a segment and an offset in it, and
 * the loader's checkpoint is one number. Segments are contiguous: a new one
 * starts where the last ended.
 */

const SEGMENT_NAME = /^(\d{20})\.seg$/;

function segmentName(base: number): string {
  return `${String(base).padStart(20, '0')}.seg`;
}

interface Segment {
  base: number;
  name: string;
  path: string;
  /** Bytes in the file (for the active segment: written and fsynced). */
  size: number;
}

/** A frame read back: its journal positions and payload. */
export interface JournalFrame {
  start: number;
  end: number;
  events: number;
  payload: Buffer;
}

export interface JournalOptions {
  dir: string;
  /** Size after which appends go to a new segment. */
  segmentBytes: number;
  logger: Logger;
  metrics: Metrics;
  /** The config field `dir` came from, for errors. */
  field?: string;
}

interface Append {
  frame: Buffer;
  events: number;
  resolve(): void;
  reject(err: unknown): void;
}

/** What {@link Journal.open} found after the checkpoint. */
export interface JournalRecovery {
  frames: number;
  events: number;
  bytes: number;
}

/**
 * An append-only, fsynced journal of frames with group commit: appends that
 * arrive while one fdatasync runs are written together and share the next
 * one, and each append resolves after the fdatasync that covers its frame.
 * Frames are read back up to {@link Journal.durableEnd}; damaged bytes met
 * on the way are moved aside to a `.corrupt` file and skipped.
 *
 * @example
 * const journal = new Journal({ dir, segmentBytes: 64 << 20, logger, metrics });
 * await journal.open(checkpoint);
 * await journal.append(Buffer.from(JSON.stringify(batch)), batch.events.length);
 */
export class Journal {
  private segments: Segment[] = [];
  private fd: FileHandle | undefined;
  private queue: Append[] = [];
  private queuedBytes = 0;
  private flushing: Promise<void> | undefined;
  private failed: unknown;
  private closed = false;
  private readonly metrics;
  /** Damaged regions already moved aside: start → end (journal positions). */
  private readonly skips = new Map<number, number>();
  /** Everything before this is fsynced, and may be read. */
  durableEnd = 0;
  /** Everything before this is loaded into the store (the loader's checkpoint). */
  loadedTo = 0;
  /** Frames and events after `loadedTo`, durable, not loaded yet. */
  pendingFrames = 0;
  pendingEvents = 0;
  /** Called after each fsync that made frames durable. */
  onDurable: (() => void) | undefined;

  constructor(private readonly opts: JournalOptions) {
    this.metrics = journalMetrics(opts.metrics);
  }

  /** Bytes acknowledged or being appended that are not loaded yet. */
  get pendingBytes(): number {
    return this.durableEnd - this.loadedTo + this.queuedBytes;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /**
   * Open the journal for a loader whose checkpoint is `checkpoint`: delete
   * segments already loaded, check every frame after it (moving damage
   * aside, cutting an unacknowledged torn frame off the end), and open the
   * last segment for appends.
   */
  async open(checkpoint: number): Promise<JournalRecovery> {
    const { dir, field = 'pipeline.journal.dir' } = this.opts;
    ensurePrivateDir(dir, field);
    const found: Segment[] = [];
    for (const name of await readdir(dir)) {
      const m = SEGMENT_NAME.exec(name);
      if (!m) continue;
      const path = join(dir, name);
      found.push({ base: Number(m[1]), name, path, size: (await stat(path)).size });
    }
    found.sort((a, b) => a.base - b.base);
    this.segments = [];
    for (const seg of found) {
      if (seg.base + seg.size <= checkpoint) await rm(seg.path, { force: true });
      else this.segments.push(seg);
    }
    this.loadedTo = checkpoint;
    const recovery: JournalRecovery = { frames: 0, events: 0, bytes: 0 };
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      await this.check(seg, Math.max(checkpoint, seg.base), i === this.segments.length - 1, recovery);
    }
    const last = this.segments[this.segments.length - 1];
    this.durableEnd = Math.max(checkpoint, last ? last.base + last.size : 0);
    recovery.bytes = this.durableEnd - checkpoint;
    this.pendingFrames = recovery.frames;
    this.pendingEvents = recovery.events;
    if (last && last.size < this.opts.segmentBytes) this.fd = await open(last.path, 'a', 0o600);
    else await this.roll();
    this.updateGauges();
    return recovery;
  }

  /** Check the frames of `seg` from journal position `from` to its end, at start. */
  private async check(seg: Segment, from: number, last: boolean, recovery: JournalRecovery): Promise<void> {
    const fh = await open(seg.path, 'r');
    let buf: Buffer;
    try {
      buf = Buffer.alloc(seg.size - (from - seg.base));
      if (buf.length > 0) await fh.read(buf, 0, buf.length, from - seg.base);
    } finally {
      await fh.close();
    }
    let at = 0;
    while (at < buf.length) {
      const f = frameAt(buf, at);
      if (f.kind === 'frame') {
        recovery.frames++;
        recovery.events += f.events;
        at = f.end;
        continue;
      }
      const next = nextFrame(buf, at + 1);
      if (next < 0 && last) {
        // Nothing valid after it at the end of the journal: a write cut short, never acknowledged.
        const keep = from - seg.base + at;
        const fd = await open(seg.path, 'r+');
        try {
          await fd.truncate(keep);
          await fd.datasync();
        } finally {
          await fd.close();
        }
        this.opts.logger.warn(
          { segment: seg.name, offset: keep, bytes: seg.size - keep },
          'The journal ends with a torn frame, never acknowledged; it is cut off.',
        );
        this.metrics.journalTornTails.inc();
        seg.size = keep;
        return;
      }
      const end = next < 0 ? buf.length : next;
      await this.moveAside(seg, from + at, buf.subarray(at, end));
      at = end;
    }
  }

  /**
   * Keep a frame the store refused, whole, in `rejected-<position>.frame`
   * (fsynced, with the directory), before the checkpoint passes it; the path.
   */
  async keepRejected(frame: JournalFrame): Promise<string> {
    const path = join(this.opts.dir, `rejected-${frame.start}.frame`);
    const fh = await open(path, 'w', 0o600);
    try {
      await fh.writeFile(frame.payload);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await this.syncDir();
    return path;
  }

  /** Keep damaged bytes in `<segment>.<offset>.corrupt`, and skip them from now on. */
  private async moveAside(seg: Segment, start: number, bytes: Buffer): Promise<void> {
    const offset = start - seg.base;
    const path = join(this.opts.dir, `${seg.name}.${offset}.corrupt`);
    const fh = await open(path, 'w', 0o600);
    try {
      await fh.writeFile(bytes);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    // Kept before the checkpoint passes the damage and the segment holding it is deleted.
    await this.syncDir();
    this.skips.set(start, start + bytes.length);
    this.metrics.journalCorruptBytes.inc(bytes.length);
    this.opts.logger.error(
      { segment: seg.name, offset, bytes: bytes.length, moved_to: path },
      'The journal is damaged in the middle: the damaged bytes are moved aside and the frames after them are loaded.',
    );
  }

  /**
   * Append one frame carrying `events` events; resolves once it is fsynced.
   * Throws `AISOC_ERR_SHUTTING_DOWN` once closing, `AISOC_ERR_STORE` after
   * a failed write or fsync (the journal then takes nothing more until a
   * restart, which checks what is on disk).
   */
  append(payload: Buffer, events: number): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new AisocError('AISOC_ERR_SHUTTING_DOWN', 'The server is shutting down; retry later.', {
          retryAfterSeconds: 5,
        }),
      );
    }
    if (this.failed !== undefined) return Promise.reject(this.unavailable());
    const frame = encodeFrame(payload, events);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ frame, events, resolve, reject });
      this.queuedBytes += frame.length;
      this.flushing ??= this.flush();
    });
  }

  private unavailable(): AisocError {
    return new AisocError(
      'AISOC_ERR_STORE',
      `The ingest journal could not be written (${describeError(this.failed)}); nothing more is taken until a restart.`,
      { retryAfterSeconds: 30 },
    );
  }

  /** Write what is queued, one group per fdatasync, until nothing is. */
  private async flush(): Promise<void> {
    try {
      // Appends made in the same turn as the first join its group.
      await Promise.resolve();
      while (this.queue.length > 0) {
        const group = this.queue.splice(0);
        const bytes = group.reduce((n, a) => n + a.frame.length, 0);
        try {
          if (this.failed !== undefined) throw this.unavailable();
          await this.write(
            group.map((a) => a.frame),
            bytes,
          );
        } catch (err) {
          if (this.failed === undefined) {
            this.failed = err;
            this.opts.logger.error(
              { err: describeError(err) },
              'The ingest journal could not be written; ingestion is refused until a restart.',
            );
          }
          this.queuedBytes -= bytes;
          for (const a of group) a.reject(err instanceof AisocError ? err : this.unavailable());
          continue;
        }
        this.queuedBytes -= bytes;
        this.durableEnd += bytes;
        this.pendingFrames += group.length;
        for (const a of group) this.pendingEvents += a.events;
        this.metrics.journalFsyncs.inc();
        this.metrics.journalGroupFrames.observe(group.length);
        this.metrics.journalFramesAppended.inc(group.length);
        this.updateGauges();
        for (const a of group) a.resolve();
        this.onDurable?.();
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async write(frames: Buffer[], bytes: number): Promise<void> {
    let active = this.segments[this.segments.length - 1];
    if (!active || !this.fd || active.size >= this.opts.segmentBytes) {
      await this.roll();
      active = this.segments[this.segments.length - 1]!;
    }
    const fd = this.fd!;
    try {
      const { bytesWritten } = await fd.writev(frames);
      if (bytesWritten !== bytes) throw new Error(`short write: ${bytesWritten} of ${bytes} bytes`);
      await fd.datasync();
    } catch (err) {
      // Take back what part of the group reached the file, so the next start finds no half frame here.
      await fd.truncate(active.size).catch(() => undefined);
      throw err;
    }
    active.size += bytes;
  }

  /** Close the active segment and start a new one where it ended; fsync the directory so the file is there after a crash. */
  private async roll(): Promise<void> {
    await this.fd?.close();
    this.fd = undefined;
    const base = this.durableEnd;
    const name = segmentName(base);
    const path = join(this.opts.dir, name);
    this.fd = await open(path, 'a', 0o600);
    this.segments.push({ base, name, path, size: 0 });
    await this.syncDir();
    this.updateGauges();
  }

  /** fsync the directory, so a file created in it is there after a crash. */
  private async syncDir(): Promise<void> {
    // Windows cannot open a directory to sync it (and NTFS journals its metadata).
    if (process.platform === 'win32') return;
    const dir = await open(this.opts.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /**
   * Read whole frames from journal position `from`, up to `maxBytes` (at
   * least one frame, however large) and never past {@link durableEnd} or
   * the end of a segment. Damage met before any frame is moved aside and
   * skipped: the result then has no frame and `next` past the damage.
   */
  async read(from: number, maxBytes: number): Promise<{ frames: JournalFrame[]; next: number }> {
    let pos = from;
    for (;;) {
      if (pos >= this.durableEnd) return { frames: [], next: pos };
      const skip = this.skips.get(pos);
      if (skip !== undefined) {
        pos = skip;
        continue;
      }
      const seg = this.segments.find((s) => s.base <= pos && pos < s.base + s.size);
      if (!seg) {
        // A gap between segments (one was lost): go on at the next one.
        const after = this.segments.find((s) => s.base > pos);
        pos = after ? after.base : this.durableEnd;
        continue;
      }
      const limit = Math.min(seg.base + seg.size, this.durableEnd);
      const buf = await this.readRange(
        seg,
        pos,
        Math.min(limit, pos + Math.max(maxBytes, FRAME_HEADER_BYTES)),
      );
      const frames: JournalFrame[] = [];
      let at = 0;
      for (;;) {
        const f = frameAt(buf, at);
        if (f.kind === 'frame') {
          frames.push({ start: pos + at, end: pos + f.end, events: f.events, payload: f.payload });
          at = f.end;
          if (at >= buf.length) break;
          continue;
        }
        if (frames.length > 0) return { frames, next: pos + at };
        if (f.kind === 'short' && f.need !== undefined && pos + f.need <= limit && f.need > buf.length) {
          // One frame larger than maxBytes: read it whole.
          const whole = await this.readRange(seg, pos, pos + f.need);
          const g = frameAt(whole, 0);
          if (g.kind === 'frame')
            return {
              frames: [{ start: pos, end: pos + g.end, events: g.events, payload: g.payload }],
              next: pos + g.end,
            };
        }
        // Damage inside what was fsynced: move it aside up to the next valid frame (or the end).
        const rest = await this.readRange(seg, pos, limit);
        const next = nextFrame(rest, 1);
        const end = next < 0 ? rest.length : next;
        await this.moveAside(seg, pos, rest.subarray(0, end));
        return { frames: [], next: pos + end };
      }
      return { frames, next: pos + at };
    }
  }

  private async readRange(seg: Segment, from: number, to: number): Promise<Buffer> {
    const fh = await open(seg.path, 'r');
    try {
      const buf = Buffer.alloc(to - from);
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, from - seg.base + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    } finally {
      await fh.close();
    }
  }

  /**
   * The store holds everything before `upTo` (`frames` frames, `events`
   * events more than before): delete the segments wholly before it, except
   * the one appends go to.
   */
  async loaded(upTo: number, frames: number, events: number): Promise<void> {
    this.loadedTo = Math.max(this.loadedTo, upTo);
    this.pendingFrames = Math.max(0, this.pendingFrames - frames);
    this.pendingEvents = Math.max(0, this.pendingEvents - events);
    if (this.loadedTo >= this.durableEnd) {
      // Damage moved aside may have held frames counted at start: nothing is pending once all is loaded.
      this.pendingFrames = 0;
      this.pendingEvents = 0;
    }
    for (const [start, end] of this.skips) if (end <= this.loadedTo) this.skips.delete(start);
    while (this.segments.length > 1) {
      const first = this.segments[0]!;
      if (first.base + first.size > this.loadedTo) break;
      this.segments.shift();
      await rm(first.path, { force: true }).catch((err: unknown) => {
        this.opts.logger.warn(
          { segment: first.name, err: describeError(err) },
          'A loaded journal segment could not be deleted.',
        );
      });
    }
    this.updateGauges();
  }

  /** Wait for queued appends to be fsynced (or fail). */
  async flushed(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** Refuse further appends, wait for those queued, and close the active segment. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushed();
    await this.fd?.close();
    this.fd = undefined;
  }

  private updateGauges(): void {
    this.metrics.journalPendingBytes.set(this.pendingBytes);
    this.metrics.journalPendingFrames.set(this.pendingFrames);
    this.metrics.journalSegments.set(this.segments.length);
  }
}
