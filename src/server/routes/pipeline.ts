import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DeadLetter } from '../../schema/case.ts';
import type { ServerDeps } from '../deps.ts';
import { Paging } from './common.ts';

export function pipelineRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { runtime } = deps;
  return async (app) => {
    app.get(
      '/pipeline',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'Pipeline state: backlog, capacity, per-stage counts',
          tags: ['system'],
          response: {
            200: z.object({
              runner: z.string(),
              pending: z.number(),
              capacity: z.number(),
              processed: z.number(),
              checkpoint: z.number(),
              stages: z.array(
                z.object({
                  name: z.string(),
                  processed: z.number(),
                  dead_lettered: z.number(),
                  retries: z.number(),
                  queued_batches: z.number(),
                }),
              ),
            }),
          },
        },
      },
      async () => runtime.runner.stats(),
    );

    app.get(
      '/sources',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'Registered sources',
          tags: ['ingest'],
          response: {
            200: z.object({ items: z.array(z.object({ type: z.string(), description: z.string() })) }),
          },
        },
      },
      async () => ({ items: runtime.sources.describe() }),
    );

    app.get(
      '/dead-letters',
      {
        config: { scope: 'read' },
        schema: {
          summary: 'Rejected inputs with their reasons, newest first',
          tags: ['ingest'],
          querystring: z.object({
            source: z.string().max(64).optional(),
            stage: z.string().max(64).optional(),
            ...Paging,
          }),
          response: { 200: z.object({ items: z.array(DeadLetter), total: z.number() }) },
        },
      },
      async (req) => runtime.store.deadLetters.list(req.query),
    );
  };
}
