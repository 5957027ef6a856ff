/**
 * Noise control over stored baselines: what the correlate stage runs, in
 * the transaction of each batch under its lock, so every worker of a
 * distributed pipeline reads the baselines every other worker grew, and a
 * batch delivered again (its feed already in the stage's inbox) adds
 * nothing twice.
 */
import type { AlertCandidate } from '../types.ts';
import {
  adjustCandidates,
  type BaselineFeed,
  type BaselineRow,
  BaselineView,
  keysOf,
  type NoiseSettings,
} from './baseline.ts';
import { DIMENSIONS } from './observe.ts';

/** Where the rows live: the store's `baselines` repository (or a fake in tests). */
export interface BaselineStore {
  get(
    keys: ReadonlyArray<Pick<BaselineRow, 'identity' | 'dim' | 'value'>>,
  ): Promise<
    Array<{ identity: string; dim: string; value: string; first: number; last: number; count: number }>
  >;
  put(rows: readonly BaselineRow[]): Promise<void>;
  prune(keepMs: number, limit: number): Promise<number>;
}

/** Batches between two prunings of forgotten rows, and the most rows one pruning deletes. */
const PRUNE_EVERY = 100;
const PRUNE_LIMIT = 10_000;

const DIMS = new Set<string>([...DIMENSIONS, 'baseline']);

/** What one batch's noise control did. */
export interface NoiseOutcome {
  raised: number;
  lowered: number;
}

/**
 * @example
 * const noise = new NoiseControl(config.detect.noise);
 * await noise.apply(tx.baselines, candidates, feeds); // levels moved, baselines grown
 */
export class NoiseControl {
  private batches = 0;
  constructor(readonly settings: NoiseSettings) {}

  /**
   * Move the candidates' levels by the rarity of their calls against the
   * stored baselines and the batch's feeds, then store what the feeds add.
   */
  async apply(
    store: BaselineStore,
    candidates: readonly AlertCandidate[],
    feeds: readonly BaselineFeed[],
  ): Promise<NoiseOutcome> {
    if (!this.settings.enabled || (feeds.length === 0 && candidates.length === 0))
      return { raised: 0, lowered: 0 };
    const stored = (await store.get(keysOf(feeds, candidates))).filter((r): r is BaselineRow =>
      DIMS.has(r.dim),
    );
    const view = new BaselineView(stored, feeds, this.settings);
    const outcome = adjustCandidates(candidates, view, this.settings);
    await store.put(view.changes());
    if (++this.batches % PRUNE_EVERY === 0) await store.prune(this.settings.forget_after_ms, PRUNE_LIMIT);
    return outcome;
  }
}
