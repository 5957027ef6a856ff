import { defineMetrics } from '../../telemetry/metrics.ts';

/**
 * Wazuh's metrics: the seed's `wazuh_*` names, kept as they were. The ingest
 * service counts them for bodies of the `wazuh` source (sources themselves
 * do no I/O and count nothing).
 *
 * @example wazuhMetrics(runtime.metrics).wazuhAlerts.inc({ severity: 'high' })
 */
export const wazuhMetrics = defineMetrics('wazuh', (m) => ({
  wazuhAlerts: m.counter({
    name: 'wazuh_alerts_total',
    help: 'Wazuh alerts received, by severity',
    labelNames: ['severity'] as const,
  }),
  wazuhEventsProcessed: m.counter({
    name: 'wazuh_events_processed_total',
    help: 'Wazuh events normalised and stored',
  }),
}));
