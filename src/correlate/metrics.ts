import { defineMetrics } from '../telemetry/metrics.ts';

/**
 * The correlator's metrics: alerts raised or folded into one already raised, and levels noise
 * control moved before they were.
 *
 * @example correlateMetrics(runtime.metrics).alertsRaised.inc({ severity: 'high', outcome: 'new' })
 */
export const correlateMetrics = defineMetrics('correlate', (m) => ({
  alertsRaised: m.counter({
    name: 'aisoc_alerts_total',
    help: 'Alerts raised (new) or folded into an existing alert (deduplicated), by severity',
    labelNames: ['severity', 'outcome'] as const,
  }),
  levelChanges: m.counter({
    name: 'aisoc_detection_level_changes_total',
    help: 'Rule detections whose level noise control moved by the rarity of their call, by direction (raised, lowered)',
    labelNames: ['direction'] as const,
  }),
}));
