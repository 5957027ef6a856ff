import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Alert, AlertStatus } from '../../schema/alert.ts';
import { SeverityName } from '../../schema/common.ts';
import { NormalisedEvent } from '../../schema/event.ts';
import { StoredVerdict } from '../../schema/verdict.ts';
import type { ServerDeps } from '../deps.ts';
import {
  csvEnum,
  ErrorBody,
  IdParam,
  jsonWithArray,
  notFound,
  Paging,
  sendJsonText,
  TimeRange,
} from './common.ts';

export const AlertQuery = z.object({
  ...TimeRange,
  severity: csvEnum(SeverityName.options, 'severity').optional(),
  min_severity: SeverityName.optional().describe('Only alerts at or above this severity'),
  status: csvEnum(AlertStatus.options, 'status').optional(),
  rule: z.string().max(256).optional().describe('Rule id that must be among the detections'),
  sort: z
    .enum(['priority', 'time'])
    .default('priority')
    .describe('Sort by priority (default) or by last event time'),
  order: z.enum(['asc', 'desc']).default('desc'),
  ...Paging,
});

export function alertRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { store } = deps.runtime;
  return async (app) => {
    app.get(
      '/alerts',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'List alerts (by priority unless sort=time)',
          tags: ['alerts'],
          querystring: AlertQuery,
          response: { 200: z.object({ items: z.array(Alert), total: z.number() }), 400: ErrorBody },
        },
      },
      async (req) => store.alerts.list(req.query),
    );

    app.get(
      '/alerts/:id',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'One alert, with its events (first 100) and latest verdict',
          tags: ['alerts'],
          params: IdParam,
          response: {
            200: Alert.extend({ events: z.array(NormalisedEvent), verdict: StoredVerdict.nullable() }),
            404: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        const alert = await store.alerts.get(req.params.id);
        if (!alert) throw notFound('alert', req.params.id);
        const events = await store.events.getManyText(alert.event_ids.slice(0, 100));
        const verdict = (await store.verdicts.latestFor(alert.id)) ?? null;
        return sendJsonText(reply, jsonWithArray({ ...alert, verdict }, 'events', events));
      },
    );
  };
}
