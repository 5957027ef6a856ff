import { defineMetrics } from '../../telemetry/metrics.ts';

/** What `aisoc_llm_requests_total` counts a completion as. */
export const LLM_OUTCOMES = [
  'ok',
  'timeout',
  'error',
  'invalid_output',
  'truncated',
  'circuit_open',
  'cancelled',
] as const;

/**
 * LLM backends' metrics, counted by the shared wrapper (`wrapper.ts`) for
 * every backend, so a backend counts nothing itself.
 *
 * @example llmMetrics(runtime.metrics).llmRequests.inc({ backend: 'openai', outcome: 'ok' })
 */
export const llmMetrics = defineMetrics('llm', (m) => ({
  llmRequests: m.counter({
    name: 'aisoc_llm_requests_total',
    help: 'LLM completions by backend and outcome (ok, timeout, error, invalid_output, truncated, circuit_open, cancelled)',
    labelNames: ['backend', 'outcome'] as const,
  }),
  llmRetries: m.counter({
    name: 'aisoc_llm_retries_total',
    help: 'LLM attempts retried, by backend and reason (rate_limited, server_error, network, timeout)',
    labelNames: ['backend', 'reason'] as const,
  }),
  llmTokens: m.counter({
    name: 'aisoc_llm_tokens_total',
    help: 'Tokens reported by LLM backends, by direction (input, output)',
    labelNames: ['backend', 'direction'] as const,
  }),
  llmCost: m.counter({
    name: 'aisoc_llm_cost_usd_total',
    help: 'Estimated LLM spend in US dollars, from the configured per-1k-token prices',
    labelNames: ['backend'] as const,
  }),
  llmDuration: m.histogram({
    name: 'aisoc_llm_request_duration_seconds',
    help: 'Time for one LLM completion, retries included',
    labelNames: ['backend'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
  }),
}));
