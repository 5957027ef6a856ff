import { ATTACK_DOMAINS, type AttackDomain, type AttackKnowledge, domainOf } from '../attack/model.ts';
import { TopK } from '../index/topk.ts';
import type { SnapshotReader, SnapshotWriter, StringTable } from '../snapshot/format.ts';
import { tokenize } from '../text/tokenize.ts';
import type { Passage, PassageKind } from './corpus.ts';
import { centroid, InvertedVectors, SparseRows, type SparseVector, TfidfSpace } from './sparse.ts';

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

/** The passages' kinds, in the order their codes are stored. */
const PASSAGE_KINDS: readonly PassageKind[] = ['name', 'description', 'detection', 'procedure', 'example'];

/** What evidence needs of the training passages: an array while fitting, string tables once read back. */
interface PassageTable {
  readonly length: number;
  kind(i: number): PassageKind;
  text(i: number): string;
  source(i: number): string;
}

function passageArray(passages: readonly Passage[]): PassageTable {
  return {
    length: passages.length,
    kind: (i) => passages[i]!.kind,
    text: (i) => passages[i]!.text,
    source: (i) => passages[i]!.source_id,
  };
}

function passageTables(kinds: Uint8Array, texts: StringTable, sources: StringTable): PassageTable {
  return {
    length: kinds.length,
    kind: (i) => PASSAGE_KINDS[kinds[i]!] ?? 'description',
    text: (i) => texts.get(i),
    source: (i) => sources.get(i),
  };
}

interface ModelParts {
  /** Each label's domain, as an index into ATTACK_DOMAINS. */
  labelDomains: Uint8Array;
  space: TfidfSpace;
  passages: PassageTable;
  /** Each passage's vector. */
  vectors: SparseRows;
  /** Each passage's technique, as an index into `labels`. */
  labelOf: Int32Array;
  labels: string[];
  names: string[];
  /** Each technique's centroid. */
  centroids: SparseRows;
  passageIndex: InvertedVectors;
  centroidIndex: InvertedVectors;
  params: MapperParams;
}

/**
 * The text→technique model: a TF-IDF space over ATT&CK's passages, a
 * nearest-neighbour vote among passages, and each technique's centroid.
 * Everything it holds is flat arrays, so a model fitted in a worker is
 * written to a snapshot ({@link writeTo}) and read back without copying.
 */
export class TechniqueMapperModel {
  private readonly labelDomains: Uint8Array;
  private readonly space: TfidfSpace;
  private readonly passages: PassageTable;
  private readonly vectors: SparseRows;
  private readonly labelOf: Int32Array;
  private readonly labels: string[];
  private readonly names: string[];
  private readonly centroids: SparseRows;
  private readonly passageIndex: InvertedVectors;
  private readonly centroidIndex: InvertedVectors;
  readonly params: MapperParams;

  private constructor(parts: ModelParts) {
    this.labelDomains = parts.labelDomains;
    this.space = parts.space;
    this.passages = parts.passages;
    this.vectors = parts.vectors;
    this.labelOf = parts.labelOf;
    this.labels = parts.labels;
    this.names = parts.names;
    this.centroids = parts.centroids;
    this.passageIndex = parts.passageIndex;
    this.centroidIndex = parts.centroidIndex;
    this.params = parts.params;
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
    const names = new Map<string, string>();
    const domains = new Map<string, number>();
    for (const t of attack.techniques.values()) {
      const parent = t.parent_id ? attack.techniques.get(t.parent_id) : undefined;
      names.set(t.id, parent ? `${parent.name}: ${t.name}` : t.name);
      domains.set(t.id, ATTACK_DOMAINS.indexOf(domainOf(t)));
    }
    const tokens = passages.map((p) => tokenize(p.text));
    // The space's weights come from Enterprise (and extra examples); Mobile and ICS passages only add their
    // own words, so a mapper that also knows them ranks Enterprise exactly as an Enterprise-only one.
    const enterprise = (i: number) => (domains.get(passages[i]!.technique_id) ?? 0) === 0;
    const space = TfidfSpace.fit(
      tokens.filter((_, i) => enterprise(i)),
      tokens.filter((_, i) => !enterprise(i)),
    );
    const vectors = tokens.map((t) => space.vectorize(t));
    const labelIds = new Map<string, number>();
    const labels: string[] = [];
    const labelOf = new Int32Array(passages.length);
    passages.forEach((p, i) => {
      let id = labelIds.get(p.technique_id);
      if (id === undefined) {
        id = labels.length;
        labelIds.set(p.technique_id, id);
        labels.push(p.technique_id);
      }
      labelOf[i] = id;
    });
    const groups: SparseVector[][] = labels.map(() => []);
    vectors.forEach((v, i) => {
      groups[labelOf[i]!]!.push(v);
    });
    const rows = SparseRows.from(vectors);
    const centroids = SparseRows.from(groups.map((g) => centroid(g)));
    const dims = space.vocabulary.size;
    return new TechniqueMapperModel({
      labelDomains: Uint8Array.from(labels, (l) => domains.get(l) ?? 0),
      space,
      passages: passageArray(passages),
      vectors: rows,
      labelOf,
      labels,
      names: labels.map((l) => names.get(l) ?? l),
      centroids,
      passageIndex: InvertedVectors.build(rows, dims),
      centroidIndex: InvertedVectors.build(centroids, dims),
      params: { ...DEFAULT_PARAMS, ...params },
    });
  }

  /** Write the model to a snapshot under `prefix`. */
  writeTo(w: SnapshotWriter, prefix: string): void {
    const n = this.passages.length;
    const kinds = new Uint8Array(n);
    const texts: string[] = new Array(n);
    const sources: string[] = new Array(n);
    for (let i = 0; i < n; i++) {
      kinds[i] = PASSAGE_KINDS.indexOf(this.passages.kind(i));
      texts[i] = this.passages.text(i);
      sources[i] = this.passages.source(i);
    }
    w.meta(`${prefix}.params`, this.params);
    w.array(`${prefix}.labelDomains`, this.labelDomains);
    this.space.writeTo(w, `${prefix}.space`);
    w.array(`${prefix}.passages.kinds`, kinds);
    w.strings(`${prefix}.passages.texts`, texts);
    w.strings(`${prefix}.passages.sources`, sources);
    this.vectors.writeTo(w, `${prefix}.vectors`);
    w.array(`${prefix}.labelOf`, this.labelOf);
    w.strings(`${prefix}.labels`, this.labels);
    w.strings(`${prefix}.names`, this.names);
    this.centroids.writeTo(w, `${prefix}.centroids`);
    this.passageIndex.writeTo(w, `${prefix}.passageIndex`);
    this.centroidIndex.writeTo(w, `${prefix}.centroidIndex`);
  }

  /** The model {@link writeTo} wrote; its arrays stay views over the snapshot. */
  static readFrom(r: SnapshotReader, prefix: string): TechniqueMapperModel {
    return new TechniqueMapperModel({
      labelDomains: r.u8(`${prefix}.labelDomains`),
      space: TfidfSpace.readFrom(r, `${prefix}.space`),
      passages: passageTables(
        r.u8(`${prefix}.passages.kinds`),
        r.strings(`${prefix}.passages.texts`),
        r.strings(`${prefix}.passages.sources`),
      ),
      vectors: SparseRows.readFrom(r, `${prefix}.vectors`),
      labelOf: r.i32(`${prefix}.labelOf`),
      labels: r.strings(`${prefix}.labels`).all(),
      names: r.strings(`${prefix}.names`).all(),
      centroids: SparseRows.readFrom(r, `${prefix}.centroids`),
      passageIndex: InvertedVectors.readFrom(r, `${prefix}.passageIndex`),
      centroidIndex: InvertedVectors.readFrom(r, `${prefix}.centroidIndex`),
      params: r.meta<MapperParams>(`${prefix}.params`),
    });
  }

  private readonly masks = new Map<string, Uint8Array | undefined>();

  private allowedLabels(domains?: ReadonlySet<AttackDomain>): Uint8Array | undefined {
    if (!domains) return undefined;
    const key = [...domains].sort().join(',');
    if (!this.masks.has(key)) {
      const mask = allowedMask(this.labelDomains, domains);
      // Every label allowed: no filtering at all (the same ranking as without domains).
      this.masks.set(key, mask.every((m) => m === 1) ? undefined : mask);
    }
    return this.masks.get(key);
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

  /** The domain of a technique the model knows (by its label), or undefined. */
  domainOf(techniqueId: string): AttackDomain | undefined {
    this.labelIndex ??= new Map(this.labels.map((l, i) => [l, i]));
    const l = this.labelIndex.get(techniqueId);
    return l === undefined ? undefined : ATTACK_DOMAINS[this.labelDomains[l]!];
  }

  private labelIndex?: Map<string, number>;

  /**
   * Ranked techniques for a text, best first, each with the passages that
   * matched. With `domains`, only techniques of those domains are
   * considered: passages of other domains neither vote nor count.
   */
  rank(
    text: string,
    topK = 5,
    params: MapperParams = this.params,
    domains?: ReadonlySet<AttackDomain>,
  ): TechniqueMatch[] {
    const q = this.space.vectorize(tokenize(text), true);
    if (q.ids.length === 0) return [];
    const allowed = this.allowedLabels(domains);
    const pool = new TopK(Math.max(EVIDENCE_POOL, params.neighbours));
    this.passageIndex.scan(q, (row, s) => {
      if (!allowed || allowed[this.labelOf[row]!]) pool.push(row, s);
    });
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
      if (allowed && !allowed[l]) return;
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
        for (const t of this.vectors.idsOf(id)) if (qpos.has(t)) set.add(t);
      }
      for (const l of seen) {
        let set = covered.get(l);
        if (!set) {
          set = new Set();
          const ids = this.centroids.idsOf(l);
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
        .map((n) => ({
          kind: this.passages.kind(n.id),
          text: this.passages.text(n.id),
          source_id: this.passages.source(n.id),
          similarity: n.score,
        })),
    }));
  }
}

/** Which labels a set of domains allows (undefined: all); cached per set of domains. */
function allowedMask(labelDomains: Uint8Array, domains: ReadonlySet<AttackDomain>): Uint8Array {
  const want = new Set([...domains].map((d) => ATTACK_DOMAINS.indexOf(d)));
  return Uint8Array.from(labelDomains, (d) => (want.has(d) ? 1 : 0));
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
