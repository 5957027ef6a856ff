import type { NormalisedEvent } from '../../schema/event.ts';
import type { CompiledCorrelation, CountCondition } from './ruleset.ts';

/** A rule (or correlation) match offered to the correlations that reference it. */
export interface CorrelationInput {
  /** Id of the rule or correlation that matched. */
  ref: string;
  /** Event time, ms since the epoch. */
  time: number;
  events: readonly NormalisedEvent[];
  /** Value of a field for grouping (already resolved for this input). */
  value(field: string): string | undefined;
}

/** A correlation that fired. */
export interface CorrelationHit {
  correlation: CompiledCorrelation;
  time: number;
  events: NormalisedEvent[];
  /** Group-by field → value of the group that fired. */
  group: Record<string, string>;
  /** The count that met the condition (events, distinct values or rules). */
  count: number;
}

export interface CorrelationLimits {
  /** Most groups kept per correlation; the least recently updated are dropped past it. */
  maxGroups: number;
  /** Most events kept as evidence per group. */
  maxEvents: number;
}

interface Entry {
  time: number;
  events: readonly NormalisedEvent[];
  value?: string;
  /** temporal_ordered: the rule or correlation this entry is a match of. */
  ref?: string;
}

interface Group {
  key: string;
  values: Record<string, string>;
  last: number;
  /**
   * event_count / value_count: entries in the window, in event time; temporal and
   * temporal_ordered: the matches since the last hit, in event time (to judge one that arrives late).
   */
  entries: Entry[];
  /** Upper-bounded counts: entries beyond the cap, counted but not kept. */
  dropped: number;
  /** Start of the tumbling window (conditions with an upper bound). */
  windowStart: number;
  /** temporal: latest entry per referenced rule. */
  latest: Map<string, Entry>;
  /** temporal_ordered: per stage, the start time of the best in-order prefix ending there, and its evidence. */
  stages: Array<{ start: number; events: NormalisedEvent[] } | undefined>;
  /** After a group fires it stays quiet for one timespan, so a burst gives one alert, not one per event. */
  quietUntil: number;
}

/**
 * A group of one correlation as JSON (the correlate stage persists windows
 * between batches and processes). `-Infinity` and `+Infinity` do not survive
 * JSON: quiet and start times are written as null when not finite.
 */
export interface GroupState {
  /** Format of this state; a group of another format is dropped on restore. */
  f: 1;
  values: Record<string, string>;
  last: number;
  entries: Array<{ t: number; e: readonly NormalisedEvent[]; v?: string; r?: string }>;
  dropped?: number;
  windowStart: number;
  latest: Array<[string, { t: number; e: readonly NormalisedEvent[] }]>;
  stages: Array<{ s: number; e: NormalisedEvent[] } | null>;
  quietUntil: number | null;
}

/** What changed in a correlation's state since the last {@link CorrelationState.takeChanges}. */
export interface CorrelationChanges {
  /** Groups created or changed, with their state. */
  upserts: Array<{ key: string; last: number; state: GroupState }>;
  /** Groups gone (fired and expired, evicted, judged). */
  deletes: string[];
  /** The watermark moved. */
  watermark: boolean;
}

/** Whether a count meets every bound of the condition. */
export function meets(c: CountCondition, n: number): boolean {
  if (c.gt !== undefined && !(n > c.gt)) return false;
  if (c.gte !== undefined && !(n >= c.gte)) return false;
  if (c.lt !== undefined && !(n < c.lt)) return false;
  if (c.lte !== undefined && !(n <= c.lte)) return false;
  if (c.eq !== undefined && n !== c.eq) return false;
  return true;
}

function hasUpperBound(c: CountCondition): boolean {
  return c.lt !== undefined || c.lte !== undefined || c.eq !== undefined;
}

/** The latest entry per rule (ties: the one that came last). */
function latestByRef(entries: readonly Entry[]): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const e of entries) {
    const prev = out.get(e.ref!);
    if (!prev || prev.time <= e.time) out.set(e.ref!, e);
  }
  return out;
}

/** How many entries a count group keeps: enough that the cap never changes whether it fires. */
function entryCap(c: CompiledCorrelation, upper: boolean, maxEvents: number): number {
  const max = Math.max(1, maxEvents);
  const k = c.condition;
  if (c.type === 'event_count') return upper ? max : Number.POSITIVE_INFINITY;
  if (c.type !== 'value_count') return max;
  if (!upper) return Math.max(max, 2 * (k.gte ?? (k.gt ?? 0) + 1));
  const exceeded = k.lt ?? (k.lte !== undefined ? k.lte + 1 : (k.eq ?? 0) + 1);
  return Math.max(max, exceeded);
}

function capEvents(list: NormalisedEvent[], max: number): NormalisedEvent[] {
  return list.length > max ? list.slice(list.length - max) : list;
}

/** How a {@link CorrelationState} keeps its groups, beyond the limits. */
export interface CorrelationOptions {
  /**
   * How many timespans a match may arrive after a later one of its group and
   * still be counted with it (the pipeline, whose workers deliver out of
   * order). Entries and groups are kept that much longer; 0 (offline scans,
   * which read in event time): as long as a window can use them.
   */
  lateSpans?: number;
  /** The least lateness allowed, in ms, whatever the timespan (with `lateSpans`). */
  lateMinMs?: number;
  /** Record which groups change, for {@link CorrelationState.takeChanges} (the pipeline persists them). */
  trackChanges?: boolean;
}

/** Insert keeping `list` sorted by time; an entry goes after those of the same time (arrival order). */
function insertByTime(list: Entry[], entry: Entry): void {
  let i = list.length;
  while (i > 0 && list[i - 1]!.time > entry.time) i--;
  list.splice(i, 0, entry);
}

/**
 * The state of one correlation rule: windows per group, in event time.
 *
 * - `event_count` / `value_count` with only lower bounds (`gte: 5`) use a
 *   sliding window and fire as soon as the count is met.
 *   With an upper bound (`lt`, `lte`, `eq`) the count can only be judged
 *   when the window closes: windows start at a group's first event and are
 *   judged when a later event (of any group) passes their end, or at flush.
 * - `temporal` fires when the referenced rules (all of them, or as many as
 *   the condition asks) have matched within the timespan.
 * - `temporal_ordered` additionally requires the order of `rules`.
 *
 * A group that fired stays quiet for one timespan (its matches in that time
 * are not counted again), so a burst of 500 failed logins is one alert.
 *
 * Matches may arrive out of event-time order (the pipeline's workers deliver
 * them so): a late match is placed in time among its group's entries, and a
 * sliding count, a temporal set or an ordered sequence it completes fires as
 * it would have in order. What fires in order fires the same way.
 *
 * Memory is bounded: groups expire after the timespan (event time), at most
 * `maxGroups` are kept, and each keeps at most `maxEvents` events as evidence
 * (and at most `maxEvents` entries where a count could grow without firing:
 * repeated values of a `value_count`, upper-bounded counts).
 */
export class CorrelationState {
  private readonly groups = new Map<string, Group>();
  private mark = Number.NEGATIVE_INFINITY;
  private readonly upper: boolean;
  private readonly needed: CountCondition;
  /** temporal_ordered: the stage whose completion fires. */
  private readonly lastStage: number;
  private readonly lateMs: number;
  /** Most entries a count keeps (see {@link cap}). */
  private readonly maxEntries: number;
  private readonly changed: Set<string> | undefined;
  private markChanged = false;

  constructor(
    readonly correlation: CompiledCorrelation,
    private readonly limits: CorrelationLimits,
    options: CorrelationOptions = {},
  ) {
    this.upper = hasUpperBound(correlation.condition);
    const n = correlation.rules.length;
    this.needed =
      (correlation.type === 'temporal' || correlation.type === 'temporal_ordered') &&
      Object.keys(correlation.condition).length === 0
        ? { gte: n }
        : correlation.condition;
    const needed = this.needed.gte ?? (this.needed.gt !== undefined ? this.needed.gt + 1 : n);
    this.lastStage = Math.min(n, Math.max(1, needed)) - 1;
    const lateSpans = Math.max(0, options.lateSpans ?? 0);
    this.lateMs = lateSpans > 0 ? Math.max(lateSpans * correlation.timespanMs, options.lateMinMs ?? 0) : 0;
    this.maxEntries = entryCap(correlation, this.upper, limits.maxEvents);
    if (options.trackChanges) this.changed = new Set();
  }

  /** The group-by field names to read for an input from rule `ref` (aliases resolved). */
  groupFields(ref: string): string[] {
    return this.correlation.groupBy.map((g) => this.correlation.aliases[g]?.[ref] ?? g);
  }

  /** Number of live groups (for tests and metrics). */
  get size(): number {
    return this.groups.size;
  }

  /** The latest event time offered (ms since the epoch; -Infinity before any). */
  get watermark(): number {
    return this.mark;
  }

  /** Offer a match; returns the hits it completes (possibly closed windows of other groups). */
  offer(input: CorrelationInput): CorrelationHit[] {
    const c = this.correlation;
    const hits: CorrelationHit[] = [];
    if (input.time > this.mark) {
      this.mark = input.time;
      this.markChanged = true;
      if (this.upper) this.closeWindows(hits, false);
    }
    const fields = this.groupFields(input.ref);
    const values: Record<string, string> = {};
    const parts: string[] = [];
    for (let i = 0; i < fields.length; i++) {
      const v = input.value(fields[i]!);
      // Events without a group-by value cannot be grouped with anything.
      if (v === undefined) return hits;
      values[c.groupBy[i]!] = v;
      parts.push(v);
    }
    const key = parts.join('\u0000');
    let g = this.groups.get(key);
    if (g) this.groups.delete(key);
    else {
      g = {
        key,
        values,
        last: input.time,
        entries: [],
        dropped: 0,
        windowStart: input.time,
        latest: new Map(),
        stages: [],
        quietUntil: Number.NEGATIVE_INFINITY,
      };
      this.evictIfFull();
    }
    const late = input.time < g.last;
    g.last = Math.max(g.last, input.time);
    this.groups.set(key, g);
    this.changed?.add(key);
    if (input.time < g.quietUntil) return hits;
    const before = hits.length;
    switch (c.type) {
      case 'event_count':
      case 'value_count':
        this.offerCount(g, input, late, hits);
        break;
      case 'temporal':
        this.offerTemporal(g, input, late, hits);
        break;
      case 'temporal_ordered':
        this.offerOrdered(g, input, late, hits);
        break;
    }
    if (hits.length > before && !this.upper) this.quiet(g, hits[hits.length - 1]!.time);
    return hits;
  }

  /** After a hit at `time`: the group's matches until one timespan later are not counted again. */
  private quiet(g: Group, time: number): void {
    g.quietUntil = time + this.correlation.timespanMs;
    g.entries = g.entries.filter((e) => e.time >= g.quietUntil);
    if (this.correlation.type === 'temporal') g.latest = latestByRef(g.entries);
  }

  private offerCount(g: Group, input: CorrelationInput, late: boolean, hits: CorrelationHit[]): void {
    const c = this.correlation;
    const entry: Entry = { time: input.time, events: input.events };
    if (c.type === 'value_count') {
      const v = input.value(c.valueField!);
      if (v === undefined) return;
      entry.value = v;
    }
    if (this.upper) {
      if (input.time > g.windowStart + c.timespanMs) {
        this.judgeWindow(g, hits);
        g.entries = [];
        g.dropped = 0;
        g.windowStart = input.time;
      }
      insertByTime(g.entries, entry);
      this.cap(g);
      return;
    }
    insertByTime(g.entries, entry);
    // Keep what a window could still use: one timespan back from the newest entry (plus the lateness allowed).
    const keepFrom = g.last - c.timespanMs - this.lateMs;
    let drop = 0;
    while (drop < g.entries.length && g.entries[drop]!.time < keepFrom) drop++;
    if (drop > 0) g.entries.splice(0, drop);
    this.cap(g);
    if (!late) {
      // In order, only the window ending at the new entry can newly meet the condition.
      const from = input.time - c.timespanMs;
      let i = 0;
      while (i < g.entries.length && g.entries[i]!.time < from) i++;
      const window = g.entries.slice(i);
      const n = this.count(window);
      if (meets(c.condition, n)) hits.push(this.hit(g, window, n, input.time));
      return;
    }
    // A late entry can complete any window that contains it: take the earliest that meets the condition.
    let i = 0;
    for (let j = 0; j < g.entries.length; j++) {
      const end = g.entries[j]!.time;
      while (g.entries[i]!.time < end - c.timespanMs) i++;
      if (end < input.time) continue;
      if (end - c.timespanMs > input.time) break;
      const window = g.entries.slice(i, j + 1);
      const n = this.count(window);
      if (meets(c.condition, n)) {
        hits.push(this.hit(g, window, n, end));
        return;
      }
    }
  }

  /**
   * Bound the entries of a count that could grow without firing. Past the
   * cap, the oldest entry whose value recurs later goes first (no window
   * ending at or after the newest entry then counts fewer distinct values),
   * else the oldest; an upper-bounded event count keeps counting what it drops.
   * The cap never changes a judgement: a lower-bounded value count keeps
   * twice its threshold of distinct values (it would have fired), an
   * upper-bounded one as many as prove the bound exceeded.
   */
  private cap(g: Group): void {
    while (g.entries.length > this.maxEntries) {
      let at = 0;
      if (this.correlation.type === 'value_count') {
        const later = new Set<string | undefined>();
        for (let i = g.entries.length - 1; i >= 0; i--) {
          const v = g.entries[i]!.value;
          if (later.has(v)) {
            at = i;
            break;
          }
          later.add(v);
        }
      } else if (this.upper) g.dropped++;
      g.entries.splice(at, 1);
    }
  }

  private count(entries: Entry[], dropped = 0): number {
    if (this.correlation.type !== 'value_count') return entries.length + dropped;
    const distinct = new Set<string>();
    for (const e of entries) if (e.value !== undefined) distinct.add(e.value);
    return distinct.size;
  }

  private judgeWindow(g: Group, hits: CorrelationHit[]): void {
    // Only counts have windows to judge (temporal groups keep entries for late matches, not for a count).
    if (this.correlation.type !== 'event_count' && this.correlation.type !== 'value_count') return;
    if (g.entries.length === 0) return;
    const n = this.count(g.entries, g.dropped);
    if (meets(this.correlation.condition, n))
      hits.push(this.hit(g, g.entries, n, g.entries[g.entries.length - 1]!.time));
  }

  private offerTemporal(g: Group, input: CorrelationInput, late: boolean, hits: CorrelationHit[]): void {
    const c = this.correlation;
    this.keepEntry(g, { time: input.time, events: input.events, ref: input.ref });
    if (!late) {
      g.latest.set(input.ref, { time: input.time, events: input.events });
      const from = input.time - c.timespanMs;
      const live: Entry[] = [];
      for (const ref of c.rules) {
        const e = g.latest.get(ref);
        if (e && e.time >= from) live.push(e);
      }
      if (meets(this.needed, live.length)) {
        hits.push(
          this.hit(
            g,
            live.sort((a, b) => a.time - b.time),
            live.length,
            input.time,
          ),
        );
        g.latest.clear();
      }
      return;
    }
    // A late match can complete any window that contains it: the earliest whose latest match per rule meets the condition.
    let i = 0;
    for (let j = 0; j < g.entries.length; j++) {
      const end = g.entries[j]!.time;
      while (g.entries[i]!.time < end - c.timespanMs) i++;
      if (end < input.time) continue;
      if (end - c.timespanMs > input.time) break;
      const latest = latestByRef(g.entries.slice(i, j + 1));
      if (meets(this.needed, latest.size)) {
        const live = [...latest.values()].sort((a, b) => a.time - b.time);
        hits.push(this.hit(g, live, live.length, end));
        g.latest.clear();
        return;
      }
    }
    g.latest = latestByRef(g.entries);
  }

  /** Keep a match of a temporal group, in event time, for a late one to be judged with (bounded in time and number). */
  private keepEntry(g: Group, entry: Entry): void {
    insertByTime(g.entries, entry);
    const keepFrom = g.last - this.correlation.timespanMs - this.lateMs;
    let drop = 0;
    while (drop < g.entries.length && g.entries[drop]!.time < keepFrom) drop++;
    if (drop > 0) g.entries.splice(0, drop);
    if (g.entries.length > Math.max(1, this.limits.maxEvents)) g.entries.shift();
  }

  private offerOrdered(g: Group, input: CorrelationInput, late: boolean, hits: CorrelationHit[]): void {
    this.keepEntry(g, { time: input.time, events: input.events, ref: input.ref });
    if (!late) {
      const hit = this.stepOrdered(g, input.ref, input.time, input.events);
      if (hit) hits.push(hit);
      return;
    }
    // A late match changes the order: replay the stages over the entries in event time.
    g.stages = [];
    for (const e of g.entries) {
      const hit = this.stepOrdered(g, e.ref!, e.time, e.events);
      if (hit) {
        hits.push(hit);
        return;
      }
    }
  }

  /** Advance the stages of a `temporal_ordered` group by one match; the hit when it completes the sequence. */
  private stepOrdered(
    g: Group,
    ref: string,
    time: number,
    events: readonly NormalisedEvent[],
  ): CorrelationHit | undefined {
    const c = this.correlation;
    const from = time - c.timespanMs;
    const last = this.lastStage;
    // A rule may appear at several positions; walk from the back so one event advances one stage.
    for (let i = c.rules.length - 1; i >= 0; i--) {
      if (c.rules[i] !== ref) continue;
      if (i === 0) {
        // A later start is never worse: it expires later.
        g.stages[0] = { start: time, events: [...events] };
      } else {
        const prev = g.stages[i - 1];
        if (!prev || prev.start < from) continue;
        const cur = g.stages[i];
        if (!cur || cur.start <= prev.start) {
          g.stages[i] = {
            start: prev.start,
            events: capEvents([...prev.events, ...events], this.limits.maxEvents),
          };
        }
      }
      const done = g.stages[last];
      if (i === last && done && done.start >= from) {
        g.stages = [];
        return { correlation: c, time, events: done.events, group: g.values, count: last + 1 };
      }
    }
    return undefined;
  }

  private hit(g: Group, entries: Entry[], count: number, time: number): CorrelationHit {
    const events: NormalisedEvent[] = [];
    for (const e of entries) for (const ev of e.events) events.push(ev);
    return {
      correlation: this.correlation,
      time,
      events: capEvents(events, this.limits.maxEvents),
      group: g.values,
      count,
    };
  }

  private evictIfFull(): void {
    if (this.groups.size < this.limits.maxGroups) return;
    const oldest = this.groups.keys().next();
    if (!oldest.done) this.remove(oldest.value);
  }

  private remove(key: string): void {
    this.groups.delete(key);
    this.changed?.add(key);
  }

  /**
   * Drop groups whose window has passed (in event time); with `all`, judge
   * every open window (end of a scan). Returns hits of windows judged.
   */
  expire(all = false): CorrelationHit[] {
    const hits: CorrelationHit[] = [];
    if (this.upper) this.closeWindows(hits, all);
    const limit = this.mark - this.correlation.timespanMs - this.lateMs;
    for (const [k, g] of this.groups) if (all || g.last < limit) this.remove(k);
    return hits;
  }

  private closeWindows(hits: CorrelationHit[], all: boolean): void {
    const span = this.correlation.timespanMs;
    for (const [k, g] of this.groups) {
      if (all || g.windowStart + span < this.mark) {
        this.judgeWindow(g, hits);
        this.remove(k);
      }
    }
  }

  // ------------------------------------------------------------ persistence

  /**
   * The groups changed and removed since the last call, and whether the
   * watermark moved (only with `trackChanges`).
   *
   * @example
   * const { upserts, deletes } = state.takeChanges();
   */
  takeChanges(): CorrelationChanges {
    const out: CorrelationChanges = { upserts: [], deletes: [], watermark: this.markChanged };
    this.markChanged = false;
    if (!this.changed) return out;
    for (const key of this.changed) {
      const g = this.groups.get(key);
      if (g) out.upserts.push({ key, last: g.last, state: exportGroup(g) });
      else out.deletes.push(key);
    }
    this.changed.clear();
    return out;
  }

  /** Put a group back as it was saved (it becomes the most recently updated); a state of another format is dropped. */
  restoreGroup(key: string, state: GroupState): void {
    this.groups.delete(key);
    if (state?.f !== 1) return;
    this.groups.set(key, importGroup(key, state));
  }

  /** Forget a group (another process removed it). */
  dropGroup(key: string): void {
    this.groups.delete(key);
  }

  /** Set the watermark as it was saved. */
  restoreWatermark(time: number): void {
    this.mark = time;
  }

  /** Forget every group, the watermark and the changes not yet taken. */
  clear(): void {
    this.groups.clear();
    this.mark = Number.NEGATIVE_INFINITY;
    this.markChanged = false;
    this.changed?.clear();
  }
}

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

function exportGroup(g: Group): GroupState {
  const entries = g.entries.map((e) => {
    const out: GroupState['entries'][number] = { t: e.time, e: e.events };
    if (e.value !== undefined) out.v = e.value;
    if (e.ref !== undefined) out.r = e.ref;
    return out;
  });
  const state: GroupState = {
    f: 1,
    values: g.values,
    last: g.last,
    entries,
    windowStart: g.windowStart,
    latest: [...g.latest].map(([ref, e]) => [ref, { t: e.time, e: e.events }]),
    stages: g.stages.map((s) => (s ? { s: s.start, e: s.events } : null)),
    quietUntil: finite(g.quietUntil),
  };
  if (g.dropped > 0) state.dropped = g.dropped;
  return state;
}

function importGroup(key: string, s: GroupState): Group {
  return {
    key,
    values: s.values,
    last: s.last,
    entries: s.entries.map((e) => {
      const out: Entry = { time: e.t, events: e.e };
      if (e.v !== undefined) out.value = e.v;
      if (e.r !== undefined) out.ref = e.r;
      return out;
    }),
    dropped: s.dropped ?? 0,
    windowStart: s.windowStart,
    latest: new Map(s.latest.map(([ref, e]) => [ref, { time: e.t, events: e.e }])),
    stages: s.stages.map((x) => (x ? { start: x.s, events: x.e } : undefined)),
    quietUntil: s.quietUntil ?? Number.NEGATIVE_INFINITY,
  };
}
