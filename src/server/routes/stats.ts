import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import { admissionMetrics } from '../../pipeline/metrics.ts';
import { SEVERITY_ORDER } from '../../schema/common.ts';
import { PRIORITY_BANDS } from '../../store/index.ts';
import type { ServerDeps } from '../deps.ts';
import { ErrorBody, TimeRange } from './common.ts';

const DAY_S = 86_400;
/** Buckets a default bucket size keeps to. */
const DEFAULT_BUCKETS = 96;
/** Buckets a chosen size may make at most. */
const MAX_BUCKETS = 1000;
/** The longest range the overview counts. */
const MAX_RANGE_S = 366 * DAY_S;
/** Bucket sizes a default is chosen from (then whole days). */
const NICE_BUCKETS_S = [60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, DAY_S];
/** Admission refusals that answer 429 (the others are 503s). */
const REFUSALS_429 = new Set(['queue', 'inflight']);

/** The smallest tidy bucket size that cuts `rangeS` into at most 96 buckets. */
export function defaultBucketS(rangeS: number): number {
  for (const b of NICE_BUCKETS_S) if (rangeS / b <= DEFAULT_BUCKETS) return b;
  return Math.ceil(rangeS / DEFAULT_BUCKETS / DAY_S) * DAY_S;
}

const OverviewOut = z.object({
  from: z.string(),
  to: z.string(),
  bucket_s: z.number().int(),
  events_per_source: z.array(z.object({ source: z.string(), count: z.number().int(), per_s: z.number() })),
  alerts_over_time: z.array(
    z.object({
      t: z.string().describe('Start of the bucket'),
      critical: z.number().int(),
      high: z.number().int(),
      medium: z.number().int(),
      low: z.number().int(),
      informational: z.number().int(),
    }),
  ),
  incidents_open_by_priority: z.array(
    z.object({
      band: z.enum(['critical', 'high', 'medium', 'low']),
      min: z.number().describe('Lowest priority in the band'),
      max: z.number().describe('Priority the band stops below (100 is in critical)'),
      count: z.number().int(),
    }),
  ),
  pipeline: z.object({
    pending: z.number(),
    capacity: z.number(),
    dead_letters_total: z.number().int(),
    rejected_total: z
      .number()
      .describe('Input refused with 429 (a full pipeline, too many requests) since start'),
  }),
  top_rules: z.array(z.object({ rule_id: z.string(), title: z.string(), count: z.number().int() })),
  top_entities: z.array(z.object({ type: z.string(), value: z.string(), count: z.number().int() })),
});

export function statsRoutes(deps: ServerDeps): FastifyPluginAsyncZod {
  const { runtime } = deps;
  const { store } = runtime;
  return async (app) => {
    app.get(
      '/stats/overview',
      {
        config: { scope: 'read' },
        schema: {
          summary:
            'The overview: events per source, alerts over time by severity, open incidents by priority, the pipeline, top rules and entities (default: the last 24 h)',
          tags: ['system'],
          querystring: z.object({
            ...TimeRange,
            bucket_s: z.coerce
              .number()
              .int()
              .min(1)
              .max(MAX_RANGE_S)
              .optional()
              .describe(
                `Bucket of alerts_over_time in seconds (default: a tidy size making at most ${DEFAULT_BUCKETS})`,
              ),
          }),
          response: { 200: OverviewOut, 400: ErrorBody },
        },
      },
      async (req) => {
        const toMs = req.query.to ? Date.parse(req.query.to) : Date.now();
        const fromMs = req.query.from ? Date.parse(req.query.from) : toMs - DAY_S * 1000;
        if (fromMs >= toMs)
          throw new AisocError('AISOC_ERR_VALIDATION', 'querystring.to: must be after from.', {
            field: 'querystring.to',
          });
        const rangeS = (toMs - fromMs) / 1000;
        if (rangeS > MAX_RANGE_S)
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            'querystring.from: the range may be at most 366 days.',
            {
              field: 'querystring.from',
            },
          );
        const bucketS = req.query.bucket_s ?? defaultBucketS(rangeS);
        const buckets = Math.ceil(rangeS / bucketS);
        if (buckets > MAX_BUCKETS)
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            `querystring.bucket_s: ${bucketS} s makes ${buckets} buckets of the range; at most ${MAX_BUCKETS}.`,
            { field: 'querystring.bucket_s' },
          );
        const w = { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() };

        const perSource = await store.stats.eventsPerSource(w);
        const overTime = Array.from({ length: buckets }, (_, i) => ({
          t: new Date(fromMs + i * bucketS * 1000).toISOString(),
          critical: 0,
          high: 0,
          medium: 0,
          low: 0,
          informational: 0,
        }));
        for (const row of await store.stats.alertsOverTime(w, bucketS)) {
          const b = overTime[row.bucket];
          if (b && SEVERITY_ORDER.includes(row.severity)) b[row.severity] += row.count;
        }
        const bands = await store.stats.openIncidentsByBand();
        const stats = runtime.runner.stats();
        let rejected = 0;
        for (const v of (await admissionMetrics(runtime.metrics).admissionRefusals.get()).values)
          if (REFUSALS_429.has(String(v.labels.reason))) rejected += v.value;
        return {
          from: w.from,
          to: w.to,
          bucket_s: bucketS,
          events_per_source: perSource.map((s) => ({
            ...s,
            per_s: Math.round((s.count / rangeS) * 1000) / 1000,
          })),
          alerts_over_time: overTime,
          incidents_open_by_priority: PRIORITY_BANDS.map((b) => ({ ...b, count: bands.get(b.band) ?? 0 })),
          pipeline: {
            pending: stats.pending,
            capacity: stats.capacity,
            dead_letters_total: await store.deadLetters.count(),
            rejected_total: rejected,
          },
          top_rules: await store.stats.topRules(w),
          top_entities: await store.stats.topEntities(w),
        };
      },
    );
  };
}
