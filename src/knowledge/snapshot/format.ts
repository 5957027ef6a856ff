/**
 * A flat binary container for the built knowledge index: a JSON header
 * (small values and the section table) followed by typed-array sections,
 * each aligned to 8 bytes. It is what a build worker transfers to the main
 * thread (one ArrayBuffer moves, nothing is cloned) and what the disk cache
 * holds; reading it creates views over the bytes, so opening costs no
 * parsing of the index and keeps it off the JavaScript heap.
 *
 * Strings are kept as UTF-8 with an offsets array ({@link StringTable}) and
 * decoded when asked for; sorted string tables ({@link TermTable}) answer
 * look-ups by binary search over the bytes, so a vocabulary needs no Map.
 */
import { AisocError } from '../../errors.ts';

const MAGIC = 'AISOCKIX';
/** Bumped when the layout of any section changes; a snapshot of another format is rebuilt. */
export const SNAPSHOT_FORMAT = 1;

const KINDS = {
  u8: Uint8Array,
  i32: Int32Array,
  u32: Uint32Array,
  f32: Float32Array,
} as const;
type Kind = keyof typeof KINDS;
type Section = Uint8Array | Int32Array | Uint32Array | Float32Array;

function kindOf(a: Section): Kind {
  if (a instanceof Uint8Array) return 'u8';
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint32Array) return 'u32';
  return 'f32';
}

interface SectionEntry {
  name: string;
  kind: Kind;
  /** Byte offset from the start of the data (after the header). */
  offset: number;
  /** Elements. */
  length: number;
}

interface Header {
  format: number;
  /** Bytes after the header (the sections). */
  data_bytes: number;
  meta: Record<string, unknown>;
  sections: SectionEntry[];
}

const align8 = (n: number) => (n + 7) & ~7;

/**
 * UTF-8 bytes of each string and where each starts (n + 1 offsets), written
 * into one allocation: a build writes hundreds of thousands of strings, and
 * a small native buffer for each would leave the build thread's allocator
 * holding memory long after the thread ends.
 */
function encodeStrings(values: readonly string[]): { bytes: Uint8Array; offsets: Uint32Array } {
  const offsets = new Uint32Array(values.length + 1);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    offsets[i] = total;
    total += Buffer.byteLength(values[i]!, 'utf8');
  }
  offsets[values.length] = total;
  const bytes = new Uint8Array(total);
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < values.length; i++) view.write(values[i]!, offsets[i]!, 'utf8');
  return { bytes, offsets };
}

/**
 * Order strings as their UTF-8 bytes order (which is code-point order), not
 * as JavaScript compares them (UTF-16 code units differ for characters
 * beyond U+FFFF), without encoding them.
 */
function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (U+D800–DFFF, the half of a character beyond U+FFFF) sorts after U+E000–FFFF in UTF-8.
    const hx = x >= 0xd800 && x <= 0xdfff;
    const hy = y >= 0xd800 && y <= 0xdfff;
    if (hx !== hy) return hx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Collects sections, then lays them out in one ArrayBuffer.
 *
 * @example
 * const w = new SnapshotWriter();
 * w.meta('label', 'ATT&CK v18.1');
 * w.array('lengths', new Float32Array([3, 4]));
 * w.strings('ids', ['T1003', 'T1059']);
 * const bytes = w.finish();
 */
export class SnapshotWriter {
  private readonly entries: Array<{ name: string; data: Section }> = [];
  private readonly metaValues: Record<string, unknown> = {};

  /** A small JSON value kept in the header. */
  meta(key: string, value: unknown): void {
    this.metaValues[key] = value;
  }

  array(name: string, data: Section): void {
    if (this.entries.some((e) => e.name === name))
      throw new AisocError('AISOC_ERR_INTERNAL', `Snapshot section ${name} written twice.`);
    this.entries.push({ name, data });
  }

  /** Strings kept in the order given (read back with {@link SnapshotReader.strings}). */
  strings(name: string, values: readonly string[]): void {
    const { bytes, offsets } = encodeStrings(values);
    this.array(`${name}.bytes`, bytes);
    this.array(`${name}.offsets`, offsets);
  }

  /**
   * Strings sorted by their UTF-8 bytes, for look-up by binary search (read
   * back with {@link SnapshotReader.terms}). Returns, for each sorted
   * position, the index of the string in `values`, so callers can lay out
   * data that belongs to each term in the same order. Duplicates are refused.
   */
  sortedStrings(name: string, values: readonly string[]): Int32Array {
    const order = Int32Array.from(values, (_, i) => i).sort((x, y) => byCodePoint(values[x]!, values[y]!));
    for (let k = 1; k < order.length; k++)
      if (values[order[k - 1]!] === values[order[k]!])
        throw new AisocError('AISOC_ERR_INTERNAL', `Snapshot term table ${name} has a duplicate.`);
    this.strings(
      name,
      Array.from(order, (i) => values[i]!),
    );
    return order;
  }

  /** Lay everything out: the header, then each section at an 8-byte boundary after it. */
  finish(): ArrayBuffer {
    const sections: SectionEntry[] = [];
    // Offsets are relative to the start of the data, which follows the header.
    let at = 0;
    for (const e of this.entries) {
      sections.push({ name: e.name, kind: kindOf(e.data), offset: at, length: e.data.length });
      at = align8(at + e.data.byteLength);
    }
    const header = { format: SNAPSHOT_FORMAT, data_bytes: at, meta: this.metaValues, sections };
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const dataStart = align8(16 + json.length);
    const out = new Uint8Array(dataStart + at);
    out.set(Buffer.from(MAGIC, 'latin1'), 0);
    const view = new DataView(out.buffer);
    view.setUint32(8, json.length, true);
    view.setUint32(12, SNAPSHOT_FORMAT, true);
    out.set(json, 16);
    this.entries.forEach((e, i) => {
      out.set(
        new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength),
        dataStart + sections[i]!.offset,
      );
    });
    return out.buffer;
  }
}

/**
 * Strings in a snapshot, decoded one at a time.
 *
 * @example table.get(0) // 'T1003'
 */
export class StringTable {
  constructor(
    private readonly bytes: Buffer,
    private readonly offsets: Uint32Array,
  ) {}

  get length(): number {
    return this.offsets.length - 1;
  }

  get(i: number): string {
    return this.bytes.toString('utf8', this.offsets[i]!, this.offsets[i + 1]!);
  }

  /** Every string, decoded (for small tables). */
  all(): string[] {
    const out: string[] = new Array(this.length);
    for (let i = 0; i < out.length; i++) out[i] = this.get(i);
    return out;
  }

  /** Compare `key` with string `i` by UTF-8 bytes. */
  compare(key: Buffer, i: number): number {
    return key.compare(this.bytes, this.offsets[i]!, this.offsets[i + 1]!);
  }
}

/**
 * A sorted string table: `find` is a binary search over the UTF-8 bytes.
 *
 * @example terms.find('lsass') // its position, or -1
 */
export class TermTable extends StringTable {
  find(term: string): number {
    const key = Buffer.from(term, 'utf8');
    let lo = 0;
    let hi = this.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.compare(key, mid);
      if (c === 0) return mid;
      if (c > 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

function corrupt(why: string): AisocError {
  return new AisocError('AISOC_ERR_INTERNAL', `The knowledge index snapshot is unusable: ${why}.`);
}

/**
 * Views over a snapshot's sections. Opening checks the magic, the format
 * and that every section lies inside the bytes; a truncated or foreign file
 * is refused rather than misread.
 *
 * @example const r = SnapshotReader.open(bytes); r.f32('lengths'); r.strings('ids').get(0);
 */
export class SnapshotReader {
  private readonly sections = new Map<string, SectionEntry>();

  private constructor(
    private readonly bytes: Uint8Array,
    private readonly header: Header,
  ) {
    for (const s of header.sections) this.sections.set(s.name, s);
  }

  static open(input: Uint8Array | ArrayBuffer): SnapshotReader {
    let bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
    // Typed views need aligned offsets: copy a buffer that does not start on an 8-byte boundary.
    if (bytes.byteOffset % 8 !== 0) bytes = new Uint8Array(bytes);
    if (bytes.length < 16 || Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('latin1') !== MAGIC)
      throw corrupt('not a knowledge index snapshot');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerBytes = view.getUint32(8, true);
    const format = view.getUint32(12, true);
    if (format !== SNAPSHOT_FORMAT) throw corrupt(`format ${format}, expected ${SNAPSHOT_FORMAT}`);
    if (16 + headerBytes > bytes.length) throw corrupt('truncated header');
    let header: Header;
    try {
      header = JSON.parse(
        Buffer.from(bytes.buffer, bytes.byteOffset + 16, headerBytes).toString('utf8'),
      ) as Header;
    } catch {
      throw corrupt('unreadable header');
    }
    const dataStart = align8(16 + headerBytes);
    if (dataStart + header.data_bytes !== bytes.length)
      throw corrupt(`${bytes.length} bytes, expected ${dataStart + header.data_bytes}`);
    for (const s of header.sections) {
      const width = KINDS[s.kind]?.BYTES_PER_ELEMENT;
      if (!width || s.offset % width !== 0 || s.offset + s.length * width > header.data_bytes)
        throw corrupt(`section ${s.name} lies outside the file`);
    }
    return new SnapshotReader(bytes.subarray(dataStart), header);
  }

  meta<T>(key: string): T {
    return this.header.meta[key] as T;
  }

  has(name: string): boolean {
    return this.sections.has(name);
  }

  private section(name: string, kind: Kind): Section {
    const s = this.sections.get(name);
    if (!s) throw corrupt(`section ${name} is missing`);
    if (s.kind !== kind) throw corrupt(`section ${name} holds ${s.kind}, expected ${kind}`);
    return new KINDS[kind](this.bytes.buffer as ArrayBuffer, this.bytes.byteOffset + s.offset, s.length);
  }

  u8(name: string): Uint8Array {
    return this.section(name, 'u8') as Uint8Array;
  }

  i32(name: string): Int32Array {
    return this.section(name, 'i32') as Int32Array;
  }

  u32(name: string): Uint32Array {
    return this.section(name, 'u32') as Uint32Array;
  }

  f32(name: string): Float32Array {
    return this.section(name, 'f32') as Float32Array;
  }

  strings(name: string): StringTable {
    const { bytes, offsets } = this.stringParts(name);
    return new StringTable(bytes, offsets);
  }

  terms(name: string): TermTable {
    const { bytes, offsets } = this.stringParts(name);
    return new TermTable(bytes, offsets);
  }

  private stringParts(name: string): { bytes: Buffer; offsets: Uint32Array } {
    const b = this.u8(`${name}.bytes`);
    const offsets = this.u32(`${name}.offsets`);
    if (offsets.length === 0 || offsets[offsets.length - 1]! > b.length)
      throw corrupt(`string table ${name} is inconsistent`);
    return { bytes: Buffer.from(b.buffer, b.byteOffset, b.byteLength), offsets };
  }
}
