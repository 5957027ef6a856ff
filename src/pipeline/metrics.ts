import { defineMetrics } from '../telemetry/metrics.ts';

/**
 * Ingestion: bodies and records taken in by the ingest service, whichever
 * way they came (HTTP, webhook, files, receivers).
 *
 * @example ingestMetrics(runtime.metrics).ingestRecords.inc({ source: 'cloudtrail', outcome: 'stored' }, 10)
 */
export const ingestMetrics = defineMetrics('ingest', (m) => ({
  ingestRequests: m.counter({
    name: 'aisoc_ingest_requests_total',
    help: 'Ingest requests by source and HTTP status',
    labelNames: ['source', 'status'] as const,
  }),
  ingestRecords: m.counter({
    name: 'aisoc_ingest_records_total',
    help: 'Records received, by source and outcome (stored, duplicate, dead_letter, refused, skipped)',
    labelNames: ['source', 'outcome'] as const,
  }),
  ingestBytes: m.counter({
    name: 'aisoc_ingest_bytes_total',
    help: 'Body bytes received for ingestion, after decompression',
    labelNames: ['source'] as const,
  }),
}));

/**
 * The runner and its stages: items, batch time, queues, backlog and dead
 * letters. The triage worker and the response service count their items
 * here too, as stages `triage` and `respond`.
 *
 * @example pipelineMetrics(runtime.metrics).stageItems.inc({ stage: 'detect', outcome: 'ok' }, 100)
 */
export const pipelineMetrics = defineMetrics('pipeline', (m) => ({
  stageItems: m.counter({
    name: 'aisoc_stage_items_total',
    help: 'Items a stage processed, by outcome (ok, dead_letter, retried)',
    labelNames: ['stage', 'outcome'] as const,
  }),
  stageDuration: m.histogram({
    name: 'aisoc_stage_batch_duration_seconds',
    help: 'Time a stage spends on one batch',
    labelNames: ['stage'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  }),
  queueDepth: m.gauge({
    name: 'aisoc_queue_depth',
    help: 'Items waiting in a pipeline queue',
    labelNames: ['queue'] as const,
  }),
  backlog: m.gauge({
    name: 'aisoc_pipeline_backlog_events',
    help: 'Events accepted but not yet processed',
  }),
  commitGroupSubmissions: m.histogram({
    name: 'aisoc_commit_group_submissions',
    help: 'Submissions committed together in one transaction (group commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64],
  }),
  deadLetters: m.counter({
    name: 'aisoc_dead_letters_total',
    help: 'Inputs rejected to the dead-letter table, by stage and source',
    labelNames: ['stage', 'source'] as const,
  }),
}));

/**
 * The durable ingest journal (`pipeline.journal`): what is appended and
 * fsynced, what waits to be loaded into the store, and damage found.
 *
 * @example journalMetrics(runtime.metrics).journalFsyncs.inc()
 */
export const journalMetrics = defineMetrics('journal', (m) => ({
  journalPendingBytes: m.gauge({
    name: 'aisoc_journal_pending_bytes',
    help: 'Journal bytes acknowledged but not yet loaded into the store',
  }),
  journalPendingFrames: m.gauge({
    name: 'aisoc_journal_pending_frames',
    help: 'Journal frames (one per ingest request) acknowledged but not yet loaded into the store',
  }),
  journalSegments: m.gauge({
    name: 'aisoc_journal_segments',
    help: 'Journal segment files on disk',
  }),
  journalFsyncs: m.counter({
    name: 'aisoc_journal_fsyncs_total',
    help: 'Journal fdatasync calls (one per group of appended frames)',
  }),
  journalGroupFrames: m.histogram({
    name: 'aisoc_journal_fsync_group_frames',
    help: 'Frames made durable by one fdatasync (group commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64],
  }),
  journalFramesAppended: m.counter({
    name: 'aisoc_journal_frames_appended_total',
    help: 'Frames appended to the journal and fsynced',
  }),
  journalFramesLoaded: m.counter({
    name: 'aisoc_journal_frames_loaded_total',
    help: 'Journal frames loaded into the store',
  }),
  journalCorruptBytes: m.counter({
    name: 'aisoc_journal_corrupt_bytes_total',
    help: 'Damaged journal bytes moved aside to .corrupt files (not loaded)',
  }),
  journalTornTails: m.counter({
    name: 'aisoc_journal_torn_tails_total',
    help: 'Unacknowledged partial frames cut off the end of the journal at start',
  }),
}));

/**
 * Retention of the events log (events the pipeline has processed, past
 * `retention.events_days`).
 *
 * @example retentionMetrics(runtime.metrics).eventsPurged.inc(n)
 */
export const retentionMetrics = defineMetrics('retention', (m) => ({
  eventsPurged: m.counter({
    name: 'aisoc_events_purged_total',
    help: 'Events deleted by retention',
  }),
}));

/** The reasons every runner may refuse input for (the JetStream runner adds `stream`). */
export const ADMISSION_REFUSAL_REASONS = [
  'queue',
  'inflight',
  'event_loop',
  'memory',
  'shutting_down',
] as const;

/**
 * Admission (overload control): what the pressure monitor sees, and input
 * refused before it was read.
 *
 * @example admissionMetrics(runtime.metrics).admissionRefusals.inc({ reason: 'queue' })
 */
export const admissionMetrics = defineMetrics('admission', (m) => {
  const set = {
    admissionEventLoopDelay: m.gauge({
      name: 'aisoc_admission_event_loop_delay_seconds',
      help: 'Largest event-loop delay in the last admission sample window',
    }),
    admissionRss: m.gauge({
      name: 'aisoc_admission_rss_bytes',
      help: 'Resident set size at the last admission sample',
    }),
    admissionRefusals: m.counter({
      name: 'aisoc_admission_refusals_total',
      help: 'Input refused before it was read, by reason (queue, inflight: 429; event_loop, memory, shutting_down: 503)',
      labelNames: ['reason'] as const,
    }),
  };
  // Every reason at zero from the start, so a rate of refusals is 0 rather than no series (the 429 alert).
  for (const reason of ADMISSION_REFUSAL_REASONS) set.admissionRefusals.inc({ reason }, 0);
  return set;
});
