import { AisocError } from '../../errors.ts';
import type { SnapshotReader, SnapshotWriter, TermTable } from '../snapshot/format.ts';
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
 *
 * An index built ahead of time (the ATT&CK collection, in a worker) is
 * written to a snapshot ({@link Bm25Index.writeTo}) and read back as a frozen
 * base of flat arrays ({@link Bm25Index.readFrom}): documents added later
 * go into the ordinary growable part beside it, and removing a base document
 * only marks it dead.
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

/** Documents indexed ahead of time, as flat arrays over a snapshot. */
interface FrozenBase {
  /** Sorted terms; term `t`'s postings are `docs`/`tfs` in [starts[t], starts[t + 1]), docs ascending. */
  terms: TermTable;
  starts: Uint32Array;
  docs: Int32Array;
  tfs: Float32Array;
  /** Live documents holding each term (a copy: removals decrement it). */
  df: Int32Array;
  /** Documents 0…n-1 are the base's. */
  n: number;
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
  /** Distinct terms of each live document added with `add`, so removal updates document frequencies without a scan. */
  private readonly docTerms = new Map<number, Posting[]>();
  private base: FrozenBase | undefined;
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
    if (this.base && doc < this.base.n) {
      this.removeFromBase(doc, this.base);
      return true;
    }
    this.dead++;
    // Document frequencies must stay exact for idf; the postings keep the dead entry until compaction.
    for (const p of this.docTerms.get(doc) ?? []) p.df--;
    this.docTerms.delete(doc);
    if (this.dead > 64 && this.dead > this.live / 4) this.compact();
    return true;
  }

  /**
   * A base document keeps its slot (the arrays are shared with the
   * snapshot); only the frequencies of its terms drop. The base keeps no
   * per-document term list, so its postings are searched: a few milliseconds,
   * and only when built-in content is replaced at run time.
   */
  private removeFromBase(doc: number, base: FrozenBase): void {
    const { starts, docs, df } = base;
    for (let t = 0; t < df.length; t++) {
      let lo = starts[t]!;
      let hi = starts[t + 1]! - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const d = docs[mid]!;
        if (d === doc) {
          df[t]!--;
          break;
        }
        if (d < doc) lo = mid + 1;
        else hi = mid - 1;
      }
    }
  }

  /** Renumber the documents added with `add` over the dead ones (base documents keep their numbers). */
  private compact(): void {
    const first = this.base?.n ?? 0;
    const remap = new Int32Array(this.ids.length).fill(-1);
    const ids: Array<string | null> = this.ids.slice(0, first);
    const lengths: number[] = this.lengths.slice(0, first);
    const docTerms = new Map<number, Posting[]>();
    for (let doc = first; doc < this.ids.length; doc++) {
      const id = this.ids[doc]!;
      if (id === null) continue;
      remap[doc] = ids.length;
      this.byId.set(id, ids.length);
      docTerms.set(ids.length, this.docTerms.get(doc) ?? []);
      ids.push(id);
      lengths.push(this.lengths[doc]!);
    }
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
    const base = this.base;
    for (const [t, count] of qtf) {
      const p = this.postings.get(t);
      const bt = base ? base.terms.find(t) : -1;
      const n = (p?.df ?? 0) + (bt >= 0 ? base!.df[bt]! : 0);
      const idf = this.idf(n);
      bound += count * idf * (k1 + 1);
      if (n === 0) continue;
      const w = count * idf;
      if (bt >= 0) {
        const { docs, tfs } = base!;
        for (let i = base!.starts[bt]!, end = base!.starts[bt + 1]!; i < end; i++) {
          const doc = docs[i]!;
          if (this.ids[doc] === null) continue;
          const tf = tfs[i]!;
          const norm = k1 * (1 - b + (b * this.lengths[doc]!) / avgdl);
          if (s[doc] === 0) this.touched[nTouched++] = doc;
          s[doc]! += (w * tf * (k1 + 1)) / (tf + norm);
        }
      }
      if (!p) continue;
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

  /**
   * Write the index to a snapshot under `prefix` (an index built with `add`
   * only: one read back from a snapshot is already stored).
   */
  writeTo(w: SnapshotWriter, prefix: string): void {
    if (this.base)
      throw new AisocError(
        'AISOC_ERR_INTERNAL',
        'A BM25 index read from a snapshot cannot be written again.',
      );
    if (this.dead) this.compact();
    const terms = [...this.postings.keys()];
    const order = w.sortedStrings(`${prefix}.terms`, terms);
    const starts = new Uint32Array(terms.length + 1);
    let nnz = 0;
    order.forEach((ti, k) => {
      starts[k] = nnz;
      nnz += this.postings.get(terms[ti]!)!.docs.length;
    });
    starts[terms.length] = nnz;
    const docs = new Int32Array(nnz);
    const tfs = new Float32Array(nnz);
    order.forEach((ti, k) => {
      const p = this.postings.get(terms[ti]!)!;
      docs.set(p.docs, starts[k]!);
      tfs.set(p.tfs, starts[k]!);
    });
    w.meta(`${prefix}.params`, { k1: this.k1, b: this.b, fieldWeights: this.fieldWeights });
    w.strings(`${prefix}.ids`, this.ids as string[]);
    w.array(`${prefix}.lengths`, Float32Array.from(this.lengths));
    w.array(`${prefix}.starts`, starts);
    w.array(`${prefix}.docs`, docs);
    w.array(`${prefix}.tfs`, tfs);
  }

  /**
   * The index {@link writeTo} wrote, as a frozen base over the snapshot's
   * arrays (nothing is copied but the ids and lengths); it takes further
   * documents as usual.
   */
  static readFrom(r: SnapshotReader, prefix: string): Bm25Index {
    const params = r.meta<{ k1: number; b: number; fieldWeights: Record<string, number> }>(
      `${prefix}.params`,
    );
    const index = new Bm25Index(params);
    const ids = r.strings(`${prefix}.ids`).all();
    const lengths = r.f32(`${prefix}.lengths`);
    const starts = r.u32(`${prefix}.starts`);
    const terms = r.terms(`${prefix}.terms`);
    if (lengths.length !== ids.length || starts.length !== terms.length + 1)
      throw new AisocError('AISOC_ERR_INTERNAL', `The ${prefix} index in the snapshot is inconsistent.`);
    const df = new Int32Array(terms.length);
    for (let t = 0; t < df.length; t++) df[t] = starts[t + 1]! - starts[t]!;
    index.base = {
      terms,
      starts,
      docs: r.i32(`${prefix}.docs`),
      tfs: r.f32(`${prefix}.tfs`),
      df,
      n: ids.length,
    };
    index.ids = ids;
    index.lengths = Array.from(lengths);
    ids.forEach((id, doc) => {
      index.byId.set(id, doc);
      index.totalLength += index.lengths[doc]!;
    });
    index.live = ids.length;
    return index;
  }
}
