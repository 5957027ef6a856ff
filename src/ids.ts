import * as nodeCrypto from 'node:crypto';
import { createHash, randomUUID } from 'node:crypto';

function formatUuid(bytes: Uint8Array): string {
  const h = Buffer.from(bytes).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * A time-ordered UUID (version 7): ids sort by creation time, which keeps
 * B-tree inserts local.
 *
 * @example uuidv7() // '0190b6c4-5f1e-7c3a-9d2b-…'
 */
export function uuidv7(now: number = Date.now()): string {
  // randomUUID draws from a cached entropy pool, randomBytes makes a system call per id: events without a
  // source id get one each. Its version-4 layout keeps 74 random bits where version 7 has them (after the
  // version nibble: 12 bits, then the variant and 62 bits); the first 48 bits become the millisecond time.
  const r = randomUUID();
  const t = Math.max(0, Math.min(now, 0xffffffffffff)).toString(16).padStart(12, '0');
  return `${t.slice(0, 8)}-${t.slice(8)}-7${r.slice(15)}`;
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

/** The variant nibble (`10xx`, so `(n & 3) | 8`) by the char code of the digest's hex digit at that place. */
const VARIANT: string[] = [];
for (let c = 0; c < 128; c++) {
  const n = Number.parseInt(String.fromCharCode(c), 16);
  VARIANT.push(Number.isNaN(n) ? '' : '89ab'[n & 3]!);
}

/**
 * {@link stableUuid} of a name already joined with NUL separators: the same
 * id, built from the hex digest with string slices rather than buffers
 * (version nibble 8, variant bits 10).
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
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${VARIANT[h.charCodeAt(16)]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Short hex hash for fingerprints. */
export function fingerprint(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}
