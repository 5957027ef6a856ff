import type { NormalisedEvent } from '../../schema/event.ts';
import { type EventView, scalarString } from './fields.ts';
import { GRAM_MIN_LENGTH } from './glob.ts';
import type { Branch } from './pipeline.ts';
import type { CompiledRule } from './ruleset.ts';

/** The rules one event meets, grouped by the branch (field space) they see it through. */
export interface Candidates {
  branch: Branch;
  rules: CompiledRule[];
  /** For large groups: which rules an event's field values leave possible. */
  prefilter?: Prefilter;
}

/** Groups with at least this many rules get a {@link Prefilter}. */
const PREFILTER_MIN_RULES = 24;

/** Rule indices of the group keyed by something. */
type Postings = number[];

/** What a group's rules need of one field. */
interface SlotIndex {
  slot: number;
  exact: Map<string, Postings>;
  basename: Map<string, Postings>;
  /** By the first two characters (as a bigram code): [prefix, rules]. */
  prefix: Map<number, Array<[string, Postings]>>;
  /** By the last two characters (as a bigram code): [suffix, rules]. */
  suffix: Map<number, Array<[string, Postings]>>;
  /** By one bigram of the needle: [needle, offset of that bigram in it, rules]. */
  grams: Map<number, Array<[string, number, Postings]>>;
  /** The same needles as a flat list, for short lists against long values. */
  needles: Array<[string, Postings]>;
  /** bigram → 1 + index of its list in `gramLists` (0: none); built by {@link finishSlot}. */
  gramHead?: Int32Array;
  /**
   * The bigrams that have a list, as a 65,536-bit set: 8 KB that stay in the
   * CPU cache, read before the 256 KB `gramHead`, which most bigrams of a
   * value miss.
   */
  gramSet?: Uint32Array;
  gramLists: Array<Array<[string, number, Postings]>>;
  /** Per entry of `needles`: a spread of its bigrams (as NeedleSet), tested against a value's bitmap. */
  needleSigs?: Uint16Array[];
}

/** Turn a slot's bigram map into a flat table: one array read per character of the value. */
function finishSlot(idx: SlotIndex): void {
  if (idx.grams.size === 0) return;
  idx.gramHead = new Int32Array(65536);
  idx.gramSet = new Uint32Array(2048);
  for (const [g, list] of idx.grams) {
    idx.gramLists.push(list);
    idx.gramHead[g] = idx.gramLists.length;
    idx.gramSet[g >>> 5]! |= 1 << (g & 31);
  }
  idx.needleSigs = idx.needles.map(([needle]) => needleSignature(needle));
}

function addPosting<K>(map: Map<K, Postings>, key: K, i: number): void {
  const list = map.get(key);
  if (!list) map.set(key, [i]);
  else if (list[list.length - 1] !== i) list.push(i);
}

function addKeyed<K, T extends [string, ...unknown[]]>(
  map: Map<K, Array<T>>,
  key: K,
  text: string,
  make: () => T,
  i: number,
): void {
  let list = map.get(key);
  if (!list) {
    list = [];
    map.set(key, list);
  }
  let entry = list.find((e) => e[0] === text);
  if (!entry) {
    entry = make();
    list.push(entry);
  }
  const postings = entry[entry.length - 1] as Postings;
  if (postings[postings.length - 1] !== i) postings.push(i);
}

function gramAt(s: string, i: number): number {
  return ((s.charCodeAt(i) & 0xff) << 8) | (s.charCodeAt(i + 1) & 0xff);
}

/**
 * Second-level index over the rules of one group, by field value. Nearly
 * every rule needs a field to equal a value, end with a file name, start or
 * end with a text, or contain a text (`Image|endswith: '\\cmd.exe'`,
 * `CommandLine|contains: ' -enc '`); this index reads each such field once
 * per event and marks only the rules whose condition can hold, so an event
 * skips the hundreds of process-creation rules about other programs
 * without running them. Substrings are found with a bigram index (each
 * needle filed under one of its bigrams, the least shared one), one pass
 * over the field. Rules without such a condition are always evaluated.
 */
export class Prefilter {
  private readonly always: Uint8Array;
  private readonly slots: SlotIndex[] = [];
  private readonly marks: Uint32Array;
  private gen = 0;
  /** Rules with a necessary field condition (the rest are always evaluated). */
  readonly indexed: number;

  constructor(rules: readonly CompiledRule[]) {
    this.always = new Uint8Array(rules.length);
    this.marks = new Uint32Array(rules.length);
    let indexed = 0;
    const bySlot = new Map<number, SlotIndex>();
    rules.forEach((rule, i) => {
      const atoms = rule.detection.atoms;
      if (!atoms || atoms.length === 0) {
        this.always[i] = 1;
        return;
      }
      indexed++;
      for (const a of atoms) {
        let idx = bySlot.get(a.slot);
        if (!idx) {
          idx = {
            slot: a.slot,
            exact: new Map(),
            basename: new Map(),
            prefix: new Map(),
            suffix: new Map(),
            grams: new Map(),
            needles: [],
            gramLists: [],
          };
          bySlot.set(a.slot, idx);
          this.slots.push(idx);
        }
        const v = a.value;
        switch (a.kind) {
          case 'exact':
            addPosting(idx.exact, v, i);
            break;
          case 'basename':
            addPosting(idx.basename, v, i);
            break;
          case 'prefix':
            addKeyed(idx.prefix, gramAt(v, 0), v, () => [v, []] as [string, Postings], i);
            break;
          case 'suffix':
            addKeyed(idx.suffix, gramAt(v, v.length - 2), v, () => [v, []] as [string, Postings], i);
            break;
          case 'substring': {
            // File the needle under its bigram with the shortest list so far: common bigrams (" -") stay cheap.
            let best = 0;
            let bestLen = Number.POSITIVE_INFINITY;
            for (let k = 0; k + 1 < v.length; k++) {
              const len = idx.grams.get(gramAt(v, k))?.length ?? 0;
              if (len < bestLen) {
                bestLen = len;
                best = k;
              }
            }
            const before = idx.grams.get(gramAt(v, best))?.find((e) => e[0] === v);
            addKeyed(idx.grams, gramAt(v, best), v, () => [v, best, []] as [string, number, Postings], i);
            if (!before) {
              const entry = idx.grams.get(gramAt(v, best))!.find((e) => e[0] === v)!;
              idx.needles.push([v, entry[2]]);
            }
            break;
          }
        }
      }
    });
    for (const idx of this.slots) finishSlot(idx);
    this.indexed = indexed;
  }

  /** Mark the rules the event's values leave possible; then ask {@link possible} per rule. */
  mark(view: EventView): void {
    const gen = ++this.gen;
    for (let k = 0; k < this.slots.length; k++) {
      const idx = this.slots[k]!;
      const s = view.lower(idx.slot);
      if (s !== undefined) {
        this.markValue(idx, s, gen, useBitmap(idx, s) ? view.grams(idx.slot) : undefined);
      } else {
        const raw = view.value(idx.slot);
        if (Array.isArray(raw)) {
          for (const e of raw) {
            const es = scalarString(e);
            if (es !== undefined) this.markValue(idx, es.toLowerCase(), gen);
          }
        }
      }
    }
  }

  private set(postings: Postings, gen: number): void {
    for (let j = 0; j < postings.length; j++) this.marks[postings[j]!] = gen;
  }

  /**
   * Mark the rules one (lowercase) value leaves possible. `grams`, the
   * value's bigram bitmap, is given for long values (see {@link useBitmap}).
   */
  private markValue(idx: SlotIndex, s: string, gen: number, grams?: Uint32Array): void {
    if (idx.exact.size > 0) {
      const hit = idx.exact.get(s);
      if (hit) this.set(hit, gen);
    }
    if (idx.basename.size > 0) {
      const cut = Math.max(s.lastIndexOf('\\'), s.lastIndexOf('/'));
      if (cut >= 0) {
        const b = idx.basename.get(s.slice(cut + 1));
        if (b) this.set(b, gen);
      }
    }
    if (s.length < 2) return;
    if (idx.prefix.size > 0) {
      const list = idx.prefix.get(gramAt(s, 0));
      if (list)
        for (let j = 0; j < list.length; j++) {
          const e = list[j]!;
          if (s.startsWith(e[0])) this.set(e[1], gen);
        }
    }
    if (idx.suffix.size > 0) {
      const list = idx.suffix.get(gramAt(s, s.length - 2));
      if (list)
        for (let j = 0; j < list.length; j++) {
          const e = list[j]!;
          if (s.endsWith(e[0])) this.set(e[1], gen);
        }
    }
    if (idx.needles.length === 0) return;
    // A few needles: `includes` each (vectorised, ~0.3 ns a character). Many needles: one walk
    // over the value's bigrams (~8 ns a character) beats a scan per needle past about two dozen.
    // Loops below read tuples by index: array destructuring made this function several times slower.
    if (idx.needles.length < 24) {
      for (let j = 0; j < idx.needles.length; j++) {
        const e = idx.needles[j]!;
        if (s.includes(e[0])) this.set(e[1], gen);
      }
      return;
    }
    if (grams) {
      // A long value (a 5 KB PowerShell ContextInfo): each needle's bigrams against the value's bitmap,
      // shared with the rules' NeedleSets, then `includes` for the few that pass. Walking the value's
      // bigrams cost ~10 ns a character; this costs the bitmap (~2 ns a character, once per event).
      const sigs = idx.needleSigs!;
      const needles = idx.needles;
      for (let j = 0; j < needles.length; j++) {
        const e = needles[j]!;
        const postings = e[1];
        if (postings.length === 1 && this.marks[postings[0]!] === gen) continue;
        if (hasGrams(grams, sigs[j]!) && s.includes(e[0])) this.set(postings, gen);
      }
      return;
    }
    {
      const head = idx.gramHead!;
      const set = idx.gramSet!;
      const lists = idx.gramLists;
      for (let i = 0; i + 1 < s.length; i++) {
        const g = gramAt(s, i);
        if ((set[g >>> 5]! & (1 << (g & 31))) === 0) continue;
        const at = head[g]!;
        const list = lists[at - 1]!;
        for (let j = 0; j < list.length; j++) {
          // Index reads, not array destructuring (which goes through the iterator protocol).
          const e = list[j]!;
          const needle = e[0];
          const off = e[1];
          const postings = e[2];
          if (this.marks[postings[0]!] === gen && postings.length === 1) continue;
          if (s.startsWith(needle, i - off)) this.set(postings, gen);
        }
      }
    }
  }

  /** Whether rule `i` of the group can match the event last marked. */
  possible(i: number): boolean {
    return this.always[i] === 1 || this.marks[i] === this.gen;
  }
}

/**
 * Whether to test a slot's needles against the value's bigram bitmap rather
 * than walk the value: for values long next to the number of needles (the
 * walk costs per character, the bitmap test per needle).
 */
function useBitmap(idx: SlotIndex, s: string): boolean {
  return idx.needles.length >= 24 && s.length >= GRAM_MIN_LENGTH && idx.needles.length * 2 < s.length;
}

/**
 * The distinct bigrams of a needle (up to 32). All of them, not a sample: a
 * test stops at the first bigram missing, and each false positive costs an
 * `includes` over a long value.
 */
function needleSignature(needle: string): Uint16Array {
  const all = new Set<number>();
  for (let i = 0; i + 1 < needle.length && all.size < 32; i++) all.add(gramAt(needle, i));
  return Uint16Array.from(all);
}

function hasGrams(grams: Uint32Array, sig: Uint16Array): boolean {
  for (let j = 0; j < sig.length; j++) {
    const g = sig[j]!;
    if ((grams[g >>> 5]! & (1 << (g & 31))) === 0) return false;
  }
  return true;
}

interface Bucket {
  any: Array<[Branch, CompiledRule]>;
  byLog: Map<string, Array<[Branch, CompiledRule]>>;
  byCode: Map<string, Array<[Branch, CompiledRule]>>;
  byLogCode: Map<string, Array<[Branch, CompiledRule]>>;
}

const MAX_CACHED_KEYS = 50_000;

function push<K>(m: Map<K, Array<[Branch, CompiledRule]>>, k: K, v: [Branch, CompiledRule]): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/**
 * Index of rules by source, log name and event code, so an event meets only
 * the rules whose log source (and required EventID) can match it: a Sysmon
 * process-access event is offered the 29 process_access rules, not the 3,000
 * others. The candidate lists per (source, log name, event code) are built
 * once and cached.
 *
 * @example
 * const idx = new RuleIndex(ruleSet.rules);
 * for (const { branch, rules } of idx.candidates(event)) …
 */
export class RuleIndex {
  private readonly buckets = new Map<string, Bucket>();
  private readonly cache = new Map<string, Map<string, Map<string, Candidates[]>>>();
  private cached = 0;
  /** (rule, branch) pairs dropped because the rule's EventIDs exclude the branch's event codes. */
  readonly excluded: number;

  constructor(rules: readonly CompiledRule[]) {
    let excluded = 0;
    for (const rule of rules) {
      for (const branch of rule.branches) {
        let codes: readonly string[] | undefined = branch.eventCodes;
        const ruleIds = branch.eventIdIsCode ? rule.detection.eventIds : undefined;
        if (ruleIds) codes = codes ? codes.filter((c) => ruleIds.has(c)) : [...ruleIds];
        if (codes && codes.length === 0) {
          excluded++;
          continue;
        }
        let b = this.buckets.get(branch.source);
        if (!b) {
          b = { any: [], byLog: new Map(), byCode: new Map(), byLogCode: new Map() };
          this.buckets.set(branch.source, b);
        }
        const entry: [Branch, CompiledRule] = [branch, rule];
        const logs = branch.logNames;
        if (!logs && !codes) b.any.push(entry);
        else if (logs && !codes) for (const l of logs) push(b.byLog, l, entry);
        else if (!logs && codes) for (const c of codes) push(b.byCode, c, entry);
        else for (const l of logs!) for (const c of codes!) push(b.byLogCode, `${l}\u0000${c}`, entry);
      }
    }
    this.excluded = excluded;
  }

  /** Candidate rules for an event, grouped by branch; branches whose `where` fails are dropped. */
  candidates(event: NormalisedEvent): Candidates[] {
    const rawLog = event.metadata?.log_name ?? '';
    const code = event.metadata?.event_code ?? '';
    // Nested maps keyed by the values as the event has them: no string built per event.
    let bySource = this.cache.get(event.source);
    if (!bySource) {
      bySource = new Map();
      this.cache.set(event.source, bySource);
    }
    let byLog = bySource.get(rawLog);
    if (!byLog) {
      byLog = new Map();
      bySource.set(rawLog, byLog);
    }
    let groups = byLog.get(code);
    if (!groups) {
      groups = this.build(event.source, rawLog.toLowerCase(), code);
      if (this.cached < MAX_CACHED_KEYS) {
        byLog.set(code, groups);
        this.cached++;
      }
    }
    let keep = true;
    for (const g of groups) if (g.branch.where && !g.branch.where(event)) keep = false;
    return keep ? groups : groups.filter((g) => !g.branch.where || g.branch.where(event));
  }

  private build(source: string, log: string, code: string): Candidates[] {
    const b = this.buckets.get(source);
    if (!b) return [];
    const entries = [
      ...b.any,
      ...(b.byLog.get(log) ?? []),
      ...(b.byCode.get(code) ?? []),
      ...(b.byLogCode.get(`${log}\u0000${code}`) ?? []),
    ];
    const byBranch = new Map<Branch, CompiledRule[]>();
    for (const [branch, rule] of entries) {
      const list = byBranch.get(branch);
      if (list) list.push(rule);
      else byBranch.set(branch, [rule]);
    }
    return [...byBranch].map(([branch, rules]) =>
      rules.length >= PREFILTER_MIN_RULES
        ? { branch, rules, prefilter: new Prefilter(rules) }
        : { branch, rules },
    );
  }

  /** Number of rules offered an event with this source, log name and code (for reports). */
  size(source: string, log = '', code = ''): number {
    return this.build(source, log.toLowerCase(), code).reduce((n, g) => n + g.rules.length, 0);
  }
}
