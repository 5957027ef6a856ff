import type { AttackKnowledge } from '../attack/model.ts';
import { TopK } from '../index/topk.ts';
import { tokenize } from '../text/tokenize.ts';
import type { Passage, PassageKind } from './corpus.ts';
import { centroid, InvertedVectors, type SparseVector, TfidfSpace } from './sparse.ts';

export interface MapperParams {
  /** Neighbouring passages that vote. */
  neighbours: number;
  /** Exponent on a neighbour's similarity: above 1 favours close neighbours. */
  power: number;
  /** Weight of the neighbour vote against the similarity to the technique's centroid (0–1). */
  alpha: number;
  /** Exponent on query coverage (the share of the text's weight the technique's passages contain); 0 ignores coverage. */
  coverage: number;
  /** Score at or above which a technique is predicted (the decision threshold). */
  threshold: number;
  /** A technique is predicted only if its score is also at least this share of the best score (0–1). */
  relative: number;
}

export interface Evidence {
  kind: PassageKind;
  text: string;
  source_id: string;
  similarity: number;
}

export interface TechniqueMatch {
  technique_id: string;
  name: string;
  score: number;
  /** Share of the text's (tf-idf) weight found in the technique's matching passages, 0–1. */
  coverage: number;
  evidence: Evidence[];
}

/**
 * Chosen on development data only (the dev split of TRAM2, grouped by
 * report; never its test split, never AnnoCTR): the ranking parameters by
 * top-1 and recall@5; the decision by micro-F1 over the dev runs with and
 * without TRAM2 training (`aisoc eval attack-mapping --split dev --tune`).
 * Micro-F1 is flat between thresholds 0.05 and 0.08 (dev optimum 0.05 with
 * relative 0.9, mean micro-F1 0.681); 0.08 with 0.8 loses under half a point
 * there and tags fewer sentences that have nothing to do with ATT&CK (7 of 14
 * such sentences written for the purpose, against 9 at 0.06), and keeps a
 * close second technique, which alerts often have.
 */
export const DEFAULT_PARAMS: MapperParams = {
  neighbours: 40,
  power: 3,
  alpha: 0.85,
  coverage: 0.5,
  threshold: 0.08,
  relative: 0.8,
};

const EVIDENCE_POOL = 120;
const EVIDENCE_PER_TECHNIQUE = 3;

/**
 * The text→technique model: a TF-IDF space over ATT&CK's passages, a
 * nearest-neighbour vote among passages, and each technique's centroid.
 */
export class TechniqueMapperModel {
  private readonly labelOf: Int32Array;
  private readonly labels: string[];
  private readonly names: string[];
  private readonly passageIndex: InvertedVectors;
  private readonly centroidIndex: InvertedVectors;
  private readonly vectors: readonly SparseVector[];
  private readonly centroids: SparseVector[];

  constructor(
    private readonly space: TfidfSpace,
    private readonly passages: readonly Passage[],
    vectors: readonly SparseVector[],
    names: ReadonlyMap<string, string>,
    readonly params: MapperParams,
  ) {
    const labelIds = new Map<string, number>();
    this.labels = [];
    this.labelOf = new Int32Array(passages.length);
    passages.forEach((p, i) => {
      let id = labelIds.get(p.technique_id);
      if (id === undefined) {
        id = this.labels.length;
        labelIds.set(p.technique_id, id);
        this.labels.push(p.technique_id);
      }
      this.labelOf[i] = id;
    });
    this.names = this.labels.map((l) => names.get(l) ?? l);
    this.vectors = vectors;
    this.passageIndex = new InvertedVectors(vectors, space.vocabulary.size);
    const groups: SparseVector[][] = this.labels.map(() => []);
    vectors.forEach((v, i) => {
      groups[this.labelOf[i]!]!.push(v);
    });
    this.centroids = groups.map((g) => centroid(g));
    this.centroidIndex = new InvertedVectors(this.centroids, space.vocabulary.size);
  }

  /**
   * Fit on passages (see `attackPassages`).
   *
   * @example const model = TechniqueMapperModel.fit(attackPassages(attack), attack);
   */
  static fit(
    passages: readonly Passage[],
    attack: Pick<AttackKnowledge, 'techniques'>,
    params: Partial<MapperParams> = {},
  ): TechniqueMapperModel {
    const tokens = passages.map((p) => tokenize(p.text));
    const space = TfidfSpace.fit(tokens);
    return TechniqueMapperModel.fromVectors(
      space,
      passages,
      tokens.map((t) => space.vectorize(t)),
      attack,
      params,
    );
  }

  /**
   * Fit in slices, awaiting `pause()` between them, so a server fitting at
   * start-up keeps answering requests.
   */
  static async fitAsync(
    passages: readonly Passage[],
    attack: Pick<AttackKnowledge, 'techniques'>,
    params: Partial<MapperParams>,
    pause: () => Promise<void>,
  ): Promise<TechniqueMapperModel> {
    const tokens: string[][] = [];
    for (let i = 0; i < passages.length; i++) {
      tokens.push(tokenize(passages[i]!.text));
      if (i % 1000 === 999) await pause();
    }
    const space = TfidfSpace.fit(tokens);
    await pause();
    const vectors: SparseVector[] = [];
    for (let i = 0; i < tokens.length; i++) {
      vectors.push(space.vectorize(tokens[i]!));
      if (i % 2000 === 1999) await pause();
    }
    return TechniqueMapperModel.fromVectors(space, passages, vectors, attack, params);
  }

  private static fromVectors(
    space: TfidfSpace,
    passages: readonly Passage[],
    vectors: readonly SparseVector[],
    attack: Pick<AttackKnowledge, 'techniques'>,
    params: Partial<MapperParams>,
  ): TechniqueMapperModel {
    const names = new Map<string, string>();
    for (const t of attack.techniques.values()) {
      const parent = t.parent_id ? attack.techniques.get(t.parent_id) : undefined;
      names.set(t.id, parent ? `${parent.name}: ${t.name}` : t.name);
    }
    return new TechniqueMapperModel(space, passages, vectors, names, { ...DEFAULT_PARAMS, ...params });
  }

  get passageCount(): number {
    return this.passages.length;
  }

  /** Techniques the model can predict (those with at least one passage). */
  get techniqueCount(): number {
    return this.labels.length;
  }

  /**
   * The decision: which of a ranking are predicted. A technique is predicted
   * when its score reaches the threshold and is not far below the best one.
   */
  decide(
    ranked: readonly TechniqueMatch[],
    params: Pick<MapperParams, 'threshold' | 'relative'> = this.params,
  ) {
    const best = ranked[0]?.score ?? 0;
    return ranked.filter((r) => r.score >= params.threshold && r.score >= params.relative * best);
  }

  /** Ranked techniques for a text, best first, each with the passages that matched. */
  rank(text: string, topK = 5, params: MapperParams = this.params): TechniqueMatch[] {
    const q = this.space.vectorize(tokenize(text), true);
    if (q.ids.length === 0) return [];
    const pool = new TopK(Math.max(EVIDENCE_POOL, params.neighbours));
    this.passageIndex.scan(q, (row, s) => pool.push(row, s));
    const near = pool.sorted();
    if (near.length === 0) return [];
    const vote = new Float64Array(this.labels.length);
    let total = 0;
    for (const { id, score } of near.slice(0, params.neighbours)) {
      const w = score ** params.power;
      vote[this.labelOf[id]!]! += w;
      total += w;
    }
    const best = near[0]!.score;
    const score = new Float64Array(this.labels.length);
    const seen: number[] = [];
    if (total > 0)
      for (let l = 0; l < vote.length; l++) {
        if (vote[l]! > 0) {
          score[l] = (params.alpha * vote[l]! * best) / total;
          seen.push(l);
        }
      }
    this.centroidIndex.scan(q, (l, s) => {
      if (score[l] === 0) seen.push(l);
      score[l]! += (1 - params.alpha) * s;
    });
    const coverage = new Float64Array(this.labels.length);
    {
      // Which of the query's terms each candidate's nearest passages (or, failing those, its centroid) contain.
      const qpos = new Map<number, number>();
      for (let j = 0; j < q.ids.length; j++) qpos.set(q.ids[j]!, q.weights[j]! * q.weights[j]!);
      const covered = new Map<number, Set<number>>();
      for (const { id } of near.slice(0, params.neighbours)) {
        const l = this.labelOf[id]!;
        const set = covered.get(l) ?? new Set<number>();
        covered.set(l, set);
        for (const t of this.vectors[id]!.ids) if (qpos.has(t)) set.add(t);
      }
      for (const l of seen) {
        let set = covered.get(l);
        if (!set) {
          set = new Set();
          const ids = this.centroids[l]!.ids;
          for (const t of qpos.keys()) if (binarySearch(ids, t)) set.add(t);
        }
        let c = 0;
        for (const t of set) c += qpos.get(t)!;
        coverage[l] = Math.min(1, c);
        if (params.coverage > 0) score[l]! *= c ** params.coverage;
      }
    }
    const top = new TopK(topK);
    for (const l of seen) top.push(l, score[l]!);
    return top.sorted().map(({ id: l, score: s }) => ({
      technique_id: this.labels[l]!,
      name: this.names[l]!,
      score: s,
      coverage: coverage[l]!,
      evidence: near
        .filter((n) => this.labelOf[n.id] === l)
        .slice(0, EVIDENCE_PER_TECHNIQUE)
        .map((n) => {
          const p = this.passages[n.id]!;
          return { kind: p.kind, text: p.text, source_id: p.source_id, similarity: n.score };
        }),
    }));
  }
}

function binarySearch(sorted: Int32Array, x: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid]!;
    if (v === x) return true;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
