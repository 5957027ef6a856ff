import { defineMetrics } from '../telemetry/metrics.ts';

/**
 * The HTTP server's metrics. (Ingest requests by status are the ingest
 * service's: `ingestMetrics` in `src/pipeline/metrics.ts`.)
 *
 * @example httpMetrics(runtime.metrics).httpDuration.observe({ route: '/health', method: 'GET', status: '200' }, 0.002)
 */
export const httpMetrics = defineMetrics('http', (m) => ({
  httpDuration: m.histogram({
    name: 'aisoc_http_request_duration_seconds',
    help: 'HTTP request duration by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
  }),
}));

/**
 * `GET /stream`'s metrics: streams open, events written to them, and streams
 * the server dropped (a client too slow to read, a revoked key).
 *
 * @example streamMetrics(runtime.metrics).streamClients.set(3)
 */
export const streamMetrics = defineMetrics('stream', (m) => ({
  streamClients: m.gauge({
    name: 'aisoc_stream_clients',
    help: 'GET /stream connections open',
  }),
  streamEvents: m.counter({
    name: 'aisoc_stream_events_total',
    help: 'Server-sent events written to GET /stream clients, by kind (alert, incident)',
    labelNames: ['kind'] as const,
  }),
  streamDropped: m.counter({
    name: 'aisoc_stream_clients_dropped_total',
    help: 'GET /stream connections the server closed, by reason (slow: unsent bytes over 1 MiB; revoked: the key was revoked)',
    labelNames: ['reason'] as const,
  }),
}));
