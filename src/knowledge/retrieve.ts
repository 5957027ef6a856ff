import { AisocError, describeError } from '../errors.ts';
import type { Collection } from './collections.ts';
import type { KnowledgeConfig } from './config.ts';
import type { KnowledgeDocument } from './documents.ts';
import type { Embedder } from './embeddings/index.ts';
import { fuseRanks } from './index/hybrid.ts';

export type RetrievalMode = 'lexical' | 'dense' | 'hybrid';

/** A retrieval request (`POST /knowledge/retrieve`, the analyst's retrieval step). */
export interface RetrieveRequest {
  query: string;
  collection?: string;
  top_k?: number;
  min_similarity?: number;
  mode?: RetrievalMode;
  /** Keep only documents whose `metadata.kind` is one of these (technique, procedure, mitigation, …). */
  kinds?: string[];
}

/** One retrieved document. */
export interface RetrieveHit {
  id: string;
  title: string;
  document: string;
  metadata: KnowledgeDocument['metadata'];
  similarity_score: number;
}

/** The documents retrieved for a query, best first, with the mode that ranked them. */
export interface RetrieveResult {
  query: string;
  collection: string;
  mode: RetrievalMode;
  results: RetrieveHit[];
  total_results: number;
  warnings: string[];
}

/** What retrieval needs besides the collection: the embedder, the default mode and the hybrid settings. */
export interface RetrievalContext {
  config: KnowledgeConfig;
  embedder?: Embedder;
  defaultMode: RetrievalMode;
}

/**
 * Retrieve documents of one collection for a query. Similarity depends on
 * the mode: lexical — BM25 score over the query's best possible score
 * (0–1); dense — cosine similarity of embeddings; hybrid — reciprocal-rank
 * fusion normalised so 1 means first in both rankings. Dense and hybrid
 * fall back to lexical results, with a warning, when the collection has no
 * vectors (hybrid also when the query cannot be embedded).
 *
 * @example (await retrieveFrom(collection, { query: 'lsass memory dump', top_k: 3 }, ctx)).results[0]?.id
 */
export async function retrieveFrom(
  c: Collection,
  req: RetrieveRequest,
  ctx: RetrievalContext,
): Promise<RetrieveResult> {
  const name = c.name;
  const topK = req.top_k ?? 3;
  const min = req.min_similarity ?? 0;
  const warnings: string[] = [];
  let mode = req.mode ?? ctx.defaultMode;
  if (mode !== 'lexical' && !ctx.embedder)
    throw new AisocError(
      'AISOC_ERR_VALIDATION',
      `Retrieval mode ${mode} needs an embeddings backend (knowledge.embeddings.backend); this server has none.`,
      { field: 'mode' },
    );
  const kinds = req.kinds?.length ? new Set(req.kinds) : undefined;
  const filter = kinds ? (id: string) => kinds.has(String(c.kindOf(id))) : undefined;
  const candidates = Math.max(topK, ctx.config.hybrid.candidates);

  let denseIds: Array<{ id: string; similarity: number }> = [];
  if (mode !== 'lexical') {
    if (!c.vectors || c.vectors.size === 0) {
      warnings.push(
        `The ${name} collection has no embeddings yet; ${mode === 'dense' ? 'no dense results' : 'lexical results only'}.`,
      );
    } else {
      try {
        const [q] = await ctx.embedder!.embed([req.query]);
        denseIds = c.vectors.search(q!, mode === 'dense' ? topK : candidates, filter);
      } catch (err) {
        if (mode === 'dense') throw err;
        warnings.push(`Embedding the query failed (${describeError(err)}); lexical results only.`);
      }
    }
    if (mode === 'hybrid' && denseIds.length === 0) mode = 'lexical';
  }

  let hits: Array<{ id: string; similarity: number }>;
  if (mode === 'lexical') {
    hits = c.lexical.search(req.query, { topK, filter, minSimilarity: min });
  } else if (mode === 'dense') {
    hits = denseIds.filter((h) => h.similarity >= min);
  } else {
    const lexical = c.lexical.search(req.query, { topK: candidates, filter });
    const { lexical_weight, dense_weight, rrf_k } = ctx.config.hybrid;
    hits = fuseRanks(
      [
        { weight: lexical_weight, ids: lexical.map((h) => h.id) },
        { weight: dense_weight, ids: denseIds.map((h) => h.id) },
      ],
      rrf_k,
    )
      .filter((h) => h.similarity >= min)
      .slice(0, topK);
  }
  const results = hits
    .map((h) => {
      const doc = c.get(h.id);
      return doc
        ? {
            id: doc.id,
            title: doc.title,
            document: doc.text,
            metadata: doc.metadata,
            similarity_score: round(h.similarity),
          }
        : undefined;
    })
    .filter((h): h is RetrieveHit => Boolean(h));
  return { query: req.query, collection: name, mode, results, total_results: results.length, warnings };
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
