import { createHash, randomBytes } from 'node:crypto';

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
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return formatUuid(b);
}

/**
 * A name-based UUID (version 8, SHA-256): the same inputs always give the same
 * id, so re-ingesting an event with a source id does not duplicate it.
 *
 * @example stableUuid('cloudtrail', '083dc4ad-…')
 */
export function stableUuid(...parts: string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  const b = new Uint8Array(digest.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return formatUuid(b);
}

/** Short hex hash for fingerprints. */
export function fingerprint(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}
