import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import { Alert } from '../../schema/alert.ts';
import { SeverityName } from '../../schema/common.ts';
import type { ServerDeps } from '../deps.ts';
import { ErrorBody, TimeRange } from './common.ts';
import { ruleCatalogue } from './rules.ts';

const Counts = { rules: z.number().int(), alerts: z.number().int() };

const CoverageOut = z.object({
  tactics: z.array(z.object({ id: z.string(), shortname: z.string(), name: z.string() })),
  techniques: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      tactics: z.array(z.string()).describe('Tactic short names'),
      ...Counts,
      subtechniques: z.array(z.object({ id: z.string(), name: z.string(), ...Counts })),
    }),
  ),
});

/** A window only when both ends are given: otherwise every alert counts. */
function windowOf(q: { from?: string; to?: string }) {
  if (!q.from && !q.to) return undefined;
  return { from: q.from ?? '0001-01-01T00:00:00Z', to: q.to ?? '9999-12-31T00:00:00Z' };
}

export function coverageRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { runtime } = deps;
  const { knowledge, store } = runtime;
  return async (app) => {
    app.get(
      '/coverage',
      {
        config: { scope: 'read' },
        schema: {
          summary:
            'ATT&CK Enterprise coverage: every technique with the rules tagged with it and the alerts carrying it (a parent counts its sub-techniques)',
          tags: ['knowledge'],
          querystring: z.object({ ...TimeRange }),
          response: { 200: CoverageOut, 400: ErrorBody, 503: ErrorBody },
        },
      },
      async (req) => {
        // 503 naming the knowledge base while ATT&CK loads or when it is missing.
        const matrix = knowledge.attackMatrix();
        const rulesOf = new Map<string, Set<string>>();
        const tag = (technique: string, rule: string) => {
          let set = rulesOf.get(technique);
          if (!set) {
            set = new Set();
            rulesOf.set(technique, set);
          }
          set.add(rule);
        };
        for (const r of ruleCatalogue(runtime.detectors)) {
          for (const raw of r.techniques) {
            // A revoked id counts for the technique that replaced it.
            const id = matrix.currentId(raw) ?? raw;
            tag(id, r.id);
            const dot = id.indexOf('.');
            if (dot > 0) tag(id.slice(0, dot), r.id);
          }
        }
        const alerts = await store.stats.alertsPerTechnique(windowOf(req.query));
        const subsOf = new Map<string, Array<{ id: string; name: string; rules: number; alerts: number }>>();
        for (const t of matrix.techniques) {
          if (!t.is_subtechnique || !t.parent_id) continue;
          let list = subsOf.get(t.parent_id);
          if (!list) {
            list = [];
            subsOf.set(t.parent_id, list);
          }
          list.push({
            id: t.id,
            name: t.name,
            rules: rulesOf.get(t.id)?.size ?? 0,
            alerts: alerts.get(t.id) ?? 0,
          });
        }
        return {
          tactics: matrix.tactics.map((t) => ({ id: t.id, shortname: t.shortname, name: t.name })),
          techniques: matrix.techniques
            .filter((t) => !t.is_subtechnique)
            .map((t) => ({
              id: t.id,
              name: t.name,
              tactics: t.tactics,
              rules: rulesOf.get(t.id)?.size ?? 0,
              alerts: alerts.get(t.id) ?? 0,
              subtechniques: subsOf.get(t.id) ?? [],
            })),
        };
      },
    );

    app.get(
      '/coverage/:technique',
      {
        config: { scope: 'read' },
        schema: {
          summary:
            'One ATT&CK technique: the rules tagged with it and its latest alerts (a parent includes its sub-techniques)',
          tags: ['knowledge'],
          params: z.object({
            technique: z
              .string()
              .regex(/^T\d{4}(\.\d{3})?$/, 'must be an ATT&CK technique id such as T1078 or T1078.004'),
          }),
          querystring: z.object({ ...TimeRange }),
          response: {
            200: z.object({
              technique: z.object({
                id: z.string(),
                name: z.string(),
                description: z.string().optional().describe('ATT&CK text without citation markup'),
                url: z.string(),
              }),
              rules: z.array(
                z.object({
                  id: z.string(),
                  title: z.string(),
                  level: SeverityName,
                  status: z.string().optional(),
                }),
              ),
              alerts: z.array(Alert).describe('Alerts carrying it, newest first (at most 100)'),
            }),
            400: ErrorBody,
            404: ErrorBody,
            503: ErrorBody,
          },
        },
      },
      async (req) => {
        const matrix = knowledge.attackMatrix();
        const id = matrix.currentId(req.params.technique);
        const t = id ? matrix.technique(id) : undefined;
        if (!t)
          throw new AisocError('AISOC_ERR_NOT_FOUND', `ATT&CK has no technique ${req.params.technique}.`, {
            field: 'technique',
          });
        const matches = (tags: string[]) =>
          tags.some((raw) => {
            const x = matrix.currentId(raw) ?? raw;
            return x === t.id || (!t.is_subtechnique && x.startsWith(`${t.id}.`));
          });
        const rules = ruleCatalogue(runtime.detectors)
          .filter((r) => matches(r.techniques))
          .map((r) => ({
            id: r.id,
            title: r.title,
            level: r.level,
            ...(r.status ? { status: r.status } : {}),
          }));
        const w = windowOf(req.query);
        const { items } = await store.alerts.list({
          technique: [t.id],
          ...(w ? { from: w.from, to: w.to } : {}),
          sort: 'time',
          order: 'desc',
          limit: 100,
        });
        return {
          technique: { id: t.id, name: t.name, ...(t.text ? { description: t.text } : {}), url: t.url },
          rules,
          alerts: items,
        };
      },
    );
  };
}
