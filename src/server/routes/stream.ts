import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import { parseCursor, type StreamHub } from '../stream.ts';
import { ErrorBody } from './common.ts';

/** Headers of an event stream: never cached or transformed, never buffered by a proxy. */
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

/**
 * `GET /stream`: Server-Sent Events of alerts and incidents as they change
 * (see {@link StreamHub}), authenticated by the Authorization header like
 * any route (the console reads it with fetch, not EventSource).
 */
export function streamRoutes(hub: StreamHub): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/stream',
      {
        config: { scope: 'read' },
        schema: {
          summary:
            'Server-Sent Events: `event: alert` or `event: incident` with `{id, change, status, severity, priority, title, updated_at}` for each change, a `: ping` every 15 s; resumes after Last-Event-ID',
          tags: ['alerts'],
          headers: z.object({
            'last-event-id': z
              .string()
              .max(64)
              .refine(
                (s) => parseCursor(s) !== undefined,
                'must be an id this stream sent (<microseconds>.<uuid>)',
              )
              .optional()
              .describe('Resume after this event id'),
          }),
          response: {
            200: z.string().describe('text/event-stream'),
            400: ErrorBody,
            429: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        hub.admit();
        await hub.start();
        const key = req.apiKey;
        if (!key) throw new AisocError('AISOC_ERR_UNAUTHORIZED', 'No API key.', { field: 'authorization' });
        const lastId = req.headers['last-event-id'];
        const resume = typeof lastId === 'string' ? parseCursor(lastId) : undefined;
        // Checked again: another stream may have taken the last place while this one waited for the store.
        hub.admit();
        reply.hijack();
        const res = reply.raw;
        // The security headers set so far (helmet's) go out with the stream's own.
        res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...SSE_HEADERS });
        // A first line at once: the client's fetch resolves, and knows how soon to reconnect.
        res.write('retry: 3000\n: connected\n\n');
        hub.add(res, key.id, resume);
      },
    );
  };
}
