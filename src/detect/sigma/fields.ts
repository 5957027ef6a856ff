import type { NormalisedEvent } from '../../schema/event.ts';
import { fillGrams } from './glob.ts';

/** Reads one value (or an array of values) out of an event; undefined when absent. */
export type Accessor = (event: NormalisedEvent) => unknown;

/**
 * Compile a dotted path (`raw.requestParameters.userName`) into an
 * accessor. At each level the rest of the path is first tried as one
 * literal key, so flat keys that contain dots (Zeek's `id.orig_h`, ECS
 * exports) resolve too. Arrays fan out: the result is every element's value.
 * With `looseLast`, a missing last key is looked up ignoring case and spaces:
 * field names vary in case between Windows producers, and Sigma writes
 * event-data names without their spaces (`Threat Name` is `ThreatName`).
 *
 * @example compilePath('raw.userIdentity.type')(event) // 'Root'
 */
export function compilePath(path: string, looseLast = false): Accessor {
  const segs = path.split('.');
  const rest = segs.map((_, i) => segs.slice(i).join('.'));
  const last = segs.length - 1;
  const lastLoose = looseKey(segs[last]!);
  const walk = (v: unknown, i: number): unknown => {
    if (i === segs.length) return v;
    if (v === null || typeof v !== 'object') return undefined;
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (const x of v) {
        const r = walk(x, i);
        if (r === undefined) continue;
        if (Array.isArray(r)) out.push(...r);
        else out.push(r);
      }
      return out.length ? out : undefined;
    }
    const obj = v as Record<string, unknown>;
    if (i < last) {
      const flat = obj[rest[i]!];
      if (flat !== undefined) return flat;
    }
    let next = obj[segs[i]!];
    if (next === undefined && looseLast && i === last) {
      const real = looseFind(obj, lastLoose);
      if (real !== undefined) next = obj[real];
    }
    return walk(next, i + 1);
  };
  if (segs.length === 2) {
    // The common shape (`unmapped.Image`, `raw.eventName`): two property reads, the general walk
    // only for arrays, dotted keys and loose names.
    const [a, b] = segs as [string, string];
    return (e) => {
      const o = (e as unknown as Record<string, unknown>)[a];
      if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
        const v = (o as Record<string, unknown>)[b];
        if (v !== undefined) return v;
        if (!looseLast) return undefined;
      }
      return walk(e, 0);
    };
  }
  return (e) => walk(e, 0);
}

function looseKey(k: string): string {
  return k.replace(/\s+/g, '').toLowerCase();
}

/** Loose form of each key name seen (key names recur in every event); bounded. */
const LOOSE_KEYS = new Map<string, string>();
const LOOSE_KEYS_MAX = 10_000;

function looseKeyOf(k: string): string {
  let lk = LOOSE_KEYS.get(k);
  if (lk === undefined) {
    lk = looseKey(k);
    if (LOOSE_KEYS.size < LOOSE_KEYS_MAX) LOOSE_KEYS.set(k, lk);
  }
  return lk;
}

/**
 * The first key of an object whose loose form is `loose`. A scan, not an
 * index built per object: an event misses a field under its exact name
 * less than once on average, and building an index (kept in a WeakMap) per
 * event made allocation and garbage collection a large share of a scan.
 */
function looseFind(obj: Record<string, unknown>, loose: string): string | undefined {
  for (const k in obj) if (looseKeyOf(k) === loose) return k;
  return undefined;
}

/** Whether any string (or number) leaf under a value passes `test`; stops at the first. */
export function someLeaf(v: unknown, test: (s: string) => boolean, depth = 0): boolean {
  if (depth > 32 || v === null || v === undefined) return false;
  if (typeof v === 'string') return test(v);
  if (typeof v === 'number' || typeof v === 'boolean') return test(String(v));
  if (Array.isArray(v)) {
    for (const x of v) if (someLeaf(x, test, depth + 1)) return true;
    return false;
  }
  if (typeof v === 'object') {
    for (const k in v) if (someLeaf((v as Record<string, unknown>)[k], test, depth + 1)) return true;
  }
  return false;
}

/** Every string (and number) leaf under a value, for keyword search. */
export function stringLeaves(v: unknown, out: string[], depth = 0): string[] {
  if (depth > 32 || v === null || v === undefined) return out;
  if (typeof v === 'string') out.push(v);
  else if (typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
  else if (Array.isArray(v)) for (const x of v) stringLeaves(x, out, depth + 1);
  else if (typeof v === 'object')
    for (const k in v) stringLeaves((v as Record<string, unknown>)[k], out, depth + 1);
  return out;
}

/**
 * Field names used by rules, each given a small integer (its slot), so
 * per-event caches are arrays instead of maps.
 */
export class FieldRegistry {
  private readonly slots = new Map<string, number>();
  readonly names: string[] = [];

  slot(name: string): number {
    let s = this.slots.get(name);
    if (s === undefined) {
      s = this.names.length;
      this.slots.set(name, s);
      this.names.push(name);
    }
    return s;
  }

  get size(): number {
    return this.names.length;
  }
}

/** How one family of events (a pipeline's logsource branch) maps Sigma field names to event paths. */
export interface FieldSpace {
  /** Stable name for reports: `windows/process_creation#1`. */
  readonly name: string;
  /** Accessor for a slot, built on first use. */
  accessor(slot: number): Accessor;
  /** Accessors whose string leaves keyword searches look at. */
  readonly keywordAccessors: readonly Accessor[];
}

/**
 * A view of one event through one {@link FieldSpace}, caching each field's
 * value, string form and lowercase form the first time a rule asks, so a
 * thousand rules reading `CommandLine` read and lowercase it once. Reused
 * across events (a generation stamp invalidates the caches) so scanning
 * allocates nothing per rule.
 */
export class EventView {
  event!: NormalisedEvent;
  space!: FieldSpace;
  private gen = 1;
  private stamp: Uint32Array;
  private raws: unknown[] = [];
  private strs: Array<string | undefined> = [];
  private lows: Array<string | undefined> = [];
  private lowStamp: Uint32Array;
  private keywords: string[] | undefined;
  private keywordsLower: string[] | undefined;
  private keywordText: string | undefined;
  private keywordGramBits: Uint32Array | undefined;
  private readonly gramBits: Array<Uint32Array | undefined> = [];
  private gramStamp: Uint32Array;
  private readonly keywordGramBuffer = new Uint32Array(2048);

  constructor(private readonly registry: FieldRegistry) {
    this.stamp = new Uint32Array(Math.max(64, registry.size));
    this.lowStamp = new Uint32Array(this.stamp.length);
    this.gramStamp = new Uint32Array(this.stamp.length);
  }

  /**
   * Changes whenever the keyword strings may have: keyword tests remember
   * their result per view and epoch (see compile.ts).
   */
  keywordEpoch = 0;

  /**
   * Point the view at an event (and field space), invalidating every cache.
   * With `sameEvent` (the event is the one of the last reset, unchanged),
   * keyword strings and keyword results are kept when the new branch reads
   * the same keyword fields (a pipeline's branches share their accessors):
   * an event offered to three branches is searched for keywords once.
   */
  reset(event: NormalisedEvent, space: FieldSpace, sameEvent = false): this {
    const sameKeywords =
      sameEvent && event === this.event && this.space?.keywordAccessors === space.keywordAccessors;
    this.event = event;
    this.space = space;
    this.gen++;
    if (this.gen === 0xffffffff) {
      this.stamp.fill(0);
      this.lowStamp.fill(0);
      this.gramStamp.fill(0);
      this.gen = 1;
    }
    if (this.stamp.length < this.registry.size) {
      const n = this.registry.size * 2;
      const s = new Uint32Array(n);
      s.set(this.stamp);
      this.stamp = s;
      const l = new Uint32Array(n);
      l.set(this.lowStamp);
      this.lowStamp = l;
      const g = new Uint32Array(n);
      g.set(this.gramStamp);
      this.gramStamp = g;
    }
    if (!sameKeywords) {
      this.keywordEpoch++;
      this.keywords = undefined;
      this.keywordsLower = undefined;
      this.keywordText = undefined;
      this.keywordGramBits = undefined;
    }
    return this;
  }

  /** The field's value as the event holds it (undefined when absent). */
  value(slot: number): unknown {
    if (this.stamp[slot] === this.gen) return this.raws[slot];
    const v = this.space.accessor(slot)(this.event);
    this.raws[slot] = v;
    this.strs[slot] = scalarString(v);
    this.stamp[slot] = this.gen;
    return v;
  }

  /** The field as a string when it is a scalar; undefined for absent, null, objects and arrays. */
  str(slot: number): string | undefined {
    if (this.stamp[slot] !== this.gen) this.value(slot);
    return this.strs[slot];
  }

  /** Lowercase {@link str}. */
  lower(slot: number): string | undefined {
    if (this.lowStamp[slot] === this.gen) return this.lows[slot];
    const s = this.str(slot);
    const l = s === undefined ? undefined : s.toLowerCase();
    this.lows[slot] = l;
    this.lowStamp[slot] = this.gen;
    return l;
  }

  /** Bigram bitmap of {@link lower} (long strings only; see NeedleSet), computed once per event. */
  grams(slot: number): Uint32Array {
    let bits = this.gramBits[slot];
    if (bits && this.gramStamp[slot] === this.gen) return bits;
    if (!bits) {
      bits = new Uint32Array(2048);
      this.gramBits[slot] = bits;
    }
    fillGrams(this.lower(slot) ?? '', bits);
    this.gramStamp[slot] = this.gen;
    return bits;
  }

  /** Every keyword string, lowercase, joined by NUL: one text for substring keyword searches. */
  keywordTextLower(): string {
    if (this.keywordText === undefined) this.keywordText = this.keywordStrings().join('\u0000').toLowerCase();
    return this.keywordText;
  }

  /** Bigram bitmap of {@link keywordTextLower}. */
  keywordGrams(): Uint32Array {
    if (!this.keywordGramBits)
      this.keywordGramBits = fillGrams(this.keywordTextLower(), this.keywordGramBuffer);
    return this.keywordGramBits;
  }

  /** Whether any string a keyword search looks at passes `test` (original case, no copies made). */
  someKeywordString(test: (s: string) => boolean): boolean {
    if (this.keywords) {
      for (let i = 0; i < this.keywords.length; i++) if (test(this.keywords[i]!)) return true;
      return false;
    }
    for (const a of this.space.keywordAccessors) if (someLeaf(a(this.event), test)) return true;
    return false;
  }

  /** Strings a keyword search looks at (original case). */
  keywordStrings(): string[] {
    if (this.keywords) return this.keywords;
    const out: string[] = [];
    for (const a of this.space.keywordAccessors) stringLeaves(a(this.event), out);
    this.keywords = out;
    return out;
  }

  /** Lowercase {@link keywordStrings}. */
  keywordStringsLower(): string[] {
    if (this.keywordsLower) return this.keywordsLower;
    this.keywordsLower = this.keywordStrings().map((s) => s.toLowerCase());
    return this.keywordsLower;
  }
}

/** String form of a scalar value; undefined for anything else. */
export function scalarString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return undefined;
}
