import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { gunzipSync, inflateRawSync, constants as zlibConstants } from 'node:zlib';
import { unzipSync } from 'fflate';
import { glob } from 'tinyglobby';
import { AisocError } from '../errors.ts';
import { bodyText, type FramedRecord, type Framing, frameBody } from './framing.ts';
import type { SourceRegistry } from './index.ts';

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

/** A POSIX (ustar) tar archive: the magic sits at byte 257 of the first header. */
function isTar(buf: Buffer): boolean {
  return buf.length >= 512 && buf.toString('latin1', 257, 262) === 'ustar';
}

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + length ? start + length : end);
}

/**
 * The regular files of a tar archive. Reads ustar headers with their name
 * prefix, pax extended headers (`path=`, which macOS and GNU tar write for
 * long names) and GNU long names; other entry types (directories, links)
 * are passed over. An entry that runs past the end is an error naming the
 * archive, never a silently short document.
 */
function untar(buf: Buffer, archive: string): Array<{ name: string; data: Buffer }> {
  return tarEntries(buf).map((e) => {
    if (e.cut) {
      throw new AisocError(
        'AISOC_ERR_BAD_ENCODING',
        `${basename(archive)} is a truncated tar archive (entry ${e.name} is cut short)`,
        { field: archive },
      );
    }
    return e;
  });
}

/** The file entries of a tar archive, or of its start: the last may be `cut` short. */
function tarEntries(buf: Buffer): Array<{ name: string; data: Buffer; cut: boolean }> {
  const out: Array<{ name: string; data: Buffer; cut: boolean }> = [];
  let longName: string | undefined;
  let offset = 0;
  while (offset + 512 <= buf.length) {
    const header = buf.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const sizeText = cString(header, 124, 12).trim();
    const size = sizeText === '' ? 0 : Number.parseInt(sizeText, 8);
    if (!Number.isFinite(size) || size < 0) break;
    const start = offset + 512;
    const data = buf.subarray(start, Math.min(buf.length, start + size));
    const cut = start + size > buf.length;
    const type = String.fromCharCode(header[156] ?? 0);
    const ustar = header.toString('latin1', 257, 262) === 'ustar';
    const prefix = ustar ? cString(header, 345, 155) : '';
    const headerName = prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100);
    if (type === 'x') {
      // Pax records: "<length> <key>=<value>\n"; only the path matters here.
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      longName = m?.[1] ?? longName;
    } else if (type === 'L') {
      longName = cString(data, 0, data.length);
    } else if (type !== 'g') {
      // 'g' is a global pax header (defaults for every entry, nothing used here); '0', NUL and '7' are files.
      if (type === '0' || type === '\0' || type === '7')
        out.push({ name: longName ?? headerName, data, cut });
      longName = undefined;
    }
    if (cut) break;
    offset = start + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Records of a document framed for JSON when it parses as JSON/NDJSON, else as lines. */
export function frameDoc(text: string, framing: 'json' | 'lines'): FramedRecord[] {
  return frameBody(text, framing);
}

/**
 * Why a document is not ingested when no source is named:
 * - `empty`: nothing but white space;
 * - `not_telemetry`: content of a known kind that is not a log (a Sigma
 *   rule, Wazuh rules or ruleset tests, a STIX bundle, YAML metadata,
 *   documentation);
 * - `unsupported`: a format no source reads (packet captures and other
 *   binary data, CSV tables, XML);
 * - `unrecognised`: JSON or text lines that no source claims.
 */
export type SkipKind = 'empty' | 'not_telemetry' | 'unsupported' | 'unrecognised';

/** The outcome of {@link detectDoc}: the source that reads a document, or why none does. */
export type Detection =
  | { source: string; score: number }
  | { source?: undefined; kind: SkipKind; reason: string };

/** Records sniffed per framing: enough to outvote a stray line, few enough to stay fast on big files. */
const SAMPLE_RECORDS = 20;
/** Lines of the first sample: NDJSON and line formats are judged on their start. */
const SAMPLE_LINES = 50;
/** How far the structural checks and the sample cuts look. */
const HEAD_CHARS = 64 * 1024;
const CUT_SCAN_CHARS = 4 * 1024 * 1024;
/** Share of sampled records the winning source must claim, so one stray line decides nothing. */
const MIN_CLAIMED_SHARE = 0.25;

/**
 * Which source a document comes from, by content, or why no source reads
 * it. Known non-telemetry (Sigma rules, Wazuh rules and ruleset tests, STIX
 * bundles, binary data) is recognised first, by structure. Then each
 * distinct framing of the registry's sources (`json`, `lines`, and every
 * source's own framer function) cuts a sample of the document — the first
 * 50 lines, else the first top-level values of a pretty-printed sequence,
 * else the whole text — and the records it yields are offered to every
 * source's `sniff`. A record counts for the source that scores it best, and
 * only when that source frames documents that way, so a source claims a
 * document only by the records it would really receive. The best mean
 * score wins, provided its source claims at least a quarter of the sample.
 *
 * @example
 * detectDoc({ name: 'eve.json', text: eveNdjson }, registry) // { source: 'suricata', score: 0.95 }
 * detectDoc({ name: 'rule.yml', text: sigmaRule }, registry) // { kind: 'not_telemetry', reason: 'a Sigma rule …' }
 */
export function detectDoc(doc: InputDoc, registry: SourceRegistry, sample = SAMPLE_RECORDS): Detection {
  const text = doc.text;
  if (text.trim() === '') return { kind: 'empty', reason: 'the document is empty' };
  const known = knownStructure(doc);
  if (known) return known;

  const samples = sampler(text);
  const framingOf = new Map<string, Framing>();
  const framings: Framing[] = [];
  for (const type of registry.types()) {
    const f = registry.get(type).framing;
    framingOf.set(type, f);
    if (!framings.includes(f)) framings.push(f);
  }
  let jsonRecords: FramedRecord[] | undefined;
  let winner: { source: string; score: number } | undefined;
  for (const framing of framings) {
    const records = frameSample(samples, framing)?.slice(0, sample);
    if (!records || records.length === 0) continue;
    if (framing === 'json') jsonRecords = records;
    const totals = new Map<string, { score: number; claimed: number }>();
    for (const r of records) {
      const best = registry.sniff(r.value);
      if (!best || framingOf.get(best.type) !== framing) continue;
      const t = totals.get(best.type) ?? { score: 0, claimed: 0 };
      t.score += best.score;
      t.claimed++;
      totals.set(best.type, t);
    }
    for (const [type, t] of totals) {
      const mean = t.score / records.length;
      if (t.claimed / records.length < MIN_CLAIMED_SHARE) continue;
      if (!winner || mean > winner.score) winner = { source: type, score: mean };
    }
  }
  if (winner) return winner;
  return unclaimed(doc, jsonRecords);
}

/**
 * Which source a document comes from, by content; undefined when none
 * claims it (see {@link detectDoc} for the reason).
 *
 * @example detectSource({ name: 'eve.json', text: eveNdjson }, registry) // 'suricata'
 */
export function detectSource(
  doc: InputDoc,
  registry: SourceRegistry,
  sample = SAMPLE_RECORDS,
): string | undefined {
  return detectDoc(doc, registry, sample).source;
}

interface Samples {
  /** The first lines, the first top-level values of a pretty-printed sequence, the whole text; each once. */
  list: string[];
}

function sampler(text: string): Samples {
  const list: string[] = [];
  const head = firstLines(text, SAMPLE_LINES);
  list.push(head);
  const cut = topLevelCut(text, 5);
  if (cut !== undefined && cut !== head) list.push(cut);
  if (head !== text && cut !== text) list.push(text);
  return { list };
}

/** The records of the first sample the framing reads without error. */
function frameSample(samples: Samples, framing: Framing): FramedRecord[] | undefined {
  for (const s of samples.list) {
    try {
      const records = frameBody(s, framing);
      if (records.length > 0) return records;
    } catch {
      // A sample cut mid-value, or not this framing's format: try the next, larger one.
    }
  }
  return undefined;
}

function firstLines(text: string, n: number): string {
  let idx = 0;
  for (let i = 0; i < n; i++) {
    const next = text.indexOf('\n', idx);
    if (next < 0) return text;
    idx = next + 1;
  }
  return text.slice(0, idx);
}

/**
 * The text up to the end of the n-th line holding only a closing brace or
 * bracket at column 0: pretty-printers indent nested values, so such a line
 * ends a top-level value. Undefined when none is found near the start.
 */
function topLevelCut(text: string, n: number): string | undefined {
  const re = /^[}\]][ \t\r]*$/gm;
  const scan = text.length > CUT_SCAN_CHARS ? text.slice(0, CUT_SCAN_CHARS) : text;
  let end: number | undefined;
  for (let i = 0; i < n; i++) {
    const m = re.exec(scan);
    if (!m) break;
    end = m.index + m[0].length;
  }
  return end === undefined ? undefined : text.slice(0, end);
}

type Skip = { kind: SkipKind; reason: string };

/** Content of a known kind that is never telemetry, or binary data, recognised by structure. */
function knownStructure(doc: InputDoc): Skip | undefined {
  const head = doc.text.slice(0, HEAD_CHARS);
  const name = doc.name.toLowerCase();
  if (
    head.startsWith('\n\r\r\n') ||
    /\.(pcap|pcapng|cap)$/.test(name) ||
    head.startsWith('\uFFFD\uFFFD\u00F2\uFFFD')
  ) {
    if (head.includes('\u0000'))
      return {
        kind: 'unsupported',
        reason: 'a packet capture (pcap): run it through Zeek or Suricata and ingest their logs',
      };
  }
  if (head.includes('\u0000')) return { kind: 'unsupported', reason: 'binary data, not a text log' };
  if (/^title:[ \t]*\S/m.test(head) && /^logsource:/m.test(head) && /^detection:/m.test(head))
    return {
      kind: 'not_telemetry',
      reason: 'a Sigma rule (YAML): detection content, not telemetry (aisoc rules lint checks rules)',
    };
  if (/^\s*\{/.test(head) && /"type"\s*:\s*"bundle"/.test(head) && /"objects"\s*:\s*\[/.test(head))
    return {
      kind: 'not_telemetry',
      reason:
        'a STIX bundle (threat intelligence such as MITRE ATT&CK), not telemetry (aisoc kb load --attack <file> loads ATT&CK)',
    };
  // XML starts with a declaration, a comment or a tag; a syslog <PRI> is digits, which no tag name starts with.
  if (/^\s*(<\?xml|<!--|<[A-Za-z_])/.test(head)) {
    if (/<group\s+name=/.test(head) && /<rule\s+id=/.test(head))
      return { kind: 'not_telemetry', reason: 'Wazuh rules (XML): detection content, not telemetry' };
    if (/<decoder\s+name=/.test(head))
      return { kind: 'not_telemetry', reason: 'Wazuh decoders (XML): parser configuration, not telemetry' };
    return { kind: 'unsupported', reason: 'an XML document; no source reads XML' };
  }
  // Cases commented out with `;` are still test cases (some files hold nothing else).
  if (/^;?[ \t]*\[[^\]\n]+\][ \t\r]*$/m.test(head) && /^;?[ \t]*log \d+ (pass|fail) =/m.test(head))
    return {
      kind: 'not_telemetry',
      reason: 'Wazuh ruleset test cases (INI): sample log lines with the rules they must fire, not a log',
    };
  return undefined;
}

/** Why no source claims a document: its format when it has a recognisable one, else what it starts with. */
function unclaimed(doc: InputDoc, jsonRecords: FramedRecord[] | undefined): Skip {
  const base = basename(doc.name.slice(doc.name.lastIndexOf('!') + 1)).toLowerCase();
  if (
    /^(readme|licen[cs]e|copying|notice|changelog|authors)([.-].*)?$/.test(base) ||
    /\.(md|markdown|rst)$/.test(base)
  )
    return { kind: 'not_telemetry', reason: 'documentation (README, licence or Markdown), not telemetry' };
  if (jsonRecords && jsonRecords.length > 0) {
    const first = jsonRecords[0]!.value;
    const shape =
      typeof first === 'object' && first !== null && !Array.isArray(first)
        ? `first record's keys: ${Object.keys(first).slice(0, 6).join(', ') || 'none'}`
        : `first record: a ${Array.isArray(first) ? 'array' : typeof first}`;
    return {
      kind: 'unrecognised',
      reason: `JSON that no source recognises (${shape}); pass --source to choose one`,
    };
  }
  const lines = significantLines(doc.text, 10);
  const csv = csvHeader(lines);
  if (csv)
    return {
      kind: 'unsupported',
      reason: `a CSV table (${csv.length} columns: ${csv.slice(0, 5).join(', ')}${csv.length > 5 ? ', …' : ''}); no source reads CSV`,
    };
  if (looksLikeYaml(lines))
    return { kind: 'not_telemetry', reason: 'a YAML document (metadata or configuration), not telemetry' };
  const firstLine = (lines[0] ?? '').slice(0, 80);
  return {
    kind: 'unrecognised',
    reason: `text that no source recognises (first line: ${JSON.stringify(firstLine)}); pass --source to choose one`,
  };
}

/** The first non-blank lines that are not `#` comments. */
function significantLines(text: string, n: number): string[] {
  const out: string[] = [];
  let idx = 0;
  while (out.length < n && idx < text.length && idx < HEAD_CHARS) {
    let next = text.indexOf('\n', idx);
    if (next < 0) next = text.length;
    const line = text.slice(idx, next).replace(/\r$/, '');
    if (line.trim() !== '' && !line.startsWith('#')) out.push(line);
    idx = next + 1;
  }
  return out;
}

/** Split a CSV line on commas outside double quotes (RFC 4180 quoting). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * The header of a CSV table: a first line of at least three named columns,
 * and following lines with as many fields. Undefined otherwise.
 */
function csvHeader(lines: string[]): string[] | undefined {
  if (lines.length < 2) return undefined;
  const header = csvFields(lines[0]!).map((h) => h.trim());
  if (header.length < 3 || header.some((h) => h === '' || /^-?\d+(\.\d+)?$/.test(h))) return undefined;
  const rows = lines.slice(1, 5);
  return rows.every((l) => csvFields(l).length === header.length) ? header : undefined;
}

/** YAML mappings and sequences: `key: value`, `key:`, `- item`, `---`, and indented continuations. */
function looksLikeYaml(lines: string[]): boolean {
  if (lines.length === 0 || !/^(---\s*$|[A-Za-z_][\w.-]*:(\s|$))/.test(lines[0]!)) return false;
  const yamlish = lines.filter((l) =>
    /^(---|\.\.\.)\s*$|^\s*- |^\s*[A-Za-z_"'][\w .'"-]*:(\s|$)|^\s+\S/.test(l),
  );
  return yamlish.length / lines.length >= 0.8;
}
