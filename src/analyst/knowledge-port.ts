import { describeError } from '../errors.ts';
import type { KnowledgeBase, KnowledgeStatus } from '../knowledge/kb.ts';
import type { Logger } from '../telemetry/logger.ts';
import { canonicalHash } from './cache-key.ts';
import type { AnalystKnowledge, Passage } from './types.ts';

/**
 * The knowledge base as the analyst uses it. While the base is still loading
 * (or failed to), the analyst works without retrieved context rather than
 * failing: the verdict then says it used none (its references are empty).
 */
/** Decision threshold of the text→technique mapper on alert texts. */
export const ALERT_MAPPING_THRESHOLD = 0.02;

export function analystKnowledge(kb: KnowledgeBase, logger: Logger): AnalystKnowledge {
  return {
    technique(id) {
      const t = kb.lookupTechnique(id);
      if (!t) return undefined;
      return {
        id: t.id,
        name: t.name,
        tactics: t.tactics,
        url: t.url,
        mitigations: t.mitigations.map((m) => ({ id: m.id, name: m.name, text: m.text })),
      };
    },
    async mapText(text, topK) {
      try {
        // Alert texts are short: the mapper's report-sentence threshold tags almost none of them. At 0.02 it tags
        // about a third of the Wazuh dev alerts with 0.46 precision (docs/analyst.md); lower buys recall with noise.
        // Alerts come from enterprise telemetry: Mobile and ICS techniques (loaded for threat reports) are left out.
        return (
          await kb.mapTextToTechniques(text, {
            topK,
            threshold: ALERT_MAPPING_THRESHOLD,
            domains: ['enterprise'],
          })
        ).map((m) => ({
          technique_id: m.technique_id,
          name: m.name,
          score: m.score,
        }));
      } catch (err) {
        logger.debug({ err: describeError(err) }, 'The technique mapper is not available yet.');
        return [];
      }
    },
    async retrieve(query, collection, topK): Promise<Passage[]> {
      try {
        const r = await kb.retrieve({ query, collection, top_k: topK });
        return r.results.map((h) => {
          const p: Passage = {
            id: h.id,
            title: h.title,
            text: h.document,
            score: h.similarity_score,
            collection,
          };
          const url = (h.metadata as Record<string, unknown>).url;
          if (typeof url === 'string') p.url = url;
          return p;
        });
      } catch (err) {
        logger.debug({ err: describeError(err), collection }, 'Retrieval is not available yet.');
        return [];
      }
    },
    label() {
      return kb.status().attack?.version ?? 'ATT&CK';
    },
    version() {
      return knowledgeVersion(kb.status());
    },
  };
}

/**
 * The knowledge version the verdict cache keys on, read from what the
 * knowledge base reports about itself: its state (a base still loading
 * retrieves nothing), the ATT&CK release and its counts, each collection's
 * documents and vectors, the embedding backend and model, and the mapper.
 * Documents added at run time (closed cases, the API) change a collection's
 * count and so the version; an edit that keeps every count does not, and is
 * picked up when cached verdicts expire (`analyst.cache_ttl_ms`).
 */
export function knowledgeVersion(s: KnowledgeStatus): string {
  return canonicalHash({
    state: s.state,
    attack: s.attack ?? null,
    collections: s.collections.map((c) => [c.name, c.documents, c.vectors]),
    embeddings: [s.embeddings.backend, s.embeddings.model ?? null],
    mapper: s.mapper ?? null,
  }).slice(0, 16);
}
