import { crc32 } from 'node:zlib';

/*
 * A journal frame: a 16-byte header, then the payload (JSON).
 *
 *   0  magic "AJN1"
 *   4  payload length, bytes (u32 BE)
 *   8  events in the payload (u32 BE), for backlog accounting without parsing
 *  12  CRC-32 of bytes 4–11 and the payload (u32 BE)
 *
 * The CRC covers the length, so a damaged length is caught like damaged
 * data; the magic lets a reader find the next frame after damage.
 */

export const FRAME_MAGIC = Buffer.from('AJN1', 'latin1');
export const FRAME_HEADER_BYTES = 16;
/** Longest payload a frame may declare; anything longer is damage. */
export const MAX_FRAME_PAYLOAD = 0x7fff_ffff;

/** Build one frame around `payload`, which carries `events` events. */
export function encodeFrame(payload: Buffer, events: number): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  FRAME_MAGIC.copy(frame, 0);
  frame.writeUInt32BE(payload.length, 4);
  frame.writeUInt32BE(events, 8);
  payload.copy(frame, FRAME_HEADER_BYTES);
  frame.writeUInt32BE(frameCrc(frame, 0, payload.length), 12);
  return frame;
}

function frameCrc(buf: Buffer, at: number, length: number): number {
  const covered = crc32(buf.subarray(at + 4, at + 12));
  return crc32(buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length), covered);
}

/** What lies at a position of a buffer. */
export type FrameAt =
  | { kind: 'frame'; end: number; events: number; payload: Buffer }
  /** The buffer ends before the frame does (its header says how long it is once `need` is known). */
  | { kind: 'short'; need?: number }
  /** Not a frame: wrong magic, impossible length or CRC mismatch. */
  | { kind: 'bad' };

/** Decode the frame starting at `at` in `buf` (positions relative to `buf`). */
export function frameAt(buf: Buffer, at: number): FrameAt {
  if (buf.length - at < FRAME_HEADER_BYTES) {
    // A partial header that does not start like a frame is damage, not a short frame.
    const have = Math.min(buf.length - at, FRAME_MAGIC.length);
    return buf.compare(FRAME_MAGIC, 0, have, at, at + have) === 0 ? { kind: 'short' } : { kind: 'bad' };
  }
  if (buf.compare(FRAME_MAGIC, 0, 4, at, at + 4) !== 0) return { kind: 'bad' };
  const length = buf.readUInt32BE(at + 4);
  if (length > MAX_FRAME_PAYLOAD) return { kind: 'bad' };
  const end = at + FRAME_HEADER_BYTES + length;
  if (end > buf.length) return { kind: 'short', need: FRAME_HEADER_BYTES + length };
  if (frameCrc(buf, at, length) !== buf.readUInt32BE(at + 12)) return { kind: 'bad' };
  return {
    kind: 'frame',
    end,
    events: buf.readUInt32BE(at + 8),
    payload: buf.subarray(at + FRAME_HEADER_BYTES, end),
  };
}

/** The position of the next whole, valid frame at or after `from` in `buf`, or -1. */
export function nextFrame(buf: Buffer, from: number): number {
  for (let i = buf.indexOf(FRAME_MAGIC, from); i >= 0; i = buf.indexOf(FRAME_MAGIC, i + 1)) {
    if (frameAt(buf, i).kind === 'frame') return i;
  }
  return -1;
}
