import { defineMetrics } from '../../telemetry/metrics.ts';

/**
 * The ML service's Prometheus metrics: the seed's `ml_*` names, kept as they
 * were. (`metrics.ts` beside this file is something else: the scores a
 * model is evaluated by.)
 *
 * @example mlMetrics(runtime.metrics).mlPredictions.inc({ model: 'cicids' }, 10)
 */
export const mlMetrics = defineMetrics('ml', (m) => ({
  // By model, and with buckets past the seed's 500 ms alert (MLInferenceHighLatency): with 0.1 s as the
  // highest bucket, histogram_quantile could never report more than 0.1 s and the alert could never fire.
  mlInferenceLatency: m.histogram({
    name: 'ml_inference_latency_seconds',
    help: 'Model inference latency, by model (one call may score many feature vectors)',
    labelNames: ['model'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  }),
  mlPredictions: m.counter({
    name: 'ml_predictions_total',
    help: 'Predictions by model',
    labelNames: ['model'] as const,
  }),
}));
