import type { NormalisedEvent } from '../schema/event.ts';

/**
 * Size limits on what one stored event may hold. Every source's events pass
 * through {@link limitEvent} on their way into the store (see
 * `normaliseRecords`), so a 10 MB `userAgent` is cut once, here, and not
 * stored four times over (raw, `cloud.user_agent`, `http.user_agent`, the
 * observable).
 */
export interface EventLimits {
  /** Longest text kept in one field (and one object key), in UTF-8 bytes, marker included. */
  maxFieldBytes: number;
  /** Largest raw record kept, in bytes of its JSON text, marker included. */
  maxRawBytes: number;
}

/** The defaults of `pipeline.max_field_bytes` and `pipeline.max_raw_bytes`. */
export const DEFAULT_EVENT_LIMITS: EventLimits = { maxFieldBytes: 64 * 1024, maxRawBytes: 1024 * 1024 };

/** Smallest limits that still leave room for text beside the marker. */
export const MIN_FIELD_BYTES = 1024;
export const MIN_RAW_BYTES = 4096;

/**
 * What ends a cut text: says that it was cut and how long the original was,
 * so a reader never mistakes the stored start for the whole.
 *
 * @example truncationMarker(10_485_760) // '…[truncated: 10485760 bytes in all]'
 */
export function truncationMarker(originalBytes: number): string {
  return `…[truncated: ${originalBytes} bytes in all]`;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(0);

// The last long string measured: a source copies one value into several fields (a
// CloudTrail userAgent is in four), and measuring 15 MB four times is four scans.
let measured = '';
let measuredBytes = 0;

/** UTF-8 length of `s`, computed only when the UTF-16 length cannot decide it against `max`. */
function overBytes(s: string, max: number): number | undefined {
  // A UTF-16 unit is 1–3 UTF-8 bytes (a surrogate pair: 2 units, 4 bytes).
  if (s.length * 3 <= max) return undefined;
  if (s !== measured) {
    measured = s;
    measuredBytes = Buffer.byteLength(s, 'utf8');
  }
  return measuredBytes > max ? measuredBytes : undefined;
}

/**
 * `s` cut to at most `maxBytes` UTF-8 bytes, marker included, on a character
 * boundary; `undefined` when it already fits.
 *
 * @example cutText('é'.repeat(40_000), 1024) // 'éé…é…[truncated: 80000 bytes in all]', 1024 bytes or fewer
 */
export function cutText(s: string, maxBytes: number): string | undefined {
  const bytes = overBytes(s, maxBytes);
  if (bytes === undefined) return undefined;
  const marker = truncationMarker(bytes);
  const room = Math.max(0, maxBytes - Buffer.byteLength(marker, 'utf8'));
  if (scratch.length < room) scratch = new Uint8Array(room);
  // encodeInto writes whole characters only, so `read` ends on a character boundary.
  const { read } = encoder.encodeInto(s.slice(0, room), scratch.subarray(0, room));
  return s.slice(0, read) + marker;
}

interface Walk {
  max: number;
  /** Strings of at most this many UTF-16 units fit for certain (3 UTF-8 bytes a unit at most). */
  safe: number;
  cut: boolean;
  /** Approximate JSON size seen so far, in UTF-16 units. */
  size: number;
}

function walkOf(max: number): Walk {
  return { max, safe: Math.floor(max / 3), cut: false, size: 0 };
}

/**
 * `v` with every string and key longer than `w.max` bytes cut. Containers on
 * the way to a cut are copied, never changed in place: the record may be
 * shared with the caller (and raw and doc share sub-objects in some sources).
 * This runs over every event, so the common case (nothing to cut) only
 * compares lengths.
 */
function limitValue(v: unknown, w: Walk): unknown {
  if (typeof v === 'string') {
    w.size += v.length;
    if (v.length <= w.safe) return v;
    const c = cutText(v, w.max);
    if (c === undefined) return v;
    w.cut = true;
    return c;
  }
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      const y = limitValue(x, w);
      if (y !== x) {
        out ??= v.slice();
        out[i] = y;
      }
    }
    w.size += v.length;
    return out ?? v;
  }
  const o = v as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const k in o) {
    const x = o[k];
    const y = x !== null && (typeof x === 'object' || typeof x === 'string') ? limitValue(x, w) : x;
    w.size += k.length + 4;
    const ck = k.length <= w.safe ? undefined : cutText(k, w.max);
    if (y === x && ck === undefined) continue;
    out ??= { ...o };
    if (ck !== undefined) {
      w.cut = true;
      delete out[k];
      out[ck] = y;
    } else out[k] = y;
  }
  return out ?? v;
}

// State of `hasLong`, kept in module variables: it runs over every stored event, and plain
// variables keep this loop several times cheaper than a state object would.
let scanSafe = 0;
let scanSize = 0;

/**
 * Whether any string or key in `v` is longer than `scanSafe` UTF-16 units;
 * adds the units it saw to `scanSize`. Stops at the first long one.
 */
function hasLong(v: unknown): boolean {
  if (typeof v === 'string') {
    scanSize += v.length;
    return v.length > scanSafe;
  }
  if (v === null || typeof v !== 'object') return false;
  // Strings and other scalars, most of the values, are looked at here rather than in a call each.
  if (Array.isArray(v)) {
    scanSize += v.length;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'string') {
        scanSize += x.length;
        if (x.length > scanSafe) return true;
      } else if (typeof x === 'object' && x !== null && hasLong(x)) return true;
    }
    return false;
  }
  for (const k in v) {
    scanSize += k.length + 4;
    if (k.length > scanSafe) return true;
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'string') {
      scanSize += x.length;
      if (x.length > scanSafe) return true;
    } else if (typeof x === 'object' && x !== null && hasLong(x)) return true;
  }
  return false;
}

// State of `scanDeep`, in module variables for the same reason.
let walkLong = false;

/**
 * Whether `v` nests deeper than `left` levels (the rule of `depthExceeds` in
 * framing.ts); on the way, adds the units {@link hasLong} would count to
 * `scanSize` and sets `walkLong` when a string or key is longer than
 * `scanSafe`. Unlike `hasLong` it goes on after a long text: the depth must
 * be known whole.
 */
function scanDeep(v: unknown, left: number): boolean {
  if (typeof v === 'string') {
    scanSize += v.length;
    if (v.length > scanSafe) walkLong = true;
    return false;
  }
  if (v === null || typeof v !== 'object') return false;
  if (left === 0) return true;
  // Strings, the most common values, are measured here rather than in a call each.
  if (Array.isArray(v)) {
    scanSize += v.length;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'string') {
        scanSize += x.length;
        if (x.length > scanSafe) walkLong = true;
      } else if (typeof x === 'object' && x !== null && scanDeep(x, left - 1)) return true;
    }
    return false;
  }
  for (const k in v) {
    scanSize += k.length + 4;
    if (k.length > scanSafe) walkLong = true;
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'string') {
      scanSize += x.length;
      if (x.length > scanSafe) walkLong = true;
    } else if (typeof x === 'object' && x !== null && scanDeep(x, left - 1)) return true;
  }
  return false;
}

// State of `scanMarking`: the raw cap, and the arrays of an envelope's first levels with each
// element's verdict (1: within the raw limits as a record of its own).
let scanMaxRaw = 0;
let marked: Array<{ array: unknown[]; within: Uint8Array }> = [];

/** Levels of an envelope whose arrays get a verdict per element: `{Records: […]}` is level 1, `{detail: {findings: […]}}` level 2. */
const MARK_LEVELS = 2;

/**
 * {@link scanDeep} over the first levels of an envelope (`level` is the
 * level of `v`, the envelope itself 0): it walks and counts the same, and
 * for every array at level {@link MARK_LEVELS} or above it records, per
 * element, whether that element alone would pass {@link scanRecord} as
 * `within`: the element's own units are those counted while walking it.
 */
function scanMarking(v: object, left: number, level: number): boolean {
  if (left === 0) return true;
  const next = level + 1;
  if (Array.isArray(v)) {
    scanSize += v.length;
    const within = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      const size = scanSize;
      const long = walkLong;
      walkLong = false;
      if (typeof x === 'string') {
        scanSize += x.length;
        if (x.length > scanSafe) walkLong = true;
      } else if (
        typeof x === 'object' &&
        x !== null &&
        (next < MARK_LEVELS ? scanMarking(x, left - 1, next) : scanDeep(x, left - 1))
      )
        return true;
      if (!walkLong && (scanSize - size) * 6 <= scanMaxRaw) within[i] = 1;
      walkLong ||= long;
    }
    marked.push({ array: v, within });
    return false;
  }
  for (const k in v) {
    scanSize += k.length + 4;
    if (k.length > scanSafe) walkLong = true;
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'string') {
      scanSize += x.length;
      if (x.length > scanSafe) walkLong = true;
    } else if (
      typeof x === 'object' &&
      x !== null &&
      (next <= MARK_LEVELS ? scanMarking(x, left - 1, next) : scanDeep(x, left - 1))
    )
      return true;
  }
  return false;
}

/** What {@link scanRecord} found: too deep, certainly within the raw limits, or not known to be. */
export type RecordScan = 'deep' | 'within' | 'unknown';

/**
 * {@link scanRecord} for a value a source unwraps into records (a CloudTrail
 * `{"Records": […]}` file): the same walk and the same answer for the
 * value, and on the way, for the arrays of its first levels (where
 * `unwrap` finds records), whether each element is within the limits as a
 * record of its own. {@link recordsWithin} then tells the records of
 * `unwrap` that are known to be, so that {@link limitEvent} does not walk
 * each record of an envelope a second time.
 *
 * @example
 * scanEnvelope({ Records: [{ a: 'b' }] }, 64, DEFAULT_EVENT_LIMITS) // 'within'
 */
export function scanEnvelope(value: unknown, maxDepth: number, limits: EventLimits): RecordScan {
  scanSafe = Math.floor(limits.maxFieldBytes / 3);
  scanMaxRaw = limits.maxRawBytes;
  scanSize = 0;
  walkLong = false;
  marked = [];
  if (typeof value === 'object' && value !== null) {
    if (scanMarking(value, maxDepth, 0)) {
      marked = [];
      return 'deep';
    }
  } else if (scanDeep(value, maxDepth)) return 'deep';
  return walkLong || scanSize * 6 > limits.maxRawBytes ? 'unknown' : 'within';
}

/**
 * Per record of `records` (what `unwrap` returned for the value last given
 * to {@link scanEnvelope}), 1 when that record is within the limits; undefined
 * when `records` is not one of the arrays the scan met (unwrap built it).
 */
export function recordsWithin(records: unknown[]): Uint8Array | undefined {
  for (let i = 0; i < marked.length; i++) if (marked[i]!.array === records) return marked[i]!.within;
  return undefined;
}

/**
 * One walk over a record before any source code reads it, doing the work of
 * two: whether it nests deeper than `maxDepth` (`deep`: such a record is
 * refused), and whether, kept as an event's `raw`, it is certainly within
 * `limits` (`within`: no text or key above `maxFieldBytes` and too small for
 * the raw cap, the test {@link limitEvent} applies), so that
 * {@link limitEvent} need not walk it again. A part of a record (an envelope's
 * records) is within the limits when the whole is.
 *
 * @example scanRecord({ a: 'b' }, 64, DEFAULT_EVENT_LIMITS) // 'within'
 */
export function scanRecord(value: unknown, maxDepth: number, limits: EventLimits): RecordScan {
  scanSafe = Math.floor(limits.maxFieldBytes / 3);
  scanSize = 0;
  walkLong = false;
  if (scanDeep(value, maxDepth)) return 'deep';
  return walkLong || scanSize * 6 > limits.maxRawBytes ? 'unknown' : 'within';
}

/**
 * Whether a record parsed alone from a JSON text of `textLength` characters
 * that cannot nest too deep (see `FramedRecord.textLength`) is certainly
 * within `limits`, the verdict {@link scanRecord} would give it, without the
 * walk: a parsed string or key is never longer than the text it came from
 * (escapes only shorten), and the units `scanRecord` counts (strings, keys
 * plus 4, array lengths) never exceed the text's characters (quotes,
 * colons, commas and brackets).
 *
 * @example textWithin(400, DEFAULT_EVENT_LIMITS) // true
 */
export function textWithin(textLength: number | undefined, limits: EventLimits): boolean {
  return (
    textLength !== undefined &&
    textLength <= Math.floor(limits.maxFieldBytes / 3) &&
    textLength * 6 <= limits.maxRawBytes
  );
}

/**
 * A raw record (or the unmapped fields, which copy parts of it) held to the
 * limits: long texts cut, and the whole kept as the start of its JSON text
 * when that is still above `limits.maxRawBytes`.
 */
function capRecord(value: unknown, limits: EventLimits): { value: unknown; cut: boolean } {
  let out = value;
  let cut = false;
  scanSize = 0;
  let size: number;
  if (hasLong(out)) {
    const w = walkOf(limits.maxFieldBytes);
    out = limitValue(out, w);
    cut = w.cut;
    size = w.size;
  } else size = scanSize;
  // Sizes are in UTF-16 units; JSON escapes take up to 6 bytes per unit. Serialise
  // only when the record may be over the cap, which ordinary records are not.
  if (size * 6 > limits.maxRawBytes) {
    const c = cutText(JSON.stringify(out) ?? 'null', limits.maxRawBytes);
    if (c !== undefined) {
      out = c;
      cut = true;
    }
  }
  return { value: out, cut };
}

/**
 * Bound one event in place: every text field and key above
 * `limits.maxFieldBytes` is cut and ends with {@link truncationMarker}; a raw
 * record whose JSON is still above `limits.maxRawBytes` is replaced by the
 * start of that JSON text, with the marker, and so are the unmapped fields
 * (under the key `_truncated`: they copy parts of the raw record). Either
 * sets `truncated: true`. Ids are derived before this runs, so they rest on
 * the whole source id. Events within the limits (nearly all) are only read,
 * never copied. `rawWithin`: the caller knows the raw record is within the
 * limits ({@link scanRecord} said so), and it is not walked again.
 *
 * @example
 * limitEvent(event, { maxFieldBytes: 65_536, maxRawBytes: 1_048_576 });
 * event.truncated // true when anything was cut
 */
export function limitEvent(
  e: NormalisedEvent,
  limits: EventLimits = DEFAULT_EVENT_LIMITS,
  rawWithin = false,
): NormalisedEvent {
  const record = e as unknown as Record<string, unknown>;
  let cut = false;
  scanSafe = Math.floor(limits.maxFieldBytes / 3);
  for (const k in record) {
    if (k === 'raw' || k === 'unmapped') continue;
    const x = record[k];
    if (typeof x === 'string' ? x.length <= scanSafe : typeof x !== 'object' || x === null || !hasLong(x))
      continue;
    // Something in the normalised fields may be too long: cut what is.
    const w = walkOf(limits.maxFieldBytes);
    for (const j in record) {
      if (j === 'raw' || j === 'unmapped') continue;
      const x = record[j];
      const y = limitValue(x, w);
      if (y !== x) record[j] = y;
    }
    cut = w.cut;
    break;
  }
  if (e.unmapped !== undefined) {
    const u = capRecord(e.unmapped, limits);
    if (u.cut) {
      e.unmapped =
        typeof u.value === 'string' ? { _truncated: u.value } : (u.value as Record<string, unknown>);
      cut = true;
    }
  }
  if (e.raw !== undefined && !rawWithin) {
    const r = capRecord(e.raw, limits);
    if (r.cut) {
      e.raw = r.value;
      cut = true;
    }
  }
  if (cut) e.truncated = true;
  // Keep no long text alive past the event.
  measured = '';
  return e;
}
