import { severityRank } from '../../schema/common.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import type {
  AlertCandidate,
  DetectionWindows,
  WindowChanges,
  WindowFeed,
  WindowGroupRow,
} from '../types.ts';
import { toCandidate } from './candidate.ts';
import {
  type CorrelationHit,
  type CorrelationLimits,
  type CorrelationOptions,
  CorrelationState,
  type GroupState,
} from './correlation.ts';
import type { SigmaMatch } from './engine.ts';
import type { CompiledCorrelation } from './ruleset.ts';

/** ISO time → ms since the epoch (0 when it does not parse). */
export function eventMs(iso: string): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : t;
}

/**
 * The correlation windows of a rule set: which correlations a rule feeds,
 * offering a match to them, chaining correlations that reference other
 * correlations, and reporting what fires. The engine's offline scan holds
 * one in memory; the pipeline's correlate stage holds one in
 * {@link SigmaWindows}, persisted.
 *
 * @example
 * const set = new CorrelationSet(ruleSet.correlations, { maxGroups: 10_000, maxEvents: 100 });
 * const out: SigmaMatch[] = [];
 * set.offer(rule.id, Date.parse(event.time), [event], (f) => values[f], out, false);
 */
export class CorrelationSet {
  readonly states: CorrelationState[] = [];
  private readonly byRef = new Map<string, CorrelationState[]>();
  private readonly byId = new Map<string, CorrelationState>();
  private readonly fieldsByRef = new Map<string, string[]>();
  private readonly idsByRef = new Map<string, string[]>();

  constructor(
    correlations: readonly CompiledCorrelation[],
    limits: CorrelationLimits,
    options: CorrelationOptions = {},
  ) {
    for (const c of correlations) {
      const st = new CorrelationState(c, limits, options);
      this.states.push(st);
      this.byId.set(c.id, st);
      for (const ref of c.rules) {
        const list = this.byRef.get(ref);
        if (list) list.push(st);
        else this.byRef.set(ref, [st]);
      }
    }
    for (const [ref, list] of this.byRef) {
      const wanted = new Set<string>();
      for (const st of list) {
        for (const f of st.groupFields(ref)) wanted.add(f);
        if (st.correlation.valueField) wanted.add(st.correlation.valueField);
      }
      this.fieldsByRef.set(ref, [...wanted]);
      this.idsByRef.set(
        ref,
        list.map((st) => st.correlation.id),
      );
    }
  }

  /** The fields a match of rule `ref` must carry for the correlations it feeds; undefined when none references it. */
  fields(ref: string): readonly string[] | undefined {
    return this.fieldsByRef.get(ref);
  }

  /** Ids of the correlations rule `ref` feeds (empty when none). */
  fed(ref: string): readonly string[] {
    return this.idsByRef.get(ref) ?? [];
  }

  /** The state of one correlation. */
  get(id: string): CorrelationState | undefined {
    return this.byId.get(id);
  }

  /**
   * Offer a match of rule `ref` to the correlations it feeds, pushing to
   * `out` what fires (a correlation that only feeds another is reported with
   * `includeSilent` alone, as its rule would be).
   */
  offer(
    ref: string,
    time: number,
    events: readonly NormalisedEvent[],
    value: (field: string) => string | undefined,
    out: SigmaMatch[],
    includeSilent: boolean,
  ): void {
    const states = this.byRef.get(ref);
    if (!states) return;
    for (const st of states) this.emit(st.offer({ ref, time, events, value }), out, includeSilent);
  }

  private emit(hits: CorrelationHit[], out: SigmaMatch[], includeSilent: boolean): void {
    for (const h of hits) {
      const c = h.correlation;
      if (c.generate || includeSilent || !this.byRef.has(c.id)) {
        out.push({
          rule: c,
          events: h.events,
          time: new Date(h.time).toISOString(),
          group: h.group,
          count: h.count,
        });
      }
      const chained = this.byRef.get(c.id);
      if (!chained) continue;
      for (const st of chained) {
        const input = { ref: c.id, time: h.time, events: h.events, value: (f: string) => h.group[f] };
        this.emit(st.offer(input), out, includeSilent);
      }
    }
  }

  /** Expire windows that have passed in event time (`all`: judge and clear every open window). */
  expire(all: boolean, includeSilent: boolean): SigmaMatch[] {
    const out: SigmaMatch[] = [];
    for (const st of this.states) this.emit(st.expire(all), out, includeSilent);
    return out;
  }

  /** Live groups across all correlations. */
  groups(): number {
    return this.states.reduce((n, s) => n + s.size, 0);
  }
}

/** The least lateness the pipeline's windows allow a match, whatever the correlation's timespan. */
export const LATE_MIN_MS = 10 * 60_000;

/**
 * The Sigma correlation windows of the pipeline, kept by the correlate
 * stage (the "sequencer"): it takes the detect stage's {@link WindowFeed}s in
 * event time, fires the correlations they complete (chained ones included)
 * as candidates at or above the minimum level, and expires windows by the
 * latest event time seen. A match may arrive after later ones and still
 * count with them if it is no more than one timespan (at least ten minutes)
 * older than the newest match of its correlation: workers deliver out of
 * order, and a batch redelivered after a crash comes back late.
 * The correlate stage saves {@link takeChanges} in the transaction of each
 * batch and {@link restore}s what another process saved, so every process
 * sees one set of windows.
 *
 * @example
 * const windows = new SigmaWindows(ruleSet.correlations, { maxGroups: 10_000, maxEvents: 100 }, 'low');
 * const candidates = windows.offer(feeds);
 */
export class SigmaWindows implements DetectionWindows {
  readonly detector = 'sigma';
  private readonly set: CorrelationSet;
  private readonly minRank: number;

  constructor(
    correlations: readonly CompiledCorrelation[],
    limits: CorrelationLimits,
    minLevel: Parameters<typeof severityRank>[0] = 'low',
  ) {
    this.set = new CorrelationSet(correlations, limits, {
      lateSpans: 1,
      lateMinMs: LATE_MIN_MS,
      trackChanges: true,
    });
    this.minRank = severityRank(minLevel);
  }

  offer(items: readonly WindowFeed[]): AlertCandidate[] {
    if (items.length === 0) return [];
    const ordered = items
      .map((feed, i) => ({ feed, time: eventMs(feed.event.time), i }))
      .sort((a, b) => a.time - b.time || a.i - b.i);
    const out: SigmaMatch[] = [];
    for (const { feed, time } of ordered) {
      const values = feed.values;
      this.set.offer(
        feed.rule_id,
        time,
        [feed.event],
        (f) => (Object.hasOwn(values, f) ? values[f] : undefined),
        out,
        false,
      );
    }
    out.push(...this.set.expire(false, false));
    const candidates: AlertCandidate[] = [];
    for (const m of out) if (severityRank(m.rule.level) >= this.minRank) candidates.push(toCandidate(m));
    return candidates;
  }

  takeChanges(): WindowChanges {
    const groups: WindowGroupRow[] = [];
    let moved = false;
    for (const st of this.set.states) {
      const ch = st.takeChanges();
      const window = st.correlation.id;
      for (const u of ch.upserts) groups.push({ window, key: u.key, last: u.last, state: u.state });
      for (const key of ch.deletes) groups.push({ window, key, last: 0, state: null });
      moved ||= ch.watermark;
    }
    return moved ? { groups, watermarks: this.watermarks() } : { groups };
  }

  private watermarks(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const st of this.set.states)
      if (Number.isFinite(st.watermark)) out[st.correlation.id] = st.watermark;
    return out;
  }

  restore(
    rows: readonly WindowGroupRow[],
    watermarks: Readonly<Record<string, number>>,
    full: boolean,
  ): void {
    if (full) for (const st of this.set.states) st.clear();
    for (const row of rows) {
      const st = this.set.get(row.window);
      // A correlation this process does not load (another rule set) is left to the processes that do.
      if (!st) continue;
      if (row.state === null || row.state === undefined) st.dropGroup(row.key);
      else st.restoreGroup(row.key, row.state as GroupState);
    }
    for (const st of this.set.states) {
      const mark = watermarks[st.correlation.id];
      if (typeof mark === 'number' && mark > st.watermark) st.restoreWatermark(mark);
    }
    // What was just restored is saved already.
    for (const st of this.set.states) st.takeChanges();
  }

  /** Live groups across all correlations (tests, metrics). */
  groups(): number {
    return this.set.groups();
  }
}
