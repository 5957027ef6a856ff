import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Receiver metrics, on the runtime's registry. Created on first use and
 * shared by every receiver of that registry (prom-client refuses a name twice).
 *
 * @example receiverMetrics(runtime.metrics.registry).messages.inc({ receiver: 'syslog', transport: 'udp', outcome: 'accepted' })
 */
export function receiverMetrics(registry: Registry) {
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    (registry.getSingleMetric(name) as Gauge<L> | undefined) ??
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  return {
    messages: counter(
      'aisoc_receiver_messages_total',
      'Messages received, by receiver, transport and outcome (accepted, truncated, oversize, dropped_overload, dropped_error, dropped_shutdown)',
      ['receiver', 'transport', 'outcome'] as const,
    ),
    bytes: counter('aisoc_receiver_bytes_total', 'Bytes received, by receiver and transport', [
      'receiver',
      'transport',
    ] as const),
    connections: gauge('aisoc_receiver_connections', 'Open TCP connections', ['receiver'] as const),
    connectionEvents: counter(
      'aisoc_receiver_connections_total',
      'TCP connections by outcome (accepted, refused, idle_timeout, error)',
      ['receiver', 'outcome'] as const,
    ),
    framingErrors: counter(
      'aisoc_receiver_framing_errors_total',
      'TCP streams whose framing broke (a bad octet count); the connection falls back to newline framing',
      ['receiver'] as const,
    ),
    pauses: counter(
      'aisoc_receiver_backpressure_total',
      'Times TCP connections were paused because the pipeline could not take more',
      ['receiver'] as const,
    ),
    buffered: gauge('aisoc_receiver_buffered_lines', 'Lines held by a receiver, not yet submitted', [
      'receiver',
    ] as const),
    batches: counter(
      'aisoc_receiver_batches_total',
      'Batches submitted to the pipeline, by outcome (stored, overloaded, failed)',
      ['receiver', 'outcome'] as const,
    ),
  };
}

export type ReceiverMetrics = ReturnType<typeof receiverMetrics>;
