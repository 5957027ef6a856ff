import { AisocError } from '../../errors.ts';
import type { SnapshotReader, SnapshotWriter, TermTable } from '../snapshot/format.ts';

/**
 * Sparse TF-IDF vectors over the shared analyser's tokens. Term weights are
 * sublinear (1 + ln tf) times a smoothed idf, and every vector is L2-normed so
 * a dot product is a cosine similarity in [0, 1].
 */

export interface SparseVector {
  /** Term ids, ascending. */
  ids: Int32Array;
  weights: Float32Array;
}

export const EMPTY_VECTOR: SparseVector = { ids: new Int32Array(0), weights: new Float32Array(0) };

/** Term → id: a Map while fitting, a sorted term table once read from a snapshot. */
export interface Vocabulary {
  get(term: string): number | undefined;
  readonly size: number;
}

/** A vocabulary over a snapshot's sorted terms and the id of each. */
class TermVocabulary implements Vocabulary {
  constructor(
    private readonly terms: TermTable,
    private readonly ids: Int32Array,
  ) {}

  get size(): number {
    return this.ids.length;
  }

  get(term: string): number | undefined {
    const at = this.terms.find(term);
    return at < 0 ? undefined : this.ids[at];
  }
}

/**
 * Vocabulary and idf, fitted once on a corpus of token lists.
 *
 * @example
 * const v = TfidfSpace.fit([['lsass', 'dump'], ['powershell']]);
 * v.vectorize(['lsass']).weights[0] // 1 (normalised)
 */
export class TfidfSpace {
  private readonly maxIdf: number;

  private constructor(
    readonly vocabulary: Vocabulary,
    readonly idf: Float32Array,
  ) {
    let max = 1;
    for (const v of idf) if (v > max) max = v;
    this.maxIdf = max;
  }

  /**
   * Fit on `docs`. Words found only in `rare` join the vocabulary with the
   * idf of the rarest word of `docs` — the weight an unknown query word
   * counts with — so `rare` documents (ATT&CK Mobile and ICS beside
   * Enterprise) get vectors without moving any weight of the `docs` space:
   * Enterprise texts rank exactly as without them.
   */
  static fit(docs: Iterable<readonly string[]>, rare: Iterable<readonly string[]> = []): TfidfSpace {
    const df = new Map<string, number>();
    let n = 0;
    for (const doc of docs) {
      n++;
      for (const t of new Set(doc)) df.set(t, (df.get(t) ?? 0) + 1);
    }
    const extra = new Set<string>();
    for (const doc of rare) for (const t of doc) if (!df.has(t)) extra.add(t);
    const vocabulary = new Map<string, number>();
    const idf = new Float32Array(df.size + extra.size);
    let i = 0;
    let max = 1;
    for (const [t, d] of df) {
      vocabulary.set(t, i);
      // Smoothed idf (never zero), so a word present everywhere still counts a little.
      idf[i] = Math.log((n + 1) / (d + 1)) + 1;
      if (idf[i]! > max) max = idf[i]!;
      i++;
    }
    for (const t of extra) {
      vocabulary.set(t, i);
      idf[i] = max;
      i++;
    }
    return new TfidfSpace(vocabulary, idf);
  }

  /** Write to a snapshot under `prefix` (a space fitted here). */
  writeTo(w: SnapshotWriter, prefix: string): void {
    if (!(this.vocabulary instanceof Map))
      throw new AisocError(
        'AISOC_ERR_INTERNAL',
        'A vocabulary read from a snapshot cannot be written again.',
      );
    const terms = [...this.vocabulary.keys()];
    const order = w.sortedStrings(`${prefix}.terms`, terms);
    w.array(
      `${prefix}.ids`,
      Int32Array.from(order, (i) => (this.vocabulary as Map<string, number>).get(terms[i]!)!),
    );
    w.array(`${prefix}.idf`, this.idf);
  }

  static readFrom(r: SnapshotReader, prefix: string): TfidfSpace {
    return new TfidfSpace(
      new TermVocabulary(r.terms(`${prefix}.terms`), r.i32(`${prefix}.ids`)),
      r.f32(`${prefix}.idf`),
    );
  }

  /**
   * A normalised vector. Tokens outside the vocabulary cannot match anything,
   * but for a query (`countUnknown`) they still count in the norm, weighted as
   * the rarest known word: a text that is mostly words ATT&CK never uses
   * ("hello world") then scores low everywhere instead of matching its one
   * known word perfectly.
   */
  vectorize(tokens: readonly string[], countUnknown = false): SparseVector {
    const counts = new Map<number, number>();
    const unknown = new Map<string, number>();
    for (const t of tokens) {
      const id = this.vocabulary.get(t);
      if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
      else if (countUnknown) unknown.set(t, (unknown.get(t) ?? 0) + 1);
    }
    if (counts.size === 0) return EMPTY_VECTOR;
    let norm = 0;
    for (const c of unknown.values()) norm += ((1 + Math.log(c)) * this.maxIdf) ** 2;
    const ids = Int32Array.from([...counts.keys()].sort((a, b) => a - b));
    const weights = new Float32Array(ids.length);
    for (let j = 0; j < ids.length; j++) {
      const id = ids[j]!;
      const w = (1 + Math.log(counts.get(id)!)) * this.idf[id]!;
      weights[j] = w;
      norm += w * w;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < weights.length; j++) weights[j]! /= norm;
    return { ids, weights };
  }
}

/** Sum of several vectors, renormalised (a centroid direction). */
export function centroid(vectors: readonly SparseVector[]): SparseVector {
  const acc = new Map<number, number>();
  for (const v of vectors)
    for (let j = 0; j < v.ids.length; j++) acc.set(v.ids[j]!, (acc.get(v.ids[j]!) ?? 0) + v.weights[j]!);
  if (acc.size === 0) return EMPTY_VECTOR;
  const ids = Int32Array.from([...acc.keys()].sort((a, b) => a - b));
  const weights = new Float32Array(ids.length);
  let norm = 0;
  for (let j = 0; j < ids.length; j++) {
    const w = acc.get(ids[j]!)!;
    weights[j] = w;
    norm += w * w;
  }
  norm = Math.sqrt(norm);
  for (let j = 0; j < weights.length; j++) weights[j]! /= norm;
  return { ids, weights };
}

/**
 * Many sparse vectors in three flat arrays (compressed sparse rows): row
 * `i` holds `ids`/`weights` in [starts[i], starts[i + 1]).
 *
 * @example SparseRows.from([v0, v1]).row(1).ids
 */
export class SparseRows {
  constructor(
    readonly starts: Uint32Array,
    readonly ids: Int32Array,
    readonly weights: Float32Array,
  ) {}

  static from(vectors: readonly SparseVector[]): SparseRows {
    const starts = new Uint32Array(vectors.length + 1);
    let nnz = 0;
    vectors.forEach((v, i) => {
      starts[i] = nnz;
      nnz += v.ids.length;
    });
    starts[vectors.length] = nnz;
    const ids = new Int32Array(nnz);
    const weights = new Float32Array(nnz);
    vectors.forEach((v, i) => {
      ids.set(v.ids, starts[i]!);
      weights.set(v.weights, starts[i]!);
    });
    return new SparseRows(starts, ids, weights);
  }

  get length(): number {
    return this.starts.length - 1;
  }

  /** Row `i`'s term ids, ascending (a view, not a copy). */
  idsOf(i: number): Int32Array {
    return this.ids.subarray(this.starts[i]!, this.starts[i + 1]!);
  }

  row(i: number): SparseVector {
    const a = this.starts[i]!;
    const b = this.starts[i + 1]!;
    return { ids: this.ids.subarray(a, b), weights: this.weights.subarray(a, b) };
  }

  writeTo(w: SnapshotWriter, prefix: string): void {
    w.array(`${prefix}.starts`, this.starts);
    w.array(`${prefix}.ids`, this.ids);
    w.array(`${prefix}.weights`, this.weights);
  }

  static readFrom(r: SnapshotReader, prefix: string): SparseRows {
    return new SparseRows(r.u32(`${prefix}.starts`), r.i32(`${prefix}.ids`), r.f32(`${prefix}.weights`));
  }
}

/**
 * An inverted index of vectors for fast dot products of one query against
 * all of them: only the rows sharing a term with the query are touched.
 */
export class InvertedVectors {
  private readonly scratch: Float32Array;
  private readonly touched: Int32Array;

  private constructor(
    private readonly starts: Uint32Array,
    private readonly rows: Int32Array,
    private readonly weights: Float32Array,
    nRows: number,
  ) {
    this.scratch = new Float32Array(nRows);
    this.touched = new Int32Array(nRows);
  }

  /** Invert rows of vectors over `dimensions` terms. */
  static build(vectors: SparseRows, dimensions: number): InvertedVectors {
    const counts = new Uint32Array(dimensions + 1);
    for (const id of vectors.ids) counts[id + 1]!++;
    for (let i = 0; i < dimensions; i++) counts[i + 1]! += counts[i]!;
    const nnz = vectors.ids.length;
    const rows = new Int32Array(nnz);
    const weights = new Float32Array(nnz);
    const fill = counts.slice(0, dimensions);
    for (let row = 0; row < vectors.length; row++) {
      for (let j = vectors.starts[row]!; j < vectors.starts[row + 1]!; j++) {
        const at = fill[vectors.ids[j]!]!++;
        rows[at] = row;
        weights[at] = vectors.weights[j]!;
      }
    }
    return new InvertedVectors(counts, rows, weights, vectors.length);
  }

  get size(): number {
    return this.scratch.length;
  }

  writeTo(w: SnapshotWriter, prefix: string): void {
    w.meta(`${prefix}.rows`, this.scratch.length);
    w.array(`${prefix}.starts`, this.starts);
    w.array(`${prefix}.rows`, this.rows);
    w.array(`${prefix}.weights`, this.weights);
  }

  static readFrom(r: SnapshotReader, prefix: string): InvertedVectors {
    return new InvertedVectors(
      r.u32(`${prefix}.starts`),
      r.i32(`${prefix}.rows`),
      r.f32(`${prefix}.weights`),
      r.meta<number>(`${prefix}.rows`),
    );
  }

  /**
   * Call `visit(row, score)` for every row with a positive dot product with
   * `q`. Not re-entrant: the scratch buffer is reused between calls.
   */
  scan(q: SparseVector, visit: (row: number, score: number) => void): void {
    const s = this.scratch;
    let nTouched = 0;
    for (let j = 0; j < q.ids.length; j++) {
      const id = q.ids[j]!;
      if (id + 1 >= this.starts.length) continue;
      const w = q.weights[j]!;
      const end = this.starts[id + 1]!;
      for (let p = this.starts[id]!; p < end; p++) {
        const row = this.rows[p]!;
        if (s[row] === 0) this.touched[nTouched++] = row;
        s[row]! += w * this.weights[p]!;
      }
    }
    for (let i = 0; i < nTouched; i++) {
      const row = this.touched[i]!;
      visit(row, s[row]!);
      s[row] = 0;
    }
  }
}
