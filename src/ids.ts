import * as nodeCrypto from 'node:crypto';
import { createHash, randomFillSync } from 'node:crypto';

function formatUuid(bytes: Uint8Array): string {
  const h = Buffer.from(bytes).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Char codes of the hex digits, by value. */
const HEX_CODES = new Uint8Array(16);
for (let i = 0; i < 16; i++) HEX_CODES[i] = '0123456789abcdef'.charCodeAt(i);

/** Random bytes for {@link uuidv7}, drawn from the system's CSPRNG a few kilobytes at a time. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;
/** Bytes of the pool one id takes (74 random bits, in whole bytes). */
const ID_BYTES = 10;

/**
 * A time-ordered UUID (version 7): ids sort by creation time, which keeps
 * B-tree inserts local.
 *
 * @example uuidv7() // '0190b6c4-5f1e-7c3a-9d2b-…'
 */
export function uuidv7(now: number = Date.now()): string {
  // Events without a source id get one each: the random bits come from a pool filled by
  // randomFillSync (one system call per 400 ids), and the text is made in one String.fromCharCode,
  // with no intermediate strings. The layout: 48 bits of milliseconds, version 7, 12 random bits,
  // variant 10, 62 random bits.
  if (poolAt + ID_BYTES > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const t = Math.max(0, Math.min(Math.trunc(now) || 0, 0xffffffffffff));
  const hi = Math.floor(t / 0x1000000);
  const lo = t % 0x1000000;
  const p = pool;
  const i = poolAt;
  poolAt += ID_BYTES;
  const h = HEX_CODES;
  return String.fromCharCode(
    h[(hi >>> 20) & 15]!,
    h[(hi >>> 16) & 15]!,
    h[(hi >>> 12) & 15]!,
    h[(hi >>> 8) & 15]!,
    h[(hi >>> 4) & 15]!,
    h[hi & 15]!,
    h[(lo >>> 20) & 15]!,
    h[(lo >>> 16) & 15]!,
    45,
    h[(lo >>> 12) & 15]!,
    h[(lo >>> 8) & 15]!,
    h[(lo >>> 4) & 15]!,
    h[lo & 15]!,
    45,
    55,
    h[p[i]! >>> 4]!,
    h[p[i]! & 15]!,
    h[p[i + 1]! >>> 4]!,
    45,
    h[8 | (p[i + 1]! & 3)]!,
    h[p[i + 2]! >>> 4]!,
    h[p[i + 2]! & 15]!,
    h[p[i + 3]! >>> 4]!,
    45,
    h[p[i + 3]! & 15]!,
    h[p[i + 4]! >>> 4]!,
    h[p[i + 4]! & 15]!,
    h[p[i + 5]! >>> 4]!,
    h[p[i + 5]! & 15]!,
    h[p[i + 6]! >>> 4]!,
    h[p[i + 6]! & 15]!,
    h[p[i + 7]! >>> 4]!,
    h[p[i + 7]! & 15]!,
    h[p[i + 8]! >>> 4]!,
    h[p[i + 8]! & 15]!,
    h[p[i + 9]! >>> 4]!,
  );
}

/**
 * A name-based UUID (version 8, SHA-256): the same inputs always give the same
 * id, so re-ingesting an event with a source id does not duplicate it.
 *
 * @example stableUuid('cloudtrail', '083dc4ad-…')
 */
export function stableUuid(...parts: string[]): string {
  return stableUuidOf(parts.join('\u0000'));
}

/**
 * One-shot SHA-256 to hex (`crypto.hash`, Node ≥ 20.12): several times
 * cheaper than `createHash(…).update(…).digest()` for the short inputs of
 * ids, which ingestion hashes once per event. Undefined on older Node 20.
 */
const hashHex = (nodeCrypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

/** The variant digit's char code (`10xx`, so `(n & 3) | 8`) by the char code of the digest's hex digit at that place. */
const VARIANT_CODES = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const n = Number.parseInt(String.fromCharCode(c), 16);
  if (!Number.isNaN(n)) VARIANT_CODES[c] = '89ab'.charCodeAt(n & 3);
}

/**
 * {@link stableUuid} of a name already joined with NUL separators: the same
 * id, built from the hex digest (version digit 8, variant bits 10). The text
 * is made by one String.fromCharCode: one flat string, where slices joined by
 * a template made a rope of several strings per event, each kept as long as
 * the event is.
 */
export function stableUuidOf(name: string): string {
  if (hashHex === undefined) {
    const digest = createHash('sha256').update(name).digest();
    const b = new Uint8Array(digest.subarray(0, 16));
    b[6] = (b[6]! & 0x0f) | 0x80;
    b[8] = (b[8]! & 0x3f) | 0x80;
    return formatUuid(b);
  }
  const h = hashHex('sha256', name, 'hex');
  return String.fromCharCode(
    h.charCodeAt(0),
    h.charCodeAt(1),
    h.charCodeAt(2),
    h.charCodeAt(3),
    h.charCodeAt(4),
    h.charCodeAt(5),
    h.charCodeAt(6),
    h.charCodeAt(7),
    45,
    h.charCodeAt(8),
    h.charCodeAt(9),
    h.charCodeAt(10),
    h.charCodeAt(11),
    45,
    56,
    h.charCodeAt(13),
    h.charCodeAt(14),
    h.charCodeAt(15),
    45,
    VARIANT_CODES[h.charCodeAt(16)]!,
    h.charCodeAt(17),
    h.charCodeAt(18),
    h.charCodeAt(19),
    45,
    h.charCodeAt(20),
    h.charCodeAt(21),
    h.charCodeAt(22),
    h.charCodeAt(23),
    h.charCodeAt(24),
    h.charCodeAt(25),
    h.charCodeAt(26),
    h.charCodeAt(27),
    h.charCodeAt(28),
    h.charCodeAt(29),
    h.charCodeAt(30),
    h.charCodeAt(31),
  );
}

/** Short hex hash for fingerprints. */
export function fingerprint(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/**
 * A value as canonical JSON text: object keys sorted, `undefined` members
 * left out, non-finite numbers as null, so two values that differ only in
 * key order read alike. Records reaching it are depth-limited by the
 * framing (`MAX_DEPTH`), so the recursion is bounded. One string is built
 * and hashed once: feeding a hash piece by piece cost three times as much.
 * This is the definition; {@link canonicalText} makes the same text faster.
 */
export function canonicalTextByParts(v: unknown): string {
  if (v === null || v === undefined || typeof v === 'function') return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + canonicalTextByParts(v[i]);
    return `${out}]`;
  }
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort();
    // Most event data is flat (strings and numbers): the keys in order into a new object, and one
    // native JSON.stringify, cost half of writing each value by hand.
    let flat = true;
    for (const k of keys) {
      const x = o[k];
      if (x !== null && typeof x === 'object') {
        flat = false;
        break;
      }
    }
    if (flat) {
      const sorted: Record<string, unknown> = {};
      for (const k of keys) sorted[k] = typeof o[k] === 'function' ? null : o[k];
      return JSON.stringify(sorted);
    }
    let out = '{';
    let first = true;
    for (const k of keys) {
      if (o[k] === undefined) continue;
      out += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalTextByParts(o[k])}`;
      first = false;
    }
    return `${out}}`;
  }
  return JSON.stringify(String(v));
}

/** What {@link sortedCopy} returns for a value it cannot render as {@link canonicalTextByParts} does. */
const BY_PARTS: unique symbol = Symbol('by parts');

/** A member or element for {@link sortedCopy}: what JSON.stringify renders as canonicalTextByParts renders it. */
function copyMember(x: unknown): unknown {
  if (x === null) return null;
  if (typeof x === 'object') return sortedCopy(x);
  if (x === undefined || typeof x === 'function') return null;
  if (typeof x === 'symbol' || typeof x === 'bigint') return String(x);
  return x;
}

/**
 * A copy of `v` whose one JSON.stringify is {@link canonicalTextByParts}
 * of `v`: objects rebuilt with their keys inserted in sorted order (flat
 * ones exactly as canonicalTextByParts builds them), arrays element by
 * element. JSON.stringify writes integer-like keys first and an own
 * `__proto__` key cannot be set by assignment: a nested object with either
 * gives {@link BY_PARTS}, and the text is then made by parts.
 */
function sortedCopy(v: object): unknown {
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const c = copyMember(v[i]);
      if (c === BY_PARTS) return BY_PARTS;
      out[i] = c;
    }
    return out;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  let flat = true;
  for (let i = 0; i < keys.length; i++) {
    const x = o[keys[i]!];
    if (x !== null && typeof x === 'object') {
      flat = false;
      break;
    }
  }
  const sorted: Record<string, unknown> = {};
  if (flat) {
    for (const k of keys) sorted[k] = typeof o[k] === 'function' ? null : o[k];
    return sorted;
  }
  for (const k of keys) {
    const c0 = k.charCodeAt(0);
    if ((c0 >= 48 && c0 <= 57) || k === '__proto__') return BY_PARTS;
    const x = o[k];
    if (x === undefined) continue;
    const c = copyMember(x);
    if (c === BY_PARTS) return BY_PARTS;
    sorted[k] = c;
  }
  return sorted;
}

/**
 * {@link canonicalTextByParts}, the same text: for an object or array, a
 * sorted copy and one native JSON.stringify of it, rather than a
 * JSON.stringify per key and value and a string joined from their pieces:
 * fewer calls and fewer short-lived strings per content id (a Windows
 * event without a record number has one).
 */
export function canonicalText(v: unknown): string {
  if (v === null || typeof v !== 'object') return canonicalTextByParts(v);
  const copy = sortedCopy(v);
  return copy === BY_PARTS ? canonicalTextByParts(v) : JSON.stringify(copy);
}

/**
 * A content id for a record that carries no id of its own: `sha256:` and the
 * first 32 hex digits (128 bits) of the SHA-256 of its canonical JSON. The
 * same content always gives the same id, whatever the key order, so a
 * re-ingested event is recognised and a detection can be traced back to it.
 *
 * @example contentId({ EventID: 4104, data: { ScriptBlockId: 'a1' } }) // 'sha256:3f9c…' (39 characters)
 */
export function contentId(value: unknown): string {
  const text = canonicalText(value);
  const hex = hashHex ? hashHex('sha256', text, 'hex') : createHash('sha256').update(text).digest('hex');
  return `sha256:${hex.slice(0, 32)}`;
}
