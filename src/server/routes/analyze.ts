import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AisocError, describeError } from '../../errors.ts';
import { jsonThread, OFF_THREAD_MIN_BYTES } from '../../json-thread.ts';
import { yieldToEventLoop } from '../../loop.ts';
import type { ResponseComponents } from '../../respond/setup.ts';
import { SecurityAlert, StoredVerdict, TriageResponse } from '../../schema/verdict.ts';
import type { ServerDeps } from '../deps.ts';
import { ErrorBody, IdParam, queryBoolean } from './common.ts';

export const BATCH_MAX = 100;
const BATCH_CONCURRENCY = 4;

export function responseOf(deps: ServerDeps): ResponseComponents {
  const r = deps.runtime.response;
  if (!r)
    throw new AisocError(
      'AISOC_ERR_STORE',
      'The analyst and response engine are not running in this process',
      { retryAfterSeconds: 5 },
    );
  return r;
}

/**
 * The stored verdict itself (what the console reads), with `verdict` (the
 * same record, where clients before it read it) and `cached`.
 */
const AnalyzeOut = StoredVerdict.extend({
  verdict: StoredVerdict.nullable().describe('The same stored verdict (kept for earlier clients)'),
  cached: z.boolean().describe('Whether a cached verdict was returned (force=false only)'),
});

/**
 * The seed answers every field of a TriageResponse, the optional ones as
 * null rather than absent: workflows built for it read them by path.
 */
export function withSeedNulls(r: z.infer<typeof TriageResponse>): z.infer<typeof TriageResponse> {
  return {
    ...r,
    false_positive_reason: r.false_positive_reason ?? null,
    ml_prediction: r.ml_prediction ?? null,
    ml_confidence: r.ml_confidence ?? null,
  };
}

/** The seed's triage API (`/analyze`, `/batch`) and analysis of stored alerts and incidents. */
export function analyzeRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  return async (app) => {
    // A /batch body may be 8 MiB: parse large ones on the JSON thread, so the main thread
    // is not held up for the tens of milliseconds parsing takes. Small bodies, and bodies
    // the thread cannot parse, go through Fastify's own parser (and its errors), with the
    // same prototype-poisoning settings as the rest of the app.
    const inline = app.getDefaultJsonParser(
      app.initialConfig.onProtoPoisoning ?? 'error',
      app.initialConfig.onConstructorPoisoning ?? 'error',
    );
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
      const bytes = body as Buffer;
      if (bytes.length < OFF_THREAD_MIN_BYTES) return inline(req, bytes.toString('utf8'), done);
      jsonThread.parse(bytes, { scrub: true }).then(
        (r) => (r.ok ? done(null, r.value) : inline(req, r.bytes.toString('utf8'), done)),
        (err: Error) => done(err, undefined),
      );
    });
    app.post(
      '/analyze',
      {
        config: { scope: 'analyst' },
        schema: {
          summary:
            'Triage one alert (the seed contract): a SecurityAlert in, a TriageResponse with evidence out',
          tags: ['analyst'],
          body: SecurityAlert,
          response: { 200: TriageResponse, 400: ErrorBody },
        },
      },
      async (req) => withSeedNulls((await responseOf(deps).analyst.analyzeSecurityAlert(req.body)).response),
    );

    app.post(
      '/batch',
      {
        config: { scope: 'analyst' },
        bodyLimit: 8 * 1024 * 1024,
        schema: {
          summary: `Triage up to ${BATCH_MAX} alerts with bounded concurrency`,
          tags: ['analyst'],
          body: z.array(SecurityAlert).max(BATCH_MAX),
          response: {
            200: z.object({
              total: z.number(),
              successful: z.number(),
              failed: z.number(),
              processing_time_seconds: z.number(),
              results: z.array(TriageResponse),
              errors: z.array(z.object({ alert_id: z.string(), error: z.string() })),
            }),
            400: ErrorBody,
          },
        },
      },
      async (req) => {
        const analyst = responseOf(deps).analyst;
        const started = performance.now();
        const results: Array<z.infer<typeof TriageResponse> | undefined> = new Array(req.body.length);
        const errors: Array<{ alert_id: string; error: string }> = [];
        let next = 0;
        await Promise.all(
          Array.from({ length: Math.min(BATCH_CONCURRENCY, req.body.length) }, async () => {
            while (next < req.body.length) {
              const i = next++;
              // Analysis answers through promises that resolve at once (the store, the cache), so
              // without this turn of the event loop the whole batch would run as one block and
              // hold up every other request, /health included, until it ends.
              await yieldToEventLoop();
              const sa = req.body[i]!;
              try {
                results[i] = withSeedNulls((await analyst.analyzeSecurityAlert(sa)).response);
              } catch (err) {
                errors.push({ alert_id: sa.alert_id, error: describeError(err) });
              }
            }
          }),
        );
        const ok = results.filter((r): r is z.infer<typeof TriageResponse> => r !== undefined);
        return {
          total: req.body.length,
          successful: ok.length,
          failed: errors.length,
          processing_time_seconds: Math.round(performance.now() - started) / 1000,
          results: ok,
          errors,
        };
      },
    );

    for (const kind of ['alerts', 'incidents'] as const) {
      app.post(
        `/${kind}/:id/analyze`,
        {
          config: { scope: 'analyst' },
          schema: {
            summary: `Analyse a stored ${kind === 'alerts' ? 'alert' : 'incident'} again and store the verdict (force=false reuses a cached verdict of the same input, analyst and knowledge version)`,
            tags: ['analyst'],
            params: IdParam,
            querystring: z.object({
              force: queryBoolean(
                'Analyse afresh (the default: a person asking wants a new verdict); false reuses a cached one',
              ).default(true),
            }),
            response: { 200: AnalyzeOut, 404: ErrorBody },
          },
        },
        async (req) => {
          const analyst = responseOf(deps).analyst;
          const out =
            kind === 'alerts'
              ? await analyst.analyzeAlert(req.params.id, { force: req.query.force })
              : await analyst.analyzeIncident(req.params.id, { force: req.query.force });
          // Subjects in the store are always analysed with store: true, so there is a stored verdict.
          if (!out.stored) throw new AisocError('AISOC_ERR_INTERNAL', 'The verdict was not stored.');
          return { ...out.stored, verdict: out.stored, cached: out.cached };
        },
      );
    }
  };
}
