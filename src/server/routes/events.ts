import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NormalisedEvent } from '../../schema/event.ts';
import type { ServerDeps } from '../deps.ts';
import { ErrorBody, IdParam, notFound, Paging, TimeRange } from './common.ts';

export function eventRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { store } = deps.runtime;
  return async (app) => {
    app.get(
      '/events',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'List events, newest first',
          tags: ['events'],
          querystring: z.object({
            source: z.string().max(64).optional().describe('Source type, e.g. cloudtrail'),
            class_uid: z.coerce.number().int().optional().describe('OCSF class id'),
            ...TimeRange,
            ...Paging,
          }),
          response: { 200: z.object({ items: z.array(NormalisedEvent), total: z.number() }), 400: ErrorBody },
        },
      },
      async (req) => store.events.list(req.query),
    );

    app.get(
      '/events/:id',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'One event',
          tags: ['events'],
          params: IdParam,
          response: { 200: NormalisedEvent, 404: ErrorBody },
        },
      },
      async (req) => {
        const e = await store.events.get(req.params.id);
        if (!e) throw notFound('event', req.params.id);
        return e;
      },
    );
  };
}
