import { defineMetrics } from '../telemetry/metrics.ts';

/** Buckets of the time to close a case, in seconds: five minutes to thirty days. */
export const TIME_TO_CLOSE_BUCKETS = [
  300, 900, 1800, 3600, 14_400, 28_800, 86_400, 259_200, 604_800, 2_592_000,
];

/**
 * Case management's metrics: cases opened, and how long a case stayed open
 * (from its `created_at` to its `closed_at`).
 *
 * @example casesMetrics(runtime.metrics).timeToClose.observe({ resolution: 'true_positive' }, 3600)
 */
export const casesMetrics = defineMetrics('cases', (m) => ({
  opened: m.counter({
    name: 'aisoc_cases_opened_total',
    help: 'Cases opened, by severity',
    labelNames: ['severity'] as const,
  }),
  timeToClose: m.histogram({
    name: 'aisoc_case_time_to_close_seconds',
    help: 'Time from a case being opened (created_at) to being closed (closed_at), by resolution',
    labelNames: ['resolution'] as const,
    buckets: TIME_TO_CLOSE_BUCKETS,
  }),
}));
