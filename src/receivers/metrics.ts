import { defineMetrics } from '../telemetry/metrics.ts';

/**
 * Receiver metrics, shared by every receiver of a runtime. Created when the
 * first receiver starts, so a server without receivers does not list them.
 *
 * @example receiverMetrics(runtime.metrics).messages.inc({ receiver: 'syslog', transport: 'udp', outcome: 'accepted' })
 */
export const receiverMetrics = defineMetrics('receivers', (m) => ({
  messages: m.counter({
    name: 'aisoc_receiver_messages_total',
    help: 'Messages received, by receiver, transport and outcome (accepted, truncated, oversize, dropped_overload, dropped_error, dropped_shutdown)',
    labelNames: ['receiver', 'transport', 'outcome'] as const,
  }),
  bytes: m.counter({
    name: 'aisoc_receiver_bytes_total',
    help: 'Bytes received, by receiver and transport',
    labelNames: ['receiver', 'transport'] as const,
  }),
  connections: m.gauge({
    name: 'aisoc_receiver_connections',
    help: 'Open TCP connections',
    labelNames: ['receiver'] as const,
  }),
  connectionEvents: m.counter({
    name: 'aisoc_receiver_connections_total',
    help: 'TCP connections by outcome (accepted, refused, idle_timeout, error)',
    labelNames: ['receiver', 'outcome'] as const,
  }),
  framingErrors: m.counter({
    name: 'aisoc_receiver_framing_errors_total',
    help: 'TCP streams whose framing broke (a bad octet count); the connection falls back to newline framing',
    labelNames: ['receiver'] as const,
  }),
  pauses: m.counter({
    name: 'aisoc_receiver_backpressure_total',
    help: 'Times TCP connections were paused because the pipeline could not take more',
    labelNames: ['receiver'] as const,
  }),
  buffered: m.gauge({
    name: 'aisoc_receiver_buffered_lines',
    help: 'Lines held by a receiver, not yet submitted',
    labelNames: ['receiver'] as const,
  }),
  batches: m.counter({
    name: 'aisoc_receiver_batches_total',
    help: 'Batches submitted to the pipeline, by outcome (stored, overloaded, failed)',
    labelNames: ['receiver', 'outcome'] as const,
  }),
}));

export type ReceiverMetrics = ReturnType<typeof receiverMetrics>;
