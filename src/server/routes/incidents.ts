import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Alert } from '../../schema/alert.ts';
import { Incident, IncidentStatus } from '../../schema/incident.ts';
import { StoredVerdict } from '../../schema/verdict.ts';
import type { ServerDeps } from '../deps.ts';
import { csvEnum, ErrorBody, IdParam, notFound, Paging, TimeRange } from './common.ts';

export function incidentRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { store } = deps.runtime;
  return async (app) => {
    app.get(
      '/incidents',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'List incidents (by priority unless sort=time)',
          tags: ['incidents'],
          querystring: z.object({
            ...TimeRange,
            status: csvEnum(IncidentStatus.options, 'status').optional(),
            sort: z.enum(['priority', 'time']).default('priority'),
            order: z.enum(['asc', 'desc']).default('desc'),
            ...Paging,
          }),
          response: { 200: z.object({ items: z.array(Incident), total: z.number() }), 400: ErrorBody },
        },
      },
      async (req) => store.incidents.list(req.query),
    );

    app.get(
      '/incidents/:id',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'One incident with its alerts (by priority, first 500) and its latest verdict',
          tags: ['incidents'],
          params: IdParam,
          response: {
            200: Incident.extend({
              alerts: z.array(Alert),
              verdict: StoredVerdict.nullable().describe(
                'The latest analysis of the incident as a whole (POST /incidents/:id/analyze), or null',
              ),
            }),
            404: ErrorBody,
          },
        },
      },
      async (req) => {
        const incident = await store.incidents.get(req.params.id);
        if (!incident) throw notFound('incident', req.params.id);
        const alerts = await store.alerts.getMany(incident.alert_ids.slice(0, 500));
        alerts.sort((a, b) => b.priority - a.priority);
        const verdict = (await store.verdicts.latestFor(incident.id)) ?? null;
        return { ...incident, alerts, verdict };
      },
    );
  };
}
