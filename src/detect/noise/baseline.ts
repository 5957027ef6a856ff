/**
 * First-seen baselines of cloud calls and the rarity of a detection's call.
 *
 * Per identity, the baselines remember each API, region and user-agent
 * family it has used: when first and last, and how many calls. A batch of
 * events becomes one {@link BaselineFeed} (what the batch adds); a
 * {@link BaselineView} reads stored rows and the batch's feeds together and
 * says, of any call in the batch, how rare it was *before* it happened, in
 * event time. The pipeline's correlate stage keeps the rows in the store
 * (one transaction per batch under its lock, so every worker shares one
 * baseline); the evaluations keep them in memory ({@link MemoryBaselines}).
 */
import { fingerprint } from '../../ids.ts';
import type { Rarity } from '../../schema/alert.ts';
import { SEVERITY_ORDER, type SeverityName, severityRank } from '../../schema/common.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import type { AlertCandidate } from '../types.ts';
import { type CloudCall, cloudCall, DIMENSIONS, type Dimension } from './observe.ts';

/** The settings of noise control (`detect.noise`, in ms where they are times). */
export interface NoiseSettings {
  enabled: boolean;
  /** How long the baselines watch before rarity moves a level: from their first observation. */
  learning_window_ms: number;
  /** A call is familiar when every part of it was seen on at least this many earlier calls of the identity. */
  familiar_after_calls: number;
  /** Rarity raises a level at most to this one. */
  raise_limit: SeverityName;
  /** What was last seen longer ago than this (event time, from the newest observation) is forgotten. */
  forget_after_ms: number;
  /** The engines whose detections rarity moves (rules; models and upstream verdicts keep their own). */
  engines: readonly string[];
}

/** The row that marks when the baselines began (identity '', dimension 'baseline'). */
const START: Pick<BaselineRow, 'identity' | 'dim' | 'value'> = { identity: '', dim: 'baseline', value: '' };

/** One remembered part of an identity's calls. */
export interface BaselineRow {
  identity: string;
  dim: Dimension | 'baseline';
  value: string;
  /** Event time, ms since the epoch. */
  first: number;
  last: number;
  count: number;
}

/** What one batch adds to a row, with its earliest times (to count calls before a time within the batch). */
export interface Observation extends BaselineRow {
  /** The batch's earliest times of this row, ascending, at most {@link EARLIEST_KEPT}. */
  earliest: number[];
}

/** Earliest times kept per row and batch: rarity counts earlier calls exactly up to this many within a batch. */
export const EARLIEST_KEPT = 16;

/** Most distinct values of one part per identity and batch (a batch spraying user agents is cut there). */
const MAX_VALUES_PER_BATCH = 256;

/**
 * What a batch of events adds to the baselines: the detect stage reports it
 * beside its candidates (the stage keeps no state), and the correlate stage
 * applies it, once (`id` keys it in the stage's inbox).
 */
export interface BaselineFeed {
  readonly kind: 'baseline_feed';
  /** sha256 of the batch's event ids: a batch delivered again is recognised. */
  id: string;
  observations: Observation[];
}

/** Whether a detect output is a baseline feed. */
export function isBaselineFeed(item: unknown): item is BaselineFeed {
  return (item as Partial<BaselineFeed> | null)?.kind === 'baseline_feed';
}

export function rowKey(r: Pick<BaselineRow, 'identity' | 'dim' | 'value'>): string {
  return `${r.dim}\u0000${r.identity}\u0000${r.value}`;
}

function partOf(call: CloudCall, dim: Dimension): string {
  return dim === 'identity' ? '' : call[dim];
}

/**
 * The feed of a batch: every cloud call's identity, API, region and user
 * agent, grouped, with the times the rarity of calls in the same batch
 * needs. Undefined when the batch holds no cloud call.
 *
 * @example
 * const feed = observeBatch(events); // { kind: 'baseline_feed', id, observations: [...] }
 */
export function observeBatch(events: readonly NormalisedEvent[]): BaselineFeed | undefined {
  const rows = new Map<string, Observation>();
  const perIdentity = new Map<string, number>();
  const add = (key: Pick<BaselineRow, 'identity' | 'dim' | 'value'>, t: number) => {
    const k = rowKey(key);
    let o = rows.get(k);
    if (!o) {
      if (key.dim !== 'identity' && key.dim !== 'baseline') {
        const pk = `${key.dim}\u0000${key.identity}`;
        const n = perIdentity.get(pk) ?? 0;
        if (n >= MAX_VALUES_PER_BATCH) return;
        perIdentity.set(pk, n + 1);
      }
      o = { ...key, first: t, last: t, count: 0, earliest: [] };
      rows.set(k, o);
    }
    o.count++;
    o.first = Math.min(o.first, t);
    o.last = Math.max(o.last, t);
    if (o.earliest.length < EARLIEST_KEPT || t < o.earliest[o.earliest.length - 1]!) {
      const at = o.earliest.findIndex((x) => x > t);
      o.earliest.splice(at < 0 ? o.earliest.length : at, 0, t);
      if (o.earliest.length > EARLIEST_KEPT) o.earliest.pop();
    }
  };
  const ids: string[] = [];
  for (const e of events) {
    const call = cloudCall(e);
    const t = Date.parse(e.time);
    if (!call || !Number.isFinite(t)) continue;
    ids.push(e.id);
    add(START, t);
    for (const dim of DIMENSIONS) add({ identity: call.identity, dim, value: partOf(call, dim) }, t);
  }
  if (ids.length === 0) return undefined;
  return {
    kind: 'baseline_feed',
    id: fingerprint('baseline', ...ids.sort()),
    observations: [...rows.values()],
  };
}

/** The rows a view needs: those of the feeds, and those of the candidates' calls. */
export function keysOf(
  feeds: readonly BaselineFeed[],
  candidates: readonly AlertCandidate[],
): Array<Pick<BaselineRow, 'identity' | 'dim' | 'value'>> {
  const keys = new Map<string, Pick<BaselineRow, 'identity' | 'dim' | 'value'>>([[rowKey(START), START]]);
  for (const f of feeds)
    for (const o of f.observations) keys.set(rowKey(o), { identity: o.identity, dim: o.dim, value: o.value });
  for (const c of candidates)
    for (const e of c.events) {
      const call = cloudCall(e);
      if (!call) continue;
      for (const dim of DIMENSIONS) {
        const k = { identity: call.identity, dim, value: partOf(call, dim) };
        keys.set(rowKey(k), k);
      }
    }
  return [...keys.values()];
}

/** A call's rarity and whether its identity's own history spans the learning window. */
interface Assessment {
  rarity: Rarity;
  /** The identity was first seen at least a learning window before the call. */
  mature: boolean;
}

/**
 * Stored rows and the feeds of a batch, read together. `assess` counts, for
 * each part of a call, the identity's calls before it: the stored count when
 * the row was first seen before the call (rows of earlier batches; a late
 * event counts them all), plus the batch's own earlier calls.
 */
export class BaselineView {
  private readonly stored = new Map<string, BaselineRow>();
  private readonly batch = new Map<string, Observation>();

  constructor(
    rows: readonly BaselineRow[],
    feeds: readonly BaselineFeed[],
    private readonly settings: NoiseSettings,
  ) {
    for (const r of rows) this.stored.set(rowKey(r), r);
    for (const f of feeds)
      for (const o of f.observations) {
        const k = rowKey(o);
        const prev = this.batch.get(k);
        if (!prev) this.batch.set(k, { ...o, earliest: [...o.earliest] });
        else {
          prev.count += o.count;
          prev.first = Math.min(prev.first, o.first);
          prev.last = Math.max(prev.last, o.last);
          prev.earliest = [...prev.earliest, ...o.earliest].sort((a, b) => a - b).slice(0, EARLIEST_KEPT);
        }
      }
  }

  private before(key: Pick<BaselineRow, 'identity' | 'dim' | 'value'>, t: number): number {
    const k = rowKey(key);
    const s = this.stored.get(k);
    const b = this.batch.get(k);
    let n = s && s.first < t ? s.count : 0;
    if (b) for (const x of b.earliest) if (x < t) n++;
    return n;
  }

  private firstOf(key: Pick<BaselineRow, 'identity' | 'dim' | 'value'>): number | undefined {
    const k = rowKey(key);
    const times = [this.stored.get(k)?.first, this.batch.get(k)?.first].filter(
      (x): x is number => x !== undefined,
    );
    return times.length ? Math.min(...times) : undefined;
  }

  /** The rarity of one event's call, or undefined when it is not a cloud call. */
  assess(e: NormalisedEvent): Assessment | undefined {
    const call = cloudCall(e);
    const t = Date.parse(e.time);
    if (!call || !Number.isFinite(t)) return undefined;
    const counts = DIMENSIONS.map((dim) => ({
      dim,
      n: this.before({ identity: call.identity, dim, value: partOf(call, dim) }, t),
    }));
    const least = Math.min(...counts.map((c) => c.n));
    const start = this.firstOf(START);
    const identityFirst = this.firstOf({ identity: call.identity, dim: 'identity', value: '' });
    const W = this.settings.learning_window_ms;
    const learning = start === undefined || t - start < W;
    const verdict: Rarity['verdict'] = learning
      ? 'learning'
      : least === 0
        ? 'new'
        : least >= this.settings.familiar_after_calls
          ? 'familiar'
          : 'seen';
    return {
      rarity: {
        verdict,
        score: Math.round((1 / (1 + least)) * 1000) / 1000,
        first_seen: counts.filter((c) => c.n === 0).map((c) => c.dim),
        identity: call.identity,
      },
      mature: identityFirst !== undefined && identityFirst < t && t - identityFirst >= W,
    };
  }

  /** The stored rows after the batch: changed and new rows only. */
  changes(): BaselineRow[] {
    const out: BaselineRow[] = [];
    for (const [k, o] of this.batch) {
      const s = this.stored.get(k);
      out.push({
        identity: o.identity,
        dim: o.dim,
        value: o.value,
        first: s ? Math.min(s.first, o.first) : o.first,
        last: s ? Math.max(s.last, o.last) : o.last,
        count: (s?.count ?? 0) + o.count,
      });
    }
    return out;
  }
}

function step(level: SeverityName, by: number): SeverityName {
  const i = Math.max(0, Math.min(SEVERITY_ORDER.length - 1, severityRank(level) + by));
  return SEVERITY_ORDER[i]!;
}

/** The order in which an alert's calls speak for it: the most novel call decides. */
const NOVELTY: Record<Rarity['verdict'], number> = { learning: 3, new: 2, seen: 1, familiar: 0 };

/**
 * Move the levels of candidates by the rarity of their calls, in place: a
 * call first seen for an identity whose own history spans the learning
 * window raises its detection one level (up to `raise_limit`); a familiar
 * call lowers it one level; while the baselines learn, nothing moves. An
 * alert over several calls is as rare as its most novel call. Each moved
 * detection records its rule's level, the reason and the rarity.
 *
 * @example
 * adjustCandidates(candidates, new BaselineView(rows, [feed], settings), settings);
 */
export function adjustCandidates(
  candidates: readonly AlertCandidate[],
  view: BaselineView,
  settings: NoiseSettings,
): { raised: number; lowered: number } {
  const moved = { raised: 0, lowered: 0 };
  for (const c of candidates) {
    const d = c.detection;
    if (!settings.engines.includes(d.engine)) continue;
    let pick: Assessment | undefined;
    for (const e of c.events) {
      const a = view.assess(e);
      if (!a) continue;
      if (!pick || NOVELTY[a.rarity.verdict] > NOVELTY[pick.rarity.verdict]) pick = a;
    }
    if (!pick) continue;
    d.rarity = pick.rarity;
    const { verdict, first_seen, identity, score } = pick.rarity;
    let to = d.level;
    let reason: string | undefined;
    if (verdict === 'new' && pick.mature && severityRank(d.level) < severityRank(settings.raise_limit)) {
      to = step(d.level, 1);
      reason = `rarity ${score}: ${first_seen.join(', ')} first seen for ${identity}, which the baselines have watched for the learning window; raised from ${d.level}`;
    } else if (verdict === 'familiar' && d.level !== 'informational') {
      to = step(d.level, -1);
      reason = `rarity ${score}: every part of the call seen on ${settings.familiar_after_calls === 1 ? 'an earlier call' : `at least ${settings.familiar_after_calls} earlier calls`} of ${identity}; lowered from ${d.level}`;
    }
    if (to === d.level || !reason) continue;
    if (severityRank(to) > severityRank(d.level)) moved.raised++;
    else moved.lowered++;
    d.rule_level ??= d.level;
    d.level_reasons = [...(d.level_reasons ?? []), reason];
    d.level = to;
  }
  return moved;
}

/**
 * The baselines in memory, for the offline paths (evaluations, replay):
 * the same view and adjustments as the pipeline's, over a map.
 *
 * @example
 * const noise = new MemoryBaselines(settings);
 * noise.process(batchEvents, batchCandidates); // moves their levels, then remembers the batch
 */
export class MemoryBaselines {
  private readonly rows = new Map<string, BaselineRow>();
  constructor(private readonly settings: NoiseSettings) {}

  /** Judge the candidates of a batch against what came before, then remember the batch: how many levels moved. */
  process(
    events: readonly NormalisedEvent[],
    candidates: readonly AlertCandidate[],
  ): { raised: number; lowered: number } {
    const feed = observeBatch(events);
    const feeds = feed ? [feed] : [];
    const stored = keysOf(feeds, candidates).flatMap((k) => this.rows.get(rowKey(k)) ?? []);
    const view = new BaselineView(stored, feeds, this.settings);
    const moved = adjustCandidates(candidates, view, this.settings);
    for (const r of view.changes()) this.rows.set(rowKey(r), r);
    return moved;
  }

  get size(): number {
    return this.rows.size;
  }
}
