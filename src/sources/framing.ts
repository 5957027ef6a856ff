import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import { AisocError } from '../errors.ts';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);
const brotliAsync = promisify(brotliDecompress);

/** Deepest nesting accepted in a record; deeper values are refused before they reach recursive code. */
export const MAX_DEPTH = 64;

/**
 * Decompress a body by its Content-Encoding (or gzip magic bytes), refusing
 * to inflate beyond `limit` bytes: a gzip bomb gets a 413, not the heap.
 */
export async function decodeBody(body: Buffer, encoding: string | undefined, limit: number): Promise<Buffer> {
  const enc = (encoding ?? '').trim().toLowerCase();
  const gz =
    enc === 'gzip' ||
    enc === 'x-gzip' ||
    (enc === '' && body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b);
  try {
    let out: Buffer;
    if (gz) out = await gunzipAsync(body, { maxOutputLength: limit });
    else if (enc === 'deflate') out = await inflateAsync(body, { maxOutputLength: limit });
    else if (enc === 'br') out = await brotliAsync(body, { maxOutputLength: limit });
    else if (enc === '' || enc === 'identity') out = body;
    else
      throw new AisocError(
        'AISOC_ERR_BAD_ENCODING',
        `Content-Encoding ${enc} is not supported (use gzip, deflate or br)`,
        { field: 'content-encoding' },
      );
    if (out.length > limit) throw tooLarge(limit);
    return out;
  } catch (err) {
    if (err instanceof AisocError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw tooLarge(limit);
    throw new AisocError('AISOC_ERR_BAD_ENCODING', `The ${gz ? 'gzip' : enc} body is corrupt: ${e.message}`, {
      field: 'body',
    });
  }
}

function tooLarge(limit: number): AisocError {
  return new AisocError('AISOC_ERR_BODY_TOO_LARGE', `The body inflates beyond the limit of ${limit} bytes`, {
    field: 'body',
    details: { limit_bytes: limit },
  });
}

/** Text of a body: UTF-8 with an optional byte-order mark removed; invalid sequences become U+FFFD. */
export function bodyText(buf: Buffer): string {
  const start = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  return buf.toString('utf8', start);
}

/**
 * Whether a JSON value nests deeper than `limit`. Recursion stops at
 * `limit + 1` levels, so even a value nested a million deep costs a few
 * dozen frames.
 */
export function depthExceeds(value: unknown, limit = MAX_DEPTH): boolean {
  return deeper(value, limit);
}

function deeper(v: unknown, left: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (left === 0) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'object' && x !== null && deeper(x, left - 1)) return true;
    }
    return false;
  }
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'object' && x !== null && deeper(x, left - 1)) return true;
  }
  return false;
}

export interface FramedRecord {
  /** The parsed JSON value (json framing) or the text line (lines framing). */
  value: unknown;
  /** 1-based line of the record in the body (NDJSON and lines), for error messages. */
  line?: number;
  /**
   * Length of the JSON text `value` was parsed from, alone, when that text
   * holds at most {@link MAX_DEPTH} opening brackets (so the value cannot
   * nest deeper). No string or key in the value is longer, and its size as
   * `scanRecord` counts it is no larger: `normaliseRecords` then knows a
   * short record is within the limits without walking it (see `textWithin`).
   * Set by the JSON framing for an NDJSON line or a body of one object.
   */
  textLength?: number;
}

/**
 * `text.length` when `text` holds at most {@link MAX_DEPTH} `{` and `[` in
 * all (brackets inside strings count too: a bound, not a parse), else
 * undefined. Each search is one native scan of the line.
 */
function shallowLength(text: string): number | undefined {
  let n = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1))
    if (++n > MAX_DEPTH) return undefined;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1))
    if (++n > MAX_DEPTH) return undefined;
  return text.length;
}

/**
 * How a body is cut into records: `json`, `lines`, or a source's own framer
 * for formats whose records depend on earlier lines of the same document
 * (Zeek TSV: `#fields`/`#types` headers give the data lines their meaning).
 * A framer must not throw for one bad record: it emits the record and lets
 * the source's `normalise` reject it, so the rest of the body goes on.
 */
export type Framing = 'json' | 'lines' | ((text: string) => FramedRecord[]);

/**
 * Cut a body into records. JSON framing accepts one JSON value (object or
 * array) or NDJSON; a malformed body is refused whole, naming the line, so
 * nothing is stored half-way. A framer function is called with the text.
 */
export function frameBody(text: string, framing: Framing): FramedRecord[] {
  if (typeof framing === 'function') return framing(text);
  if (framing === 'lines') {
    const out: FramedRecord[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
      if (line.trim() !== '') out.push({ value: line, line: i + 1 });
    }
    return out;
  }
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    const value: unknown = JSON.parse(trimmed);
    if (Array.isArray(value)) return value.map((v) => ({ value: v }));
    return [{ value, textLength: shallowLength(trimmed) }];
  } catch (wholeError) {
    if (!trimmed.includes('\n')) {
      throw new AisocError(
        'AISOC_ERR_BAD_JSON',
        `The body is not valid JSON: ${(wholeError as Error).message}`,
        {
          field: 'body',
        },
      );
    }
  }
  const out: FramedRecord[] = [];
  const lines = trimmed.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      out.push({ value: JSON.parse(line), line: i + 1, textLength: shallowLength(line) });
    } catch (err) {
      throw new AisocError(
        'AISOC_ERR_BAD_JSON',
        `Line ${i + 1} of the body is not valid JSON: ${(err as Error).message}`,
        {
          field: `body[line ${i + 1}]`,
          details: { line: i + 1 },
        },
      );
    }
  }
  return out;
}
