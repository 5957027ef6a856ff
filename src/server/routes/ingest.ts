import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ingestMetrics } from '../../pipeline/metrics.ts';
import type { ServerDeps } from '../deps.ts';
import { ErrorBody } from './common.ts';

const Outcome = z.object({
  source: z.string(),
  received: z.number().describe('Records found in the body'),
  stored: z
    .number()
    .describe(
      'New events stored (durable before this response); with journaled: true, events made durable in the ingest journal, of which duplicates of events stored earlier are dropped when the journal is loaded',
    ),
  duplicates: z
    .number()
    .describe('Events already stored, not stored twice (journaled: only duplicates within this request)'),
  dead_letters: z.number().describe('Records rejected, kept in the dead-letter table with a reason'),
  skipped: z.number().describe('Records counted but not stored as events (digests, statistics)'),
  journaled: z
    .boolean()
    .optional()
    .describe(
      'Present and true when pipeline.journal is on: the events are durable in the ingest journal and load into the store shortly after (GET /pipeline shows journal.pending_frames); until then GET /events does not show them',
    ),
  errors: z.array(
    z.object({
      at: z.string(),
      line: z.number().optional(),
      code: z.string(),
      message: z.string(),
      field: z.string().optional(),
    }),
  ),
});

/**
 * `POST /ingest/:source`: JSON, JSON arrays and NDJSON, optionally gzip,
 * deflate or brotli. The body is read raw (whatever the content type) and
 * decoded by the source, so this route has its own content-type parser.
 */
export function ingestRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { runtime } = deps;
  const { ingestRequests } = ingestMetrics(runtime.metrics);
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    app.post(
      '/ingest/:source',
      {
        config: { scope: 'ingest' },
        schema: {
          summary: 'Ingest telemetry for a source',
          description:
            'The body is JSON, a JSON array, or NDJSON (gzip/deflate/br accepted via Content-Encoding). Events are durable when the response arrives: committed to the store, or, with pipeline.journal on (journaled: true in the response), fsynced to the ingest journal, from which they load into the store shortly after, dropping duplicates of events stored earlier. Malformed bodies are refused whole; records that fail normalisation go to the dead-letter table.',
          tags: ['ingest'],
          params: z.object({
            source: z
              .string()
              .min(1)
              .max(64)
              .regex(/^[a-z0-9_-]+$/, 'must be a source type such as cloudtrail'),
          }),
          response: {
            202: Outcome,
            400: ErrorBody,
            404: ErrorBody,
            413: ErrorBody,
            422: ErrorBody,
            429: ErrorBody,
            503: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const source = req.params.source;
        try {
          const outcome = await runtime.ingest.ingestBody(
            source,
            body,
            req.headers['content-encoding'],
            req.ingestPermit,
          );
          ingestRequests.inc({ source, status: '202' });
          return reply.code(202).send(outcome);
        } catch (err) {
          const status = (err as { status?: number }).status ?? 500;
          ingestRequests.inc({
            source: runtime.sources.has(source) ? source : 'unknown',
            status: String(status),
          });
          throw err;
        }
      },
    );
  };
}
