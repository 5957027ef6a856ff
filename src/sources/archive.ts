import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { gunzipSync, inflateRawSync, constants as zlibConstants } from 'node:zlib';
import { unzipSync } from 'fflate';
import { AisocError } from '../errors.ts';
import { bodyText } from './framing.ts';
import { isTar, tarEntries, untar } from './tar.ts';

/**
 * Reading input files into documents: plain files, `.gz`, `.zip` and
 * `.tar(.gz)` archives, whole or only their start (for detection).
 */

/** One document to ingest: a file, or one entry of a `.zip` or `.tar(.gz)`. */
export interface InputDoc {
  /** `path/to/file.json`, or `archive.zip!entry.json` for archive entries. */
  name: string;
  text: string;
  /** Set when only the start of the document was read (see {@link ReadOptions.sampleBytes}). */
  truncated?: boolean;
}

/** Largest single input accepted after decompression (files are read whole). */
export const MAX_INPUT_BYTES = 1024 * 1024 * 1024;

const HIDDEN_ENTRY = /(^|\/)(__MACOSX|\.|PaxHeader)/;

export interface ReadOptions {
  /**
   * Read about this many bytes of each document instead of all of it, cut
   * back to the last complete line (documents cut short carry `truncated`).
   * For detection on big files: gzip, zip and tar entries are inflated only
   * as far as needed.
   */
  sampleBytes?: number;
}

/**
 * Read a file into documents: `.gz` is inflated, `.zip` and `.tar` (also
 * `.tar.gz`, `.tgz`) yield one document per file entry. With `sampleBytes`,
 * only the start of each document is read.
 *
 * @example readInputDocs('datasets/lsass.zip') // [{ name: 'datasets/lsass.zip!lsass.json', text: '{…}\n{…}' }]
 * readInputDocs('big.json.gz', { sampleBytes: 1 << 20 }) // [{ name: 'big.json.gz', text: '…', truncated: true }]
 */
export function readInputDocs(path: string, options: ReadOptions = {}): InputDoc[] {
  if (options.sampleBytes !== undefined) return sampleInputDocs(path, options.sampleBytes);
  const buf = readFileSync(path);
  if (isZip(path, buf)) {
    let total = 0;
    const entries = unzipSync(new Uint8Array(buf), {
      filter: (f) => {
        if (f.name.endsWith('/') || /(^|\/)(__MACOSX|\.)/.test(f.name)) return false;
        total += f.originalSize;
        if (total > MAX_INPUT_BYTES) {
          throw new AisocError(
            'AISOC_ERR_BODY_TOO_LARGE',
            `${basename(path)} inflates beyond ${MAX_INPUT_BYTES} bytes`,
            { field: path },
          );
        }
        return true;
      },
    });
    return Object.entries(entries)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, data]) => ({
        name: `${path}!${name}`,
        text: bodyText(maybeGunzip(Buffer.from(data), name)),
      }));
  }
  const body = maybeGunzip(buf, path);
  if (isTar(body)) {
    return untar(body, path)
      .filter((e) => !HIDDEN_ENTRY.test(e.name))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((e) => ({ name: `${path}!${e.name}`, text: bodyText(maybeGunzip(e.data, e.name)) }));
  }
  return [{ name: path, text: bodyText(body) }];
}

function isZip(path: string, buf: Buffer): boolean {
  return (
    path.toLowerCase().endsWith('.zip') ||
    (buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04)
  );
}

function isGzip(name: string, buf: Buffer): boolean {
  return name.toLowerCase().endsWith('.gz') || (buf[0] === 0x1f && buf[1] === 0x8b);
}

function maybeGunzip(buf: Buffer, name: string): Buffer {
  if (!isGzip(name, buf)) return buf;
  try {
    return gunzipSync(buf, { maxOutputLength: MAX_INPUT_BYTES });
  } catch (err) {
    const whole = completeGzipWithPadding(buf);
    if (whole) return whole;
    throw new AisocError('AISOC_ERR_BAD_ENCODING', `${name} is not valid gzip: ${(err as Error).message}`, {
      field: name,
    });
  }
}

/**
 * A gzip member followed by a few padding bytes (a newline, NULs: some
 * archivers append them) makes zlib expect a second member and fail. Accept
 * it when the member is complete: its trailer's length (ISIZE) matches what
 * was inflated. A gzip cut short stays an error.
 */
function completeGzipWithPadding(buf: Buffer): Buffer | undefined {
  let out: Buffer;
  try {
    out = gunzipSync(buf, { maxOutputLength: MAX_INPUT_BYTES, finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    return undefined;
  }
  for (let pad = 1; pad <= 16 && pad + 4 <= buf.length; pad++) {
    const tail = buf.subarray(buf.length - pad);
    if (!tail.every((b) => b === 0 || b === 0x0a || b === 0x0d || b === 0x20)) return undefined;
    if (buf.readUInt32LE(buf.length - pad - 4) === out.length % 2 ** 32) return out;
  }
  return undefined;
}

/** Inflate the start of a gzip stream: grow the compressed prefix until `want` bytes come out or the input ends. */
function gunzipPrefix(buf: Buffer, want: number, raw = false): Buffer {
  let take = Math.min(buf.length, Math.max(64 * 1024, want >> 3));
  for (;;) {
    const prefix = buf.subarray(0, take);
    const opts = { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: MAX_INPUT_BYTES };
    const out = raw ? inflateRawSync(prefix, opts) : gunzipSync(prefix, opts);
    if (out.length >= want || take >= buf.length) return out.subarray(0, Math.min(out.length, want));
    take = Math.min(buf.length, take * 4);
  }
}

/** The first `want` bytes of a file, read without loading the rest. */
function readHead(path: string, want: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(want, fstatSync(fd).size));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** A sampled document: its text cut back to the last complete line when it was cut short. */
function sampledDoc(name: string, data: Buffer, cut: boolean): InputDoc {
  if (!cut) return { name, text: bodyText(data) };
  const nl = data.lastIndexOf(0x0a);
  return { name, text: bodyText(nl >= 0 ? data.subarray(0, nl + 1) : data), truncated: true };
}

function sampleInputDocs(path: string, sampleBytes: number): InputDoc[] {
  const size = statSync(path).size;
  const head = readHead(path, 4);
  if (isZip(path, head)) return sampleZip(path, sampleBytes);
  // Compressed input: read enough compressed bytes for the sample (text compresses well, so this is a fraction).
  if (isGzip(path, head)) {
    const compressed = readHead(path, Math.max(sampleBytes, 4 * 1024 * 1024));
    const all = compressed.length >= size;
    let body: Buffer;
    try {
      body = all ? maybeGunzip(compressed, path) : gunzipPrefix(compressed, sampleBytes + 1);
    } catch (err) {
      if (err instanceof AisocError) throw err;
      throw new AisocError('AISOC_ERR_BAD_ENCODING', `${path} is not valid gzip: ${(err as Error).message}`, {
        field: path,
      });
    }
    return sampleBody(path, body, sampleBytes, !all);
  }
  const body = readHead(path, sampleBytes + 1);
  return sampleBody(path, body, sampleBytes, size > body.length);
}

function sampleBody(path: string, body: Buffer, sampleBytes: number, more: boolean): InputDoc[] {
  if (isTar(body)) {
    return tarEntries(body)
      .filter((e) => !HIDDEN_ENTRY.test(e.name))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((e) =>
        sampledDoc(
          `${path}!${e.name}`,
          e.data.subarray(0, sampleBytes),
          e.cut || e.data.length > sampleBytes,
        ),
      );
  }
  return [sampledDoc(path, body.subarray(0, sampleBytes), more || body.length > sampleBytes)];
}

/**
 * The start of each entry of a zip, found through the central directory and
 * inflated only as far as the sample needs. Archives the central directory
 * cannot describe simply (ZIP64) are read whole.
 */
function sampleZip(path: string, sampleBytes: number): InputDoc[] {
  const buf = readFileSync(path);
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) return readInputDocs(path);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || p === 0xffffffff) return readInputDocs(path);
  const out: InputDoc[] = [];
  for (let i = 0; i < count && p + 46 <= buf.length; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) break;
    const method = buf.readUInt16LE(p + 10);
    const compressedSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/') || /(^|\/)(__MACOSX|\.)/.test(name)) continue;
    if (compressedSize === 0xffffffff || size === 0xffffffff) return readInputDocs(path);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + compressedSize);
    let body: Buffer;
    if (method === 0) body = data.subarray(0, sampleBytes + 1);
    else if (method === 8) body = gunzipPrefix(data, sampleBytes + 1, true);
    else return readInputDocs(path);
    if (isGzip(name, body)) body = gunzipPrefix(body, sampleBytes + 1);
    out.push(...sampleBody(`${path}!${name}`, body, sampleBytes, size > body.length));
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
