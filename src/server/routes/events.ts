import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NormalisedEvent } from '../../schema/event.ts';
import { ipFilter, MAX_TEXT_QUERY } from '../../store/index.ts';
import type { ServerDeps } from '../deps.ts';
import {
  ErrorBody,
  IdParam,
  jsonWithArray,
  notFound,
  Paging,
  queryText,
  sendJsonText,
  TimeRange,
} from './common.ts';

const IpQuery = z
  .string()
  .max(64)
  .transform((s, ctx) => {
    const ip = ipFilter(s);
    if (ip === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be an IPv4 or IPv6 address, or a CIDR block such as 203.0.113.0/24',
      });
      return z.NEVER;
    }
    return ip;
  })
  .describe(
    'Source or destination address (src_endpoint.ip, dst_endpoint.ip), IPv4 or IPv6, or a CIDR block such as 203.0.113.0/24; an IPv4-mapped IPv6 address (::ffff:203.0.113.5) is the IPv4 address',
  );

export const EventsQuery = z.object({
  source: queryText(64, 'Source type, e.g. cloudtrail').optional(),
  class_uid: z.coerce.number().int().optional().describe('OCSF class id'),
  ...TimeRange,
  user: queryText(256, 'User name (actor.user.name), any case, whole name').optional(),
  ip: IpQuery.optional(),
  host: queryText(
    255,
    'Host name of the reporting device, the source or the destination (device.hostname, src_endpoint.hostname, dst_endpoint.hostname), any case, whole name',
  ).optional(),
  q: queryText(
    MAX_TEXT_QUERY,
    'Free text: words of the message, activity, status detail, user name, command lines, file path, cloud operation and error, URL, DNS query, finding title and host names (not user agents, resource ids or the raw record); any case, whole words, every word; "a phrase" for adjacent words, or between alternatives; a leading - is ignored',
  )
    .refine((s) => /[\p{L}\p{N}]/u.test(s), 'must contain a letter or a digit')
    .optional(),
  ...Paging,
});

export function eventRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { store } = deps.runtime;
  return async (app) => {
    app.get(
      '/events',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'List events, newest first, by source, class, time, user, address, host and free text',
          tags: ['events'],
          querystring: EventsQuery,
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
