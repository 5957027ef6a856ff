import { defineMetrics } from '../../telemetry/metrics.ts';

/**
 * The JetStream runner's own counts, beside the pipeline's (stage items,
 * batch time, backlog and dead letters are in `pipelineMetrics`). Created
 * when a NATS runner is built: a server on the embedded runner does not list
 * them.
 *
 * @example natsMetrics(runtime.metrics).publishes.inc({ stream: 'events', outcome: 'stored' }, 100)
 */
export const natsMetrics = defineMetrics('nats', (m) => ({
  connected: m.gauge({
    name: 'aisoc_nats_connected',
    help: '1 while the runner is connected to a NATS server, 0 while it reconnects',
  }),
  reconnects: m.counter({
    name: 'aisoc_nats_reconnects_total',
    help: 'Reconnections to a NATS server after the connection was lost',
  }),
  publishes: m.counter({
    name: 'aisoc_nats_publishes_total',
    help: 'Messages published to JetStream, by stream (events, a stage, dead) and outcome (stored, duplicate: dropped by its message id, failed)',
    labelNames: ['stream', 'outcome'] as const,
  }),
  deliveries: m.counter({
    name: 'aisoc_nats_deliveries_total',
    help: 'Messages a stage consumer received, by stage and kind (first, redelivery)',
    labelNames: ['stage', 'kind'] as const,
  }),
  naks: m.counter({
    name: 'aisoc_nats_naks_total',
    help: 'Messages handed back for a later redelivery because their batch could not be stored or passed on, by stage',
    labelNames: ['stage'] as const,
  }),
  poison: m.counter({
    name: 'aisoc_nats_dead_messages_total',
    help: 'Messages moved to the dead-letter subject and table instead of being processed, by stage and reason (decode, max_deliver)',
    labelNames: ['stage', 'reason'] as const,
  }),
  consumerBacklog: m.gauge({
    name: 'aisoc_nats_consumer_backlog',
    help: 'Messages a stage consumer has not yet had acknowledged (pending plus delivered and unacknowledged), as last read',
    labelNames: ['stage'] as const,
  }),
}));
