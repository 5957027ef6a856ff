import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { selectReportTechniques } from '../../analyst/report-mapping.ts';
import { AisocError, describeError } from '../../errors.ts';
import { ATTACK_DOMAINS } from '../../knowledge/attack/model.ts';
import { CollectionName, MetadataValue } from '../../knowledge/documents.ts';
import type { ServerDeps } from '../deps.ts';
import { ErrorBody } from './common.ts';

const Mode = z
  .enum(['lexical', 'dense', 'hybrid'])
  .describe(
    'lexical: BM25; dense: embeddings; hybrid: reciprocal-rank fusion of both. Default: hybrid when embeddings are configured, else lexical',
  );

/** The seed's /retrieve request, plus optional `mode` and `kinds`. */
export const RetrieveBody = z.object({
  query: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(8192)
    .describe('What to look for: a question, an alert, a log line'),
  collection: CollectionName.default('mitre_attack'),
  top_k: z.number().int().min(1).max(10).default(3).describe('Results to return (1–10)'),
  min_similarity: z
    .number()
    .min(-1)
    .max(1)
    .default(0)
    .describe(
      'Drop results below this similarity. lexical: BM25 score over the best score the query could reach (0–1); dense: cosine similarity of embeddings (model-dependent, typically 0.3–0.9); hybrid: fused rank score (1 = first in both rankings, 0.5 = first in one)',
    ),
  mode: Mode.optional(),
  kinds: z
    .array(z.string().min(1).max(64))
    .max(20)
    .optional()
    .describe(
      'Only documents of these kinds (technique, procedure, mitigation, detection_strategy, group, software, campaign, tactic, runbook, incident, case, cve)',
    ),
});

const Metadata = z.record(z.string(), MetadataValue);

const RetrieveResponse = z.object({
  query: z.string(),
  results: z.array(
    z.object({
      document: z.string(),
      metadata: Metadata,
      similarity_score: z.number(),
      id: z.string(),
      title: z.string(),
    }),
  ),
  total_results: z.number().int(),
  collection: z.string(),
  mode: Mode,
  warnings: z.array(z.string()),
});

const DocumentInput = z.object({
  id: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[\w.:#@/-]+$/, 'may hold letters, digits and . _ - : # @ /'),
  title: z.string().max(1000).optional(),
  text: z.string().min(1, 'must not be empty').max(200_000),
  metadata: Metadata.default({}).refine((m) => Object.keys(m).length <= 50, 'may hold at most 50 keys'),
});

const TechniqueId = z
  .string()
  .regex(/^[Tt]\d{4}(?:[./]\d{3})?$/, 'must look like T1234 or T1234.001')
  .describe('ATT&CK technique id (T1234 or T1234.001)');

const TechniqueView = z.object({
  id: z.string(),
  name: z.string(),
  full_name: z.string(),
  description: z.string().describe('ATT&CK text with its citation markup, for display'),
  text: z.string().describe('The same text without markup'),
  tactics: z.array(z.object({ id: z.string(), name: z.string(), shortname: z.string() })),
  platforms: z.array(z.string()),
  data_sources: z.array(z.string()),
  detection: z.string(),
  is_subtechnique: z.boolean(),
  parent: z.object({ id: z.string(), name: z.string() }).optional(),
  subtechniques: z.array(z.object({ id: z.string(), name: z.string() })),
  mitigations: z.array(z.object({ id: z.string(), name: z.string(), text: z.string() })),
  detection_strategies: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      url: z.string(),
      analytics: z.array(
        z.object({
          id: z.string(),
          platforms: z.array(z.string()),
          text: z.string(),
          log_sources: z.array(z.string()),
        }),
      ),
    }),
  ),
  procedures: z.array(
    z.object({ source_id: z.string(), source_name: z.string(), source_kind: z.string(), text: z.string() }),
  ),
  procedure_count: z.number().int(),
  references: z.array(
    z.object({ source_name: z.string(), url: z.string().optional(), description: z.string().optional() }),
  ),
  url: z.string(),
  replaces: z.string().optional().describe('The revoked id asked for, when this technique replaced it'),
  attack_version: z.string(),
});

const Match = z.object({
  technique_id: z.string(),
  name: z.string(),
  score: z.number(),
  coverage: z.number().describe("Share of the text's weight found in the matching passages (0–1)"),
  evidence: z.array(
    z.object({ kind: z.string(), text: z.string(), source_id: z.string(), similarity: z.number() }),
  ),
});

const Domain = z.enum(ATTACK_DOMAINS);

/** `POST /attack/map`: a short text or a whole report, not both. */
function MapBody(maxReport: number) {
  return z
    .object({
      text: z
        .string()
        .trim()
        .min(1, 'must not be empty')
        .max(32_768)
        .optional()
        .describe('A short text: an alert description, a log line, a report sentence'),
      report: z
        .string()
        .trim()
        .min(1, 'must not be empty')
        .max(maxReport, `must be at most ${maxReport} characters (knowledge.mapper.max_report_chars)`)
        .optional()
        .describe('A whole threat report (plain text; paragraphs separated by blank lines)'),
      top_k: z.number().int().min(1).max(20).default(5).describe('With text: techniques at most'),
      all: z
        .boolean()
        .default(false)
        .describe('With text: return the ranking without the decision threshold'),
      domains: z
        .array(Domain)
        .min(1)
        .max(3)
        .optional()
        .describe('ATT&CK domains to map to (default: every domain loaded: enterprise, mobile, ics)'),
      select: z
        .enum(['auto', 'mapper', 'llm'])
        .default('auto')
        .describe(
          'With report: who decides among the candidates: auto (the LLM backend when one is configured, else the mapper), mapper, or llm (400 without a backend)',
        ),
    })
    .superRefine((b, ctx) => {
      if ((b.text === undefined) === (b.report === undefined))
        ctx.addIssue({
          code: 'custom',
          path: [b.text === undefined ? 'report' : 'text'],
          message: 'give either text or report, not both and not neither',
        });
    });
}

const ReportMatch = z.object({
  technique_id: z.string(),
  name: z.string(),
  domain: Domain,
  score: z.number().describe("Report score: noisy-OR of the supporting sentences' scores (0–1)"),
  support: z.number().int().describe('Sentences that support the technique'),
  evidence: z.array(
    z.object({
      sentence: z.number().int().describe('Index of the sentence in the report (0-based)'),
      text: z.string(),
      score: z.number(),
    }),
  ),
});

const TextMapResult = z.object({ techniques: z.array(Match) });

const ReportMapResult = z.object({
  techniques: z.array(ReportMatch).describe('The techniques the report shows, best first'),
  candidates: z
    .array(ReportMatch)
    .describe("The mapper's candidates (what a model chooses from), best first"),
  selected_by: z.enum(['mapper', 'llm']),
  model: z.string().optional().describe('The model that chose, when one did'),
  sentences: z.number().int(),
  attack_domains: z.array(Domain),
  warnings: z.array(z.string()),
});

export function knowledgeRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { knowledge, store } = deps.runtime;
  return async (app) => {
    app.post(
      '/retrieve',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'Retrieve knowledge (ATT&CK, runbooks, incidents, CVEs) for a query',
          tags: ['knowledge'],
          body: RetrieveBody,
          response: { 200: RetrieveResponse, 400: ErrorBody, 404: ErrorBody, 502: ErrorBody, 503: ErrorBody },
        },
      },
      async (req) => knowledge.retrieve(req.body),
    );

    app.get(
      '/collections',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'Knowledge collections, their sizes and the loading state',
          tags: ['knowledge'],
          response: {
            200: z.object({
              collections: z.array(
                z.object({
                  name: z.string(),
                  description: z.string(),
                  documents: z.number(),
                  vectors: z.number(),
                }),
              ),
              state: z.enum(['idle', 'loading', 'ready', 'failed']),
              default_mode: Mode,
              attack_version: z.string().optional(),
              warnings: z.array(z.string()),
            }),
          },
        },
      },
      async () => {
        const s = knowledge.status();
        return {
          collections: s.collections,
          state: s.state,
          default_mode: knowledge.defaultMode,
          attack_version: s.attack?.version,
          warnings: [...s.warnings, ...(s.error ? [s.error] : [])],
        };
      },
    );

    app.post(
      '/knowledge/documents',
      {
        // Admin only: what the analyst retrieves shapes its verdicts, so adding documents is a way to poison them.
        config: { scope: 'admin' },
        schema: {
          summary: 'Add or replace documents in a collection (admin)',
          tags: ['knowledge'],
          body: z.object({
            collection: CollectionName,
            documents: z.array(DocumentInput).min(1).max(100),
          }),
          response: {
            201: z.object({ collection: z.string(), added: z.number().int(), ids: z.array(z.string()) }),
            400: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        const ids = new Set<string>();
        req.body.documents.forEach((d, i) => {
          if (ids.has(d.id))
            throw new AisocError(
              'AISOC_ERR_VALIDATION',
              `documents[${i}].id ${d.id} appears twice in the request.`,
              {
                field: `body.documents.${i}.id`,
              },
            );
          ids.add(d.id);
        });
        const actor = req.apiKey?.name ?? 'unknown';
        const result = await knowledge.addDocuments(
          req.body.collection,
          req.body.documents.map((d) => ({
            id: d.id,
            title: d.title ?? d.id,
            text: d.text,
            metadata: d.metadata,
          })),
          actor,
        );
        await store.audit.append({
          actor,
          action: 'knowledge.add',
          target_type: 'knowledge_collection',
          target_id: req.body.collection,
          details: { ids: result.ids },
        });
        return reply.code(201).send(result);
      },
    );

    app.delete(
      '/knowledge/documents/:collection/:id',
      {
        config: { scope: 'admin' },
        schema: {
          summary: 'Remove a document added through the API (admin)',
          tags: ['knowledge'],
          params: z.object({ collection: CollectionName, id: z.string().min(1).max(256) }),
          response: { 200: z.object({ removed: z.literal(true) }), 404: ErrorBody },
        },
      },
      async (req) => {
        const { collection, id } = req.params;
        if (!(await knowledge.removeDocument(collection, id)))
          throw new AisocError(
            'AISOC_ERR_NOT_FOUND',
            `No document ${id} added through the API in ${collection} (built-in content comes from files).`,
            { field: 'id' },
          );
        await store.audit.append({
          actor: req.apiKey?.name ?? 'unknown',
          action: 'knowledge.remove',
          target_type: 'knowledge_collection',
          target_id: collection,
          details: { id },
        });
        return { removed: true as const };
      },
    );

    app.get(
      '/attack/techniques/:id',
      {
        config: { scope: 'read' },
        schema: {
          summary:
            'An ATT&CK technique: description, tactics, mitigations, detection strategies, procedure examples',
          tags: ['knowledge'],
          params: z.object({ id: TechniqueId }),
          response: { 200: TechniqueView, 400: ErrorBody, 404: ErrorBody, 503: ErrorBody },
        },
      },
      async (req) => {
        const v = knowledge.technique(req.params.id);
        const t = v.technique;
        return {
          id: t.id,
          name: t.name,
          full_name: v.name,
          description: t.description,
          text: t.text,
          tactics: v.tactics,
          platforms: t.platforms,
          data_sources: t.data_sources,
          detection: t.detection,
          is_subtechnique: t.is_subtechnique,
          parent: v.parent,
          subtechniques: v.subtechniques,
          mitigations: t.mitigations,
          detection_strategies: v.detection_strategies,
          procedures: v.procedures,
          procedure_count: v.procedure_count,
          references: t.references,
          url: t.url,
          replaces: v.replaces,
          attack_version: v.attack_version,
        };
      },
    );

    const maxReport = deps.runtime.config.knowledge.mapper.max_report_chars;
    app.post(
      '/attack/map',
      {
        config: { scope: 'read' },
        // A report of max_report_chars characters is at most four bytes each in UTF-8, plus JSON escaping slack.
        bodyLimit: maxReport * 4 + 65_536,
        schema: {
          summary:
            'Map a text (alert, log line, sentence) or a whole threat report to ATT&CK techniques, with evidence',
          description:
            "Give `text` for a short text (the mapper's ranking and decision), or `report` for a whole report: each sentence is mapped and the sentences are aggregated with calibrated thresholds; with an LLM backend configured (analyst.backend), the model chooses among the mapper's candidates and can return nothing else. Report text is data, never instructions.",
          tags: ['knowledge'],
          body: MapBody(maxReport),
          response: {
            200: z.union([ReportMapResult, TextMapResult]),
            400: ErrorBody,
            413: ErrorBody,
            503: ErrorBody,
          },
        },
      },
      async (req) => {
        // An HTTP client gets 503 with Retry-After while the knowledge base loads, rather than a long wait.
        knowledge.assertAvailable('mitre_attack');
        const body = req.body;
        const domains = body.domains?.filter((d) => knowledge.attackDomains.includes(d));
        if (body.domains && domains?.length === 0)
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            `None of the domains asked for is loaded (loaded: ${knowledge.attackDomains.join(', ')}).`,
            { field: 'body.domains' },
          );
        if (body.text !== undefined) {
          const techniques = await knowledge.mapTextToTechniques(body.text, {
            topK: body.top_k,
            ...(body.all ? { threshold: 0 } : {}),
            ...(domains ? { domains } : {}),
          });
          return { techniques };
        }
        const report = body.report!;
        const llm = deps.runtime.response?.analyst.llm ?? null;
        if (body.select === 'llm' && !llm)
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            'select: llm needs an LLM backend (analyst.backend); this server has none.',
            { field: 'body.select' },
          );
        const mapping = await knowledge.mapReport(report, domains ? { domains } : {});
        const warnings: string[] = [];
        const out = {
          sentences: mapping.sentences,
          attack_domains: domains ?? knowledge.attackDomains,
          candidates: mapping.candidates,
        };
        if (llm && body.select !== 'mapper' && mapping.candidates.length > 0) {
          try {
            const chosen = new Set(await selectReportTechniques(llm, report, mapping));
            return {
              ...out,
              techniques: mapping.candidates.filter((c) => chosen.has(c.technique_id)),
              selected_by: 'llm' as const,
              model: `${llm.name}:${llm.model}`,
              warnings,
            };
          } catch (err) {
            // The mapper's own decision stands when the model fails; the answer says so.
            warnings.push(
              `The model could not choose (${describeError(err)}); the mapper's decision is returned.`,
            );
            req.log.warn({ err: describeError(err) }, 'Report mapping fell back to the mapper.');
          }
        }
        return { ...out, techniques: mapping.techniques, selected_by: 'mapper' as const, warnings };
      },
    );
  };
}
