import { tokenize } from '../text/tokenize.ts';
import { TopK } from './topk.ts';

/**
 * A BM25 inverted index with weighted fields (a simplified BM25F: field term
 * frequencies and lengths are weighted and summed before saturation).
 *
 * Written here rather than taken from MiniSearch or FlexSearch because
 * retrieval must answer a top-10 query over ~20,000 ATT&CK documents within
 * 5 ms at p95: MiniSearch scores and sorts every matching document (p95
 * 5.8 ms with stop words removed, 55 ms without, on the same corpus), and
 * FlexSearch does not expose BM25 scores; this index keeps a bounded top-k
 * and reports a similarity in [0, 1] that `min_similarity` can use
 * (`bench/retrieve.ts` measures both against MiniSearch).
 *
 * The similarity of a document is its BM25 score divided by the largest
 * score any document could reach for the query: every query term present
 * with saturated frequency. So 1 means the document holds all of the query's
 * weighted terms abundantly; words no document contains count against every
 * document.
 */

export interface Bm25Options {
  /** Term-frequency saturation (default 1.2). */
  k1?: number;
  /** Length normalisation, 0–1 (default 0.75). */
  b?: number;
  /** Weight of each field; fields not listed weigh 1. */
  fieldWeights?: Record<string, number>;
}

export interface Bm25Hit {
  id: string;
  /** Raw BM25 score. */
  score: number;
  /** Score divided by the query's best possible score, 0–1. */
  similarity: number;
}

export interface SearchOptions {
  topK?: number;
  /** Keep only documents the predicate accepts (called with the document id). */
  filter?: (id: string) => boolean;
  /** Drop hits whose similarity is below this (0–1). */
  minSimilarity?: number;
}

interface Posting {
  docs: number[];
  tfs: number[];
  /** Live documents holding the term. */
  df: number;
}

/** The serialised form (for persistence). */
export interface Bm25Snapshot {
  version: 1;
  k1: number;
  b: number;
  fieldWeights: Record<string, number>;
  ids: Array<string | null>;
  lengths: number[];
  terms: Array<[string, number[], number[]]>;
}

/**
 * @example
 * const index = new Bm25Index({ fieldWeights: { title: 2 } });
 * index.add('T1003.001', { title: 'LSASS Memory', text: 'Adversaries may dump LSASS…' });
 * index.search('lsass dump', { topK: 3 })[0]?.id // 'T1003.001'
 */
export class Bm25Index {
  readonly k1: number;
  readonly b: number;
  readonly fieldWeights: Record<string, number>;
  private ids: Array<string | null> = [];
  private lengths: number[] = [];
  /** Distinct terms of each live document, so removal updates document frequencies without a scan. */
  private readonly docTerms = new Map<number, Posting[]>();
  private readonly byId = new Map<string, number>();
  private readonly postings = new Map<string, Posting>();
  private readonly counts = new Map<Posting, number>();
  private live = 0;
  private totalLength = 0;
  private dead = 0;
  private scratch = new Float64Array(0);
  private touched = new Int32Array(0);

  constructor(options: Bm25Options = {}) {
    this.k1 = options.k1 ?? 1.2;
    this.b = options.b ?? 0.75;
    this.fieldWeights = { ...(options.fieldWeights ?? {}) };
  }

  /** Documents held. */
  get size(): number {
    return this.live;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Add a document, replacing one with the same id. */
  add(id: string, fields: Record<string, string | undefined>): void {
    if (this.byId.has(id)) this.remove(id);
    // One reused map keyed by posting list: building the whole of ATT&CK allocates little, so GC stays quiet.
    const counts = this.counts;
    counts.clear();
    let length = 0;
    for (const [field, value] of Object.entries(fields)) {
      if (!value) continue;
      const w = this.fieldWeights[field] ?? 1;
      for (const t of tokenize(value)) {
        let p = this.postings.get(t);
        if (!p) {
          p = { docs: [], tfs: [], df: 0 };
          this.postings.set(t, p);
        }
        counts.set(p, (counts.get(p) ?? 0) + w);
        length += w;
      }
    }
    const doc = this.ids.length;
    this.ids.push(id);
    this.lengths.push(length);
    this.byId.set(id, doc);
    this.live++;
    this.totalLength += length;
    const terms: Posting[] = [];
    for (const [p, tf] of counts) {
      p.docs.push(doc);
      p.tfs.push(tf);
      p.df++;
      terms.push(p);
    }
    this.docTerms.set(doc, terms);
    counts.clear();
  }

  /** Remove a document; returns whether it was there. */
  remove(id: string): boolean {
    const doc = this.byId.get(id);
    if (doc === undefined) return false;
    this.byId.delete(id);
    this.ids[doc] = null;
    this.live--;
    this.totalLength -= this.lengths[doc]!;
    this.dead++;
    // Document frequencies must stay exact for idf; the postings keep the dead entry until compaction.
    for (const p of this.docTerms.get(doc) ?? []) p.df--;
    this.docTerms.delete(doc);
    if (this.dead > 64 && this.dead > this.live / 4) this.compact();
    return true;
  }

  private compact(): void {
    const remap = new Int32Array(this.ids.length).fill(-1);
    const ids: Array<string | null> = [];
    const lengths: number[] = [];
    const docTerms = new Map<number, Posting[]>();
    this.ids.forEach((id, doc) => {
      if (id === null) return;
      remap[doc] = ids.length;
      this.byId.set(id, ids.length);
      docTerms.set(ids.length, this.docTerms.get(doc) ?? []);
      ids.push(id);
      lengths.push(this.lengths[doc]!);
    });
    this.docTerms.clear();
    for (const [doc, terms] of docTerms) this.docTerms.set(doc, terms);
    for (const [t, p] of this.postings) {
      const docs: number[] = [];
      const tfs: number[] = [];
      for (let i = 0; i < p.docs.length; i++) {
        const to = remap[p.docs[i]!]!;
        if (to >= 0) {
          docs.push(to);
          tfs.push(p.tfs[i]!);
        }
      }
      // Posting objects are shared with docTerms, so they are updated in place.
      p.docs = docs;
      p.tfs = tfs;
      if (docs.length === 0) this.postings.delete(t);
    }
    this.ids = ids;
    this.lengths = lengths;
    this.dead = 0;
  }

  private idf(n: number): number {
    const N = this.live;
    return Math.log(1 + (N - n + 0.5) / (n + 0.5));
  }

  /**
   * The best documents for a query, best first.
   *
   * @example index.search('scheduled task persistence', { topK: 10, minSimilarity: 0.2 })
   */
  search(query: string, options: SearchOptions = {}): Bm25Hit[] {
    const topK = options.topK ?? 10;
    if (this.live === 0 || topK <= 0) return [];
    const qtf = new Map<string, number>();
    for (const t of tokenize(query)) qtf.set(t, (qtf.get(t) ?? 0) + 1);
    if (qtf.size === 0) return [];
    if (this.scratch.length < this.ids.length) {
      this.scratch = new Float64Array(Math.max(this.ids.length, this.scratch.length * 2));
      this.touched = new Int32Array(this.scratch.length);
    }
    const s = this.scratch;
    const avgdl = this.totalLength / this.live || 1;
    const k1 = this.k1;
    const b = this.b;
    let bound = 0;
    let nTouched = 0;
    for (const [t, count] of qtf) {
      const p = this.postings.get(t);
      const n = p?.df ?? 0;
      const idf = this.idf(n);
      bound += count * idf * (k1 + 1);
      if (!p || n === 0) continue;
      const w = count * idf;
      for (let i = 0; i < p.docs.length; i++) {
        const doc = p.docs[i]!;
        if (this.ids[doc] === null) continue;
        const tf = p.tfs[i]!;
        const norm = k1 * (1 - b + (b * this.lengths[doc]!) / avgdl);
        if (s[doc] === 0) this.touched[nTouched++] = doc;
        s[doc]! += (w * tf * (k1 + 1)) / (tf + norm);
      }
    }
    const min = (options.minSimilarity ?? 0) * bound;
    const top = new TopK(topK);
    for (let i = 0; i < nTouched; i++) {
      const doc = this.touched[i]!;
      const score = s[doc]!;
      s[doc] = 0;
      if (score < min || score <= 0) continue;
      if (score <= top.floor) continue;
      if (options.filter && !options.filter(this.ids[doc]!)) continue;
      top.push(doc, score);
    }
    return top.sorted().map(({ id: doc, score }) => ({
      id: this.ids[doc]!,
      score,
      similarity: bound > 0 ? Math.min(1, score / bound) : 0,
    }));
  }

  /** A plain-data copy for persistence. */
  toJSON(): Bm25Snapshot {
    if (this.dead) this.compact();
    return {
      version: 1,
      k1: this.k1,
      b: this.b,
      fieldWeights: this.fieldWeights,
      ids: this.ids,
      lengths: this.lengths,
      terms: [...this.postings].map(([t, p]) => [t, p.docs, p.tfs]),
    };
  }

  /** Rebuild from {@link toJSON}'s output. */
  static fromJSON(snap: Bm25Snapshot): Bm25Index {
    const index = new Bm25Index({ k1: snap.k1, b: snap.b, fieldWeights: snap.fieldWeights });
    index.ids = snap.ids;
    index.lengths = snap.lengths;
    snap.ids.forEach((id, doc) => {
      if (id === null) return;
      index.byId.set(id, doc);
      index.live++;
      index.totalLength += snap.lengths[doc]!;
    });
    for (const [t, docs, tfs] of snap.terms) {
      const p: Posting = { docs, tfs, df: docs.length };
      index.postings.set(t, p);
      for (const doc of docs) {
        const terms = index.docTerms.get(doc);
        if (terms) terms.push(p);
        else index.docTerms.set(doc, [p]);
      }
    }
    return index;
  }
}
