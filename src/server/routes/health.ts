import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { describeError } from '../../errors.ts';
import type { ServerDeps } from '../deps.ts';

export function healthRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { runtime } = deps;
  return async (app) => {
    app.get(
      '/health',
      {
        config: { scope: 'public' },
        schema: {
          summary: 'Liveness (no authentication)',
          tags: ['system'],
          response: {
            200: z.object({ status: z.literal('ok'), version: z.string(), uptime_seconds: z.number() }),
          },
        },
      },
      async () => ({
        status: 'ok' as const,
        version: deps.version,
        uptime_seconds: Math.round((Date.now() - deps.startedAt) / 1000),
      }),
    );

    app.get(
      '/ready',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'Readiness: the store answers and the pipeline runs',
          tags: ['system'],
          response: {
            200: z.object({
              ready: z.boolean(),
              store: z.string(),
              runner: z.string(),
              pending: z.number(),
              capacity: z.number(),
            }),
            503: z.object({
              ready: z.boolean(),
              store: z.string(),
              runner: z.string(),
              pending: z.number(),
              capacity: z.number(),
              error: z.string().optional(),
            }),
          },
        },
      },
      async (_req, reply) => {
        const stats = runtime.runner.stats();
        const base = {
          store: runtime.store.engine,
          runner: stats.runner,
          pending: stats.pending,
          capacity: stats.capacity,
        };
        try {
          await runtime.store.ping();
          return { ready: true, ...base };
        } catch (err) {
          return reply.code(503).send({ ready: false, ...base, error: describeError(err) });
        }
      },
    );

    app.get(
      '/metrics',
      { config: { scope: 'read' }, schema: { summary: 'Prometheus metrics', tags: ['system'] } },
      async (_req, reply) => {
        reply.header('content-type', runtime.metrics.registry.contentType);
        return runtime.metrics.registry.metrics();
      },
    );
  };
}
