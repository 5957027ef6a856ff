import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric the product exports, on one registry per runtime (tests build
 * several runtimes in one process). The seed's names are kept as they were:
 * dashboards and alert rules already use them. The default process and Node
 * metrics keep their standard names (`process_cpu_seconds_total`,
 * `nodejs_heap_size_used_bytes`, …) so stock Node.js dashboards work; our
 * own metrics start with `aisoc_`.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    // --- seed contract -------------------------------------------------
    triageRequests: new Counter({
      name: 'triage_requests_total',
      help: 'Triage requests by outcome',
      labelNames: ['status'] as const,
      registers: r,
    }),
    triageDuration: new Histogram({
      name: 'triage_request_duration_seconds',
      help: 'Time to produce a verdict',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    }),
    triageConfidence: new Histogram({
      name: 'triage_confidence_score',
      help: 'Confidence of produced verdicts',
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
      registers: r,
    }),
    mlInferenceLatency: new Histogram({
      name: 'ml_inference_latency_seconds',
      help: 'Model inference latency',
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1],
      registers: r,
    }),
    mlPredictions: new Counter({
      name: 'ml_predictions_total',
      help: 'Predictions by model',
      labelNames: ['model'] as const,
      registers: r,
    }),
    wazuhAlerts: new Counter({
      name: 'wazuh_alerts_total',
      help: 'Wazuh alerts received, by severity',
      labelNames: ['severity'] as const,
      registers: r,
    }),
    wazuhEventsProcessed: new Counter({
      name: 'wazuh_events_processed_total',
      help: 'Wazuh events normalised and stored',
      registers: r,
    }),
    // --- ingestion ---------------------------------------------------------
    ingestRequests: new Counter({
      name: 'aisoc_ingest_requests_total',
      help: 'Ingest requests by source and HTTP status',
      labelNames: ['source', 'status'] as const,
      registers: r,
    }),
    ingestRecords: new Counter({
      name: 'aisoc_ingest_records_total',
      help: 'Records received, by source and outcome (stored, duplicate, dead_letter, refused, skipped)',
      labelNames: ['source', 'outcome'] as const,
      registers: r,
    }),
    ingestBytes: new Counter({
      name: 'aisoc_ingest_bytes_total',
      help: 'Body bytes received for ingestion, after decompression',
      labelNames: ['source'] as const,
      registers: r,
    }),
    // --- pipeline ------------------------------------------------------------
    stageItems: new Counter({
      name: 'aisoc_stage_items_total',
      help: 'Items a stage processed, by outcome (ok, dead_letter, retried)',
      labelNames: ['stage', 'outcome'] as const,
      registers: r,
    }),
    stageDuration: new Histogram({
      name: 'aisoc_stage_batch_duration_seconds',
      help: 'Time a stage spends on one batch',
      labelNames: ['stage'] as const,
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: r,
    }),
    queueDepth: new Gauge({
      name: 'aisoc_queue_depth',
      help: 'Items waiting in a pipeline queue',
      labelNames: ['queue'] as const,
      registers: r,
    }),
    backlog: new Gauge({
      name: 'aisoc_pipeline_backlog_events',
      help: 'Events accepted but not yet processed',
      registers: r,
    }),
    deadLetters: new Counter({
      name: 'aisoc_dead_letters_total',
      help: 'Inputs rejected to the dead-letter table, by stage and source',
      labelNames: ['stage', 'source'] as const,
      registers: r,
    }),
    alertsRaised: new Counter({
      name: 'aisoc_alerts_total',
      help: 'Alerts raised (new) or folded into an existing alert (deduplicated), by severity',
      labelNames: ['severity', 'outcome'] as const,
      registers: r,
    }),
    eventsPurged: new Counter({
      name: 'aisoc_events_purged_total',
      help: 'Events deleted by retention',
      registers: r,
    }),
    // --- admission (overload control) -------------------------------------------------
    admissionEventLoopDelay: new Gauge({
      name: 'aisoc_admission_event_loop_delay_seconds',
      help: 'Largest event-loop delay in the last admission sample window',
      registers: r,
    }),
    admissionRss: new Gauge({
      name: 'aisoc_admission_rss_bytes',
      help: 'Resident set size at the last admission sample',
      registers: r,
    }),
    admissionRefusals: new Counter({
      name: 'aisoc_admission_refusals_total',
      help: 'Input refused before it was read, by reason (queue, inflight: 429; event_loop, memory, shutting_down: 503)',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    // --- knowledge base ------------------------------------------------------------
    knowledgeIndexLoads: new Counter({
      name: 'aisoc_knowledge_index_loads_total',
      help: 'ATT&CK index loads by origin (worker: built on a worker thread; cache: read from <data_dir>/cache; inline: built on the main thread, tests)',
      labelNames: ['origin'] as const,
      registers: r,
    }),
    // --- LLM backends ---------------------------------------------------------------
    llmRequests: new Counter({
      name: 'aisoc_llm_requests_total',
      help: 'LLM completions by backend and outcome (ok, timeout, error, invalid_output, truncated, circuit_open, cancelled)',
      labelNames: ['backend', 'outcome'] as const,
      registers: r,
    }),
    llmRetries: new Counter({
      name: 'aisoc_llm_retries_total',
      help: 'LLM attempts retried, by backend and reason (rate_limited, server_error, network, timeout)',
      labelNames: ['backend', 'reason'] as const,
      registers: r,
    }),
    llmTokens: new Counter({
      name: 'aisoc_llm_tokens_total',
      help: 'Tokens reported by LLM backends, by direction (input, output)',
      labelNames: ['backend', 'direction'] as const,
      registers: r,
    }),
    llmCost: new Counter({
      name: 'aisoc_llm_cost_usd_total',
      help: 'Estimated LLM spend in US dollars, from the configured per-1k-token prices',
      labelNames: ['backend'] as const,
      registers: r,
    }),
    llmDuration: new Histogram({
      name: 'aisoc_llm_request_duration_seconds',
      help: 'Time for one LLM completion, retries included',
      labelNames: ['backend'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
      registers: r,
    }),
    // --- response actions ------------------------------------------------------
    actions: new Counter({
      name: 'aisoc_actions_total',
      help: 'Response action runs by type and outcome (succeeded, dry_run, skipped, failed; rollbacks: rolled_back, rollback_dry_run, rollback_skipped, rollback_failed)',
      labelNames: ['type', 'outcome'] as const,
      registers: r,
    }),
    // --- HTTP --------------------------------------------------------------------
    httpDuration: new Histogram({
      name: 'aisoc_http_request_duration_seconds',
      help: 'HTTP request duration by route, method and status',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
