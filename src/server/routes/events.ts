import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NormalisedEvent } from '../../schema/event.ts';
import type { ServerDeps } from '../deps.ts';
import { ErrorBody, IdParam, jsonWithArray, notFound, Paging, sendJsonText, TimeRange } from './common.ts';

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
      async (req, reply) => {
        const { items, total } = await store.events.listText(req.query);
        return sendJsonText(reply, jsonWithArray({ total }, 'items', items));
      },
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
      async (req, reply) => {
        const e = await store.events.getText(req.params.id);
        if (e === undefined) throw notFound('event', req.params.id);
        return sendJsonText(reply, e);
      },
    );
  };
}
