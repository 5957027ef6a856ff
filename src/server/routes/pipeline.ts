import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sourceCoverage } from '../../detect/coverage.ts';
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
              journal: z
                .object({
                  pending_bytes: z
                    .number()
                    .describe('Journal bytes acknowledged and not yet loaded into the store'),
                  pending_frames: z
                    .number()
                    .describe('Journal frames (one per ingest request) not yet loaded'),
                  pending_events: z.number().describe('Events in those frames (counted in pending too)'),
                  segments: z.number().describe('Segment files on disk'),
                  checkpoint: z.number().describe('Journal position the store holds everything before'),
                })
                .optional()
                .describe('The ingest journal, when pipeline.journal.enabled'),
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
          summary: 'Registered sources, with the rules that read each and the events each sent lately',
          tags: ['ingest'],
          response: {
            200: z.object({
              items: z.array(
                z.object({
                  type: z.string(),
                  description: z.string(),
                  rules: z
                    .number()
                    .int()
                    .describe(
                      'Detection rules that read its events (Sigma rules and correlations); 0 with no verdicts: its events raise no alert',
                    ),
                  verdicts: z
                    .string()
                    .nullable()
                    .describe(
                      "Which of its records carry the product's own verdict, passed through as alerts; null when none",
                    ),
                  events_last_hour: z.number().int().describe('Events ingested in the last hour'),
                  per_s: z.number().describe('Events ingested per second over the last 5 minutes'),
                  last_event_at: z
                    .string()
                    .nullable()
                    .describe(
                      'Time of its latest event (the event’s own time, not after now); null when none',
                    ),
                }),
              ),
            }),
          },
        },
      },
      async () => {
        const sources = runtime.sources.describe();
        const coverage = new Map(sourceCoverage(runtime.detectors, sources).map((c) => [c.type, c.rules]));
        const activity = await runtime.store.stats.sourceActivity(
          sources.map((s) => s.type),
          new Date().toISOString(),
        );
        return {
          items: sources.map((s) => {
            const a = activity.get(s.type);
            return {
              type: s.type,
              description: s.description,
              rules: coverage.get(s.type) ?? 0,
              verdicts: s.verdicts ?? null,
              events_last_hour: a?.last_hour ?? 0,
              per_s: Math.round(((a?.last_5m ?? 0) / 300) * 1000) / 1000,
              last_event_at: a?.last_event_at ?? null,
            };
          }),
        };
      },
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
