import { ANY, DASH, DASH_CHARS, ONE, type Part } from './sigma-string.ts';

/** A test of one string value (already lowercased when matching is case-insensitive). */
export type StrTest = (s: string) => boolean;

/** One fixed-length piece between `*` wildcards: literal characters, `?` and windash classes. */
type Segment = Array<string | typeof ONE | typeof DASH>;

const DASH_SET = new Set<string>(DASH_CHARS);

function segmentsOf(parts: readonly Part[]): {
  segs: Segment[];
  anchoredStart: boolean;
  anchoredEnd: boolean;
} {
  const segs: Segment[] = [];
  let cur: Segment = [];
  for (const p of parts) {
    if (p === ANY) {
      segs.push(cur);
      cur = [];
    } else if (typeof p === 'string') for (const ch of p) cur.push(ch);
    else cur.push(p);
  }
  segs.push(cur);
  return {
    segs,
    anchoredStart: parts[0] !== ANY,
    anchoredEnd: parts[parts.length - 1] !== ANY,
  };
}

function segLength(seg: Segment): number {
  let n = 0;
  for (const c of seg) n += typeof c === 'string' ? c.length : 1;
  return n;
}

function matchAt(seg: Segment, s: string, at: number): boolean {
  let i = at;
  for (const c of seg) {
    if (c === ONE) {
      if (i >= s.length) return false;
      i++;
    } else if (c === DASH) {
      if (!DASH_SET.has(s[i]!)) return false;
      i++;
    } else {
      if (!s.startsWith(c, i)) return false;
      i += c.length;
    }
  }
  return true;
}

function findFrom(seg: Segment, literal: string | undefined, s: string, from: number): number {
  if (literal !== undefined) return s.indexOf(literal, from);
  const len = segLength(seg);
  for (let i = from; i + len <= s.length; i++) if (matchAt(seg, s, i)) return i;
  return -1;
}

/**
 * Compile a wildcard pattern into a test. Plain shapes get the fast string
 * methods (`===`, `startsWith`, `endsWith`, `includes`); the general case
 * matches the pieces between `*` leftmost-first, which is exact for
 * wildcard patterns and linear in practice (no regular expression, so no
 * backtracking blow-up).
 *
 * @example compileGlob(parseSigmaString('*\\cmd.exe'))('c:\\windows\\cmd.exe') // true
 */
export function compileGlob(parts: readonly Part[]): StrTest {
  const { segs, anchoredStart, anchoredEnd } = segmentsOf(parts);
  const plain = segs.map((seg) =>
    seg.every((c) => typeof c === 'string') ? (seg as string[]).join('') : undefined,
  );
  if (segs.length === 1 && plain[0] !== undefined) {
    const lit = plain[0];
    return (s) => s === lit;
  }
  if (segs.length === 2 && plain[0] !== undefined && plain[1] !== undefined) {
    const [a, b] = [plain[0], plain[1]];
    if (b === '') return (s) => s.startsWith(a);
    if (a === '') return (s) => s.endsWith(b);
    return (s) => s.length >= a.length + b.length && s.startsWith(a) && s.endsWith(b);
  }
  if (segs.length === 3 && plain[0] === '' && plain[2] === '' && plain[1] !== undefined) {
    const mid = plain[1];
    return (s) => s.includes(mid);
  }
  const first = segs[0]!;
  const last = segs[segs.length - 1]!;
  const firstLen = segLength(first);
  const lastLen = segLength(last);
  const middle = segs.slice(1, -1);
  const middlePlain = plain.slice(1, -1);
  if (segs.length === 1) {
    return (s) => segLength(first) === s.length && matchAt(first, s, 0);
  }
  return (s) => {
    if (s.length < firstLen + lastLen) return false;
    if (anchoredStart && !matchAt(first, s, 0)) return false;
    const endAt = s.length - lastLen;
    if (anchoredEnd && !matchAt(last, s, endAt)) return false;
    let pos = firstLen;
    for (let k = 0; k < middle.length; k++) {
      const seg = middle[k]!;
      if (seg.length === 0) continue;
      const at = findFrom(seg, middlePlain[k], s, pos);
      if (at < 0) return false;
      pos = at + segLength(seg);
      if (pos > endAt) return false;
    }
    return true;
  };
}

/**
 * A test that passes when any of several patterns matches. Patterns of the
 * same shape are grouped: exact values into a set, prefixes, suffixes and
 * substrings into arrays checked in one loop each.
 */
export function anyGlob(patterns: ReadonlyArray<readonly Part[]>): StrTest {
  const exact: string[] = [];
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  const subs: string[] = [];
  const other: StrTest[] = [];
  for (const parts of patterns) {
    const shape = shapeOf(parts);
    if (shape.kind === 'exact') exact.push(shape.text);
    else if (shape.kind === 'prefix') prefixes.push(shape.text);
    else if (shape.kind === 'suffix') suffixes.push(shape.text);
    else if (shape.kind === 'contains') subs.push(shape.text);
    else if (shape.kind === 'any') return () => true;
    else other.push(compileGlob(parts));
  }
  const tests: StrTest[] = [];
  if (exact.length === 1) {
    const e = exact[0]!;
    tests.push((s) => s === e);
  } else if (exact.length > 1) {
    const set = new Set(exact);
    tests.push((s) => set.has(s));
  }
  if (suffixes.length === 1) {
    const x = suffixes[0]!;
    tests.push((s) => s.endsWith(x));
  } else if (suffixes.length > 1) {
    tests.push((s) => {
      for (let i = 0; i < suffixes.length; i++) if (s.endsWith(suffixes[i]!)) return true;
      return false;
    });
  }
  if (prefixes.length === 1) {
    const x = prefixes[0]!;
    tests.push((s) => s.startsWith(x));
  } else if (prefixes.length > 1) {
    tests.push((s) => {
      for (let i = 0; i < prefixes.length; i++) if (s.startsWith(prefixes[i]!)) return true;
      return false;
    });
  }
  if (subs.length === 1) {
    const x = subs[0]!;
    tests.push((s) => s.includes(x));
  } else if (subs.length > 1) {
    tests.push((s) => {
      for (let i = 0; i < subs.length; i++) if (s.includes(subs[i]!)) return true;
      return false;
    });
  }
  tests.push(...other);
  if (tests.length === 0) return () => false;
  if (tests.length === 1) return tests[0]!;
  if (tests.length === 2) {
    const [a, b] = tests as [StrTest, StrTest];
    return (s) => a(s) || b(s);
  }
  return (s) => {
    for (let i = 0; i < tests.length; i++) if (tests[i]!(s)) return true;
    return false;
  };
}

export type Shape =
  | { kind: 'exact' | 'prefix' | 'suffix' | 'contains'; text: string }
  | { kind: 'any' }
  | { kind: 'glob' };

/** The simple shape of a pattern, when it has one. */
export function shapeOf(parts: readonly Part[]): Shape {
  const n = parts.length;
  if (n === 0) return { kind: 'exact', text: '' };
  if (n === 1) {
    const p = parts[0]!;
    if (typeof p === 'string') return { kind: 'exact', text: p };
    if (p === ANY) return { kind: 'any' };
    return { kind: 'glob' };
  }
  if (n === 2) {
    const [a, b] = parts as [Part, Part];
    if (typeof a === 'string' && b === ANY) return { kind: 'prefix', text: a };
    if (a === ANY && typeof b === 'string') return { kind: 'suffix', text: b };
    return { kind: 'glob' };
  }
  if (n === 3 && parts[0] === ANY && parts[2] === ANY && typeof parts[1] === 'string') {
    return { kind: 'contains', text: parts[1] };
  }
  return { kind: 'glob' };
}

/** Strings at least this long get a bigram bitmap before a many-needle substring search. */
export const GRAM_MIN_LENGTH = 160;

/** Bigram code of two characters (64 Ki buckets; collisions only make the filter weaker, never wrong). */
function gram(a: number, b: number): number {
  return ((a & 0xff) << 8) | (b & 0xff);
}

/**
 * The bigrams present in a string, as a 65,536-bit bitmap: a needle whose
 * bigrams are not all present cannot occur in the string, so a list of a
 * hundred `contains` values is mostly ruled out with a few bit tests
 * instead of a hundred scans of a 10 KB script block.
 */
export function fillGrams(s: string, bits: Uint32Array): Uint32Array {
  bits.fill(0);
  let prev = s.charCodeAt(0);
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const g = gram(prev, c);
    bits[g >>> 5]! |= 1 << (g & 31);
    prev = c;
  }
  return bits;
}

/**
 * Many substrings searched at once (a `contains` list). Each needle carries
 * its bigrams; against a long text the bitmap of the text rules most
 * needles out before `includes` runs.
 */
export class NeedleSet {
  private readonly needles: string[];
  private readonly sigs: Uint16Array[];

  constructor(needles: readonly string[]) {
    this.needles = [...new Set(needles)].sort((a, b) => b.length - a.length);
    this.sigs = this.needles.map((n) => {
      const all = new Set<number>();
      // Every distinct bigram (up to 32), not a sample: the test stops at the first one missing, and a
      // needle let through costs an `includes` over the whole (long) text.
      for (let i = 1; i < n.length && all.size < 32; i++) all.add(gram(n.charCodeAt(i - 1), n.charCodeAt(i)));
      return Uint16Array.from(all);
    });
  }

  get size(): number {
    return this.needles.length;
  }

  /** Whether any needle occurs in `s`; `grams` is the bitmap of `s` when it is long. */
  test(s: string, grams?: Uint32Array): boolean {
    const needles = this.needles;
    if (!grams) {
      for (let i = 0; i < needles.length; i++) if (s.includes(needles[i]!)) return true;
      return false;
    }
    const sigs = this.sigs;
    for (let i = 0; i < needles.length; i++) {
      const sig = sigs[i]!;
      let maybe = true;
      for (let j = 0; j < sig.length; j++) {
        const g = sig[j]!;
        if ((grams[g >>> 5]! & (1 << (g & 31))) === 0) {
          maybe = false;
          break;
        }
      }
      if (maybe && s.includes(needles[i]!)) return true;
    }
    return false;
  }
}
