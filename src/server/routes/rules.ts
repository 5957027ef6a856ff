import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { techniquesAndTactics } from '../../correlate/attack-tags.ts';
import type { Detector, DetectorRule } from '../../detect/types.ts';
import { SeverityName } from '../../schema/common.ts';
import type { ServerDeps } from '../deps.ts';
import { ErrorBody, Paging, queryText } from './common.ts';

/** A loaded rule with the ATT&CK techniques its tags name. */
export interface CatalogueRule extends DetectorRule {
  techniques: string[];
}

/**
 * Every rule the detectors run (Sigma rules and correlations, served ML
 * models), with the techniques of its tags, in title order. Detectors list
 * their rules once; this is cheap to call per request.
 */
export function ruleCatalogue(detectors: readonly Detector[]): CatalogueRule[] {
  const out: CatalogueRule[] = [];
  for (const d of detectors)
    for (const r of d.rules?.() ?? [])
      out.push({ ...r, techniques: techniquesAndTactics(r.tags).techniques });
  return out.sort((a, b) => a.title.localeCompare(b.title) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export const RuleItem = z.object({
  id: z.string(),
  title: z.string(),
  engine: z.string().describe('sigma, correlation (Sigma correlations) or ml'),
  level: SeverityName,
  status: z.string().optional(),
  logsource: z
    .object({
      product: z.string().optional(),
      service: z.string().optional(),
      category: z.string().optional(),
    })
    .optional(),
  sources: z
    .array(z.string())
    .optional()
    .describe('Source types whose events it reads (a correlation: those of its rules); absent for ML models'),
  techniques: z.array(z.string()).describe('ATT&CK technique ids from its tags'),
  hits: z.number().int().describe('Alerts carrying it whose last event is in the last 24 h'),
  lint: z.object({ state: z.enum(['ok', 'warning', 'error']), messages: z.array(z.string()) }),
});

export function ruleRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { runtime } = deps;
  return async (app) => {
    app.get(
      '/rules',
      {
        config: { scope: 'read' },
        schema: {
          summary:
            'Loaded detection rules (Sigma, correlations, ML models) with techniques, 24-hour hits and lint',
          tags: ['detection'],
          querystring: z.object({
            q: queryText(256, 'Text the rule id or title contains, any case').optional(),
            ...Paging,
          }),
          response: { 200: z.object({ items: z.array(RuleItem), total: z.number() }), 400: ErrorBody },
        },
      },
      async (req) => {
        const q = req.query.q?.toLowerCase();
        const matching = ruleCatalogue(runtime.detectors).filter(
          (r) => !q || r.title.toLowerCase().includes(q) || r.id.toLowerCase().includes(q),
        );
        const page = matching.slice(req.query.offset, req.query.offset + req.query.limit);
        const hits = await runtime.store.stats.alertsPerRule(new Date(Date.now() - 86_400_000).toISOString());
        return {
          items: page.map(({ tags: _tags, ...r }) => ({ ...r, hits: hits.get(r.id) ?? 0 })),
          total: matching.length,
        };
      },
    );
  };
}
