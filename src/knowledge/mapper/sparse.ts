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
    readonly vocabulary: Map<string, number>,
    readonly idf: Float32Array,
  ) {
    let max = 1;
    for (const v of idf) if (v > max) max = v;
    this.maxIdf = max;
  }

  static fit(docs: Iterable<readonly string[]>): TfidfSpace {
    const df = new Map<string, number>();
    let n = 0;
    for (const doc of docs) {
      n++;
      for (const t of new Set(doc)) df.set(t, (df.get(t) ?? 0) + 1);
    }
    const vocabulary = new Map<string, number>();
    const idf = new Float32Array(df.size);
    let i = 0;
    for (const [t, d] of df) {
      vocabulary.set(t, i);
      // Smoothed idf (never zero), so a word present everywhere still counts a little.
      idf[i] = Math.log((n + 1) / (d + 1)) + 1;
      i++;
    }
    return new TfidfSpace(vocabulary, idf);
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
 * An inverted index of vectors for fast dot products of one query against
 * all of them: only the rows sharing a term with the query are touched.
 */
export class InvertedVectors {
  private readonly starts: Int32Array;
  private readonly rows: Int32Array;
  private readonly weights: Float32Array;
  private readonly scratch: Float32Array;
  private readonly touched: Int32Array;

  constructor(
    vectors: readonly SparseVector[],
    readonly dimensions: number,
  ) {
    const counts = new Int32Array(dimensions + 1);
    let nnz = 0;
    for (const v of vectors) {
      for (const id of v.ids) counts[id + 1]!++;
      nnz += v.ids.length;
    }
    for (let i = 0; i < dimensions; i++) counts[i + 1]! += counts[i]!;
    this.starts = counts;
    this.rows = new Int32Array(nnz);
    this.weights = new Float32Array(nnz);
    const fill = counts.slice(0, dimensions);
    vectors.forEach((v, row) => {
      for (let j = 0; j < v.ids.length; j++) {
        const at = fill[v.ids[j]!]!++;
        this.rows[at] = row;
        this.weights[at] = v.weights[j]!;
      }
    });
    this.scratch = new Float32Array(vectors.length);
    this.touched = new Int32Array(vectors.length);
  }

  get size(): number {
    return this.scratch.length;
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
