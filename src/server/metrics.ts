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
