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
}

interface Group {
  key: string;
  values: Record<string, string>;
  last: number;
  /** event_count / value_count: entries in the window, oldest first. */
  entries: Entry[];
  /** Start of the tumbling window (conditions with an upper bound). */
  windowStart: number;
  /** temporal: latest entry per referenced rule. */
  latest: Map<string, Entry>;
  /** temporal_ordered: per stage, the start time of the best in-order prefix ending there, and its evidence. */
  stages: Array<{ start: number; events: NormalisedEvent[] } | undefined>;
  /** After a group fires it stays quiet for one timespan, so a burst gives one alert, not one per event. */
  quietUntil: number;
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

function capEvents(list: NormalisedEvent[], max: number): NormalisedEvent[] {
  return list.length > max ? list.slice(list.length - max) : list;
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
 * Memory is bounded: groups expire after the timespan (event time), at most
 * `maxGroups` are kept, and each keeps at most `maxEvents` events.
 */
export class CorrelationState {
  private readonly groups = new Map<string, Group>();
  private watermark = Number.NEGATIVE_INFINITY;
  private readonly upper: boolean;
  private readonly needed: CountCondition;

  constructor(
    readonly correlation: CompiledCorrelation,
    private readonly limits: CorrelationLimits,
  ) {
    this.upper = hasUpperBound(correlation.condition);
    const n = correlation.rules.length;
    this.needed =
      (correlation.type === 'temporal' || correlation.type === 'temporal_ordered') &&
      Object.keys(correlation.condition).length === 0
        ? { gte: n }
        : correlation.condition;
  }

  /** The group-by field names to read for an input from rule `ref` (aliases resolved). */
  groupFields(ref: string): string[] {
    return this.correlation.groupBy.map((g) => this.correlation.aliases[g]?.[ref] ?? g);
  }

  /** Number of live groups (for tests and metrics). */
  get size(): number {
    return this.groups.size;
  }

  /** Offer a match; returns the hits it completes (possibly closed windows of other groups). */
  offer(input: CorrelationInput): CorrelationHit[] {
    const c = this.correlation;
    const hits: CorrelationHit[] = [];
    if (input.time > this.watermark) {
      this.watermark = input.time;
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
        windowStart: input.time,
        latest: new Map(),
        stages: [],
        quietUntil: Number.NEGATIVE_INFINITY,
      };
      this.evictIfFull();
    }
    g.last = Math.max(g.last, input.time);
    this.groups.set(key, g);
    if (input.time < g.quietUntil) return hits;
    const before = hits.length;
    switch (c.type) {
      case 'event_count':
      case 'value_count':
        this.offerCount(g, input, hits);
        break;
      case 'temporal':
        this.offerTemporal(g, input, hits);
        break;
      case 'temporal_ordered':
        this.offerOrdered(g, input, hits);
        break;
    }
    if (hits.length > before && !this.upper) g.quietUntil = input.time + c.timespanMs;
    return hits;
  }

  private offerCount(g: Group, input: CorrelationInput, hits: CorrelationHit[]): void {
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
        g.windowStart = input.time;
      }
      g.entries.push(entry);
      return;
    }
    g.entries.push(entry);
    const from = input.time - c.timespanMs;
    while (g.entries.length > 0 && g.entries[0]!.time < from) g.entries.shift();
    const n = this.count(g.entries);
    if (meets(c.condition, n)) {
      hits.push(this.hit(g, g.entries, n, input.time));
      g.entries = [];
    }
  }

  private count(entries: Entry[]): number {
    if (this.correlation.type !== 'value_count') return entries.length;
    const distinct = new Set<string>();
    for (const e of entries) if (e.value !== undefined) distinct.add(e.value);
    return distinct.size;
  }

  private judgeWindow(g: Group, hits: CorrelationHit[]): void {
    if (g.entries.length === 0) return;
    const n = this.count(g.entries);
    if (meets(this.correlation.condition, n))
      hits.push(this.hit(g, g.entries, n, g.entries[g.entries.length - 1]!.time));
  }

  private offerTemporal(g: Group, input: CorrelationInput, hits: CorrelationHit[]): void {
    const c = this.correlation;
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
  }

  private offerOrdered(g: Group, input: CorrelationInput, hits: CorrelationHit[]): void {
    const c = this.correlation;
    const from = input.time - c.timespanMs;
    const needed = this.needed.gte ?? (this.needed.gt !== undefined ? this.needed.gt + 1 : c.rules.length);
    const last = Math.min(c.rules.length, Math.max(1, needed)) - 1;
    // A rule may appear at several positions; walk from the back so one event advances one stage.
    for (let i = c.rules.length - 1; i >= 0; i--) {
      if (c.rules[i] !== input.ref) continue;
      if (i === 0) {
        // A later start is never worse: it expires later.
        g.stages[0] = { start: input.time, events: [...input.events] };
      } else {
        const prev = g.stages[i - 1];
        if (!prev || prev.start < from) continue;
        const cur = g.stages[i];
        if (!cur || cur.start <= prev.start) {
          g.stages[i] = {
            start: prev.start,
            events: capEvents([...prev.events, ...input.events], this.limits.maxEvents),
          };
        }
      }
      const done = g.stages[last];
      if (i === last && done && done.start >= from) {
        hits.push({
          correlation: c,
          time: input.time,
          events: done.events,
          group: g.values,
          count: last + 1,
        });
        g.stages = [];
        return;
      }
    }
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
    if (!oldest.done) this.groups.delete(oldest.value);
  }

  /**
   * Drop groups whose window has passed (in event time); with `all`, judge
   * every open window (end of a scan). Returns hits of windows judged.
   */
  expire(all = false): CorrelationHit[] {
    const hits: CorrelationHit[] = [];
    if (this.upper) this.closeWindows(hits, all);
    const limit = this.watermark - this.correlation.timespanMs;
    for (const [k, g] of this.groups) if (all || g.last < limit) this.groups.delete(k);
    return hits;
  }

  private closeWindows(hits: CorrelationHit[], all: boolean): void {
    const span = this.correlation.timespanMs;
    for (const [k, g] of this.groups) {
      if (all || g.windowStart + span < this.watermark) {
        this.judgeWindow(g, hits);
        this.groups.delete(k);
      }
    }
  }
}
