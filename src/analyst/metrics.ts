import { defineMetrics } from '../telemetry/metrics.ts';

/** The outcomes `triage_requests_total` counts, each listed at zero from the start. */
export const TRIAGE_STATUSES = ['success', 'fallback', 'error', 'cached'] as const;

/**
 * The analyst's metrics: the seed's `triage_*` names, kept as they were
 * (dashboards and alert rules use them), and ours.
 *
 * @example analystMetrics(runtime.metrics).triageRequests.inc({ status: 'success' })
 */
export const analystMetrics = defineMetrics('analyst', (m) => {
  const set = {
    triageRequests: m.counter({
      name: 'triage_requests_total',
      help: 'Triage requests by outcome',
      labelNames: ['status'] as const,
    }),
    triageDuration: m.histogram({
      name: 'triage_request_duration_seconds',
      help: 'Time to produce a verdict',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    triageConfidence: m.histogram({
      name: 'triage_confidence_score',
      help: 'Confidence of produced verdicts',
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
    }),
    triageDisputed: m.counter({
      name: 'aisoc_triage_disputed_total',
      help: "Model verdicts weaker than the built-in analyst's, stored as disputed (the built-in verdict stands); counted in triage_requests_total as success",
    }),
  };
  // Each outcome at zero from the start: the fallback-rate alert divides by series that must exist.
  for (const status of TRIAGE_STATUSES) set.triageRequests.inc({ status }, 0);
  return set;
});
