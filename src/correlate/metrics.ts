import { defineMetrics } from '../telemetry/metrics.ts';

/** Buckets of the time to detect, in seconds: a second to a week (replayed history lands in +Inf). */
export const TIME_TO_DETECT_BUCKETS = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 14_400, 86_400, 604_800];

/**
 * The correlator's metrics: alerts raised or folded into one already
 * raised, incidents opened or grown, how long after its events an alert
 * was raised, and levels noise control moved before alerts were raised.
 *
 * @example correlateMetrics(runtime.metrics).alertsRaised.inc({ severity: 'high', outcome: 'new' })
 */
export const correlateMetrics = defineMetrics('correlate', (m) => ({
  alertsRaised: m.counter({
    name: 'aisoc_alerts_total',
    help: 'Alerts raised (new) or folded into an existing alert (deduplicated), by severity',
    labelNames: ['severity', 'outcome'] as const,
  }),
  incidents: m.counter({
    name: 'aisoc_incidents_total',
    help: 'Incidents opened (new) or changed by new alerts (updated), by severity',
    labelNames: ['severity', 'outcome'] as const,
  }),
  timeToDetect: m.histogram({
    name: 'aisoc_time_to_detect_seconds',
    help: 'Time from the earliest event of a new alert (its first_seen, event time) to the alert being raised, by severity',
    labelNames: ['severity'] as const,
    buckets: TIME_TO_DETECT_BUCKETS,
  }),
  levelChanges: m.counter({
    name: 'aisoc_detection_level_changes_total',
    help: 'Rule detections whose level noise control moved by the rarity of their call, by direction (raised, lowered)',
    labelNames: ['direction'] as const,
  }),
}));
