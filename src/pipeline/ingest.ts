import type { Logger } from 'pino';
import type { AppConfig } from '../app-config.ts';
import { AisocError } from '../errors.ts';
import { jsonThread, OFF_THREAD_MIN_BYTES } from '../json-thread.ts';
import { yieldToEventLoop } from '../loop.ts';
import { bodyText, decodeBody, type FramedRecord, frameBody } from '../sources/framing.ts';
import type { SourceRegistry } from '../sources/index.ts';
import type { EventLimits } from '../sources/limits.ts';
import { normaliseRecordsYielding, type RecordError } from '../sources/normalise.ts';
import type { Source } from '../sources/types.ts';
import { wazuhMetrics } from '../sources/wazuh/metrics.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { admissionMetrics, ingestMetrics } from './metrics.ts';
import type { PipelineRunner, SubmitResult } from './runner.ts';

export interface IngestOutcome {
  source: string;
  /** Records found in the body (after unwrapping envelopes). */
  received: number;
  /** New events stored. */
  stored: number;
  /** Events already stored (same source id), not stored again. */
  duplicates: number;
  dead_letters: number;
  /** Records counted but not stored as events (digest files, statistics records). */
  skipped: number;
  /**
   * Present (true) when `pipeline.journal` is on: the events are durable in
   * the ingest journal and load into the store shortly; `stored` counts
   * them, and duplicates of events stored earlier are dropped as they load.
   */
  journaled?: boolean;
  /** The first errors, for the caller; every one is in the dead-letter table. */
  errors: RecordError[];
}

/** Bodies above this size (decoded bytes) are decoded, parsed and normalised in separate turns of the event loop. */
const YIELD_ABOVE_BYTES = 256 * 1024;

/** The size limits of `pipeline` config, as `limitEvent` (`src/sources/limits.ts`) takes them. */
export function eventLimitsOf(
  config: Pick<AppConfig['pipeline'], 'max_field_bytes' | 'max_raw_bytes'>,
): EventLimits {
  return { maxFieldBytes: config.max_field_bytes, maxRawBytes: config.max_raw_bytes };
}

export interface IngestServiceDeps {
  sources: SourceRegistry;
  runner: PipelineRunner;
  metrics: Metrics;
  config: AppConfig;
  logger: Logger;
}

/**
 * A slot among the ingest requests being handled at once, taken before the
 * request's body is read (`IngestService.admitRequest`). `release` is
 * idempotent: the route releases it when ingestion ends, the server again
 * when the response is sent or the client goes away.
 */
export interface IngestPermit {
  release(): void;
}

/**
 * Turns bodies and records into durable events: decode, frame, normalise,
 * then submit to the runner, which resolves once they are stored. Used by the
 * HTTP API, the CLI and the listeners alike.
 */
export class IngestService {
  private inflight = 0;
  private readonly limits: EventLimits;
  private readonly metrics;

  constructor(private readonly deps: IngestServiceDeps) {
    this.limits = eventLimitsOf(deps.config.pipeline);
    this.metrics = {
      ...ingestMetrics(deps.metrics),
      ...admissionMetrics(deps.metrics),
      ...wazuhMetrics(deps.metrics),
    };
  }

  /** Ingest requests holding a slot now. */
  get inflightRequests(): number {
    return this.inflight;
  }

  /**
   * Admit one ingest request before its body is read: the runner must admit
   * input (not shutting down, queue not full, event loop and memory within
   * bounds) and fewer than `pipeline.max_inflight_requests` may be in
   * progress, so bodies held in memory at once stay bounded. Throws
   * `AISOC_ERR_OVERLOADED` (429) or `AISOC_ERR_UNDER_PRESSURE` /
   * `AISOC_ERR_SHUTTING_DOWN` (503), each with a retry hint.
   */
  admitRequest(): IngestPermit {
    const { pipeline } = this.deps.config;
    this.deps.runner.admit(1);
    if (this.inflight >= pipeline.max_inflight_requests) {
      this.metrics.admissionRefusals.inc({ reason: 'inflight' });
      throw new AisocError(
        'AISOC_ERR_OVERLOADED',
        `${this.inflight} ingest requests are already in progress; retry shortly.`,
        { retryAfterSeconds: 1 },
      );
    }
    this.inflight++;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.inflight--;
      },
    };
  }

  /**
   * Decode and ingest a request body for `sourceType`. `permit` is the slot
   * the server took before reading the body; without one (callers outside
   * HTTP), a slot is taken here. A large body's memory may be moved to the
   * JSON thread: do not read `body` afterwards.
   */
  async ingestBody(
    sourceType: string,
    body: Buffer,
    contentEncoding?: string,
    permit?: IngestPermit,
  ): Promise<IngestOutcome> {
    const source = this.deps.sources.get(sourceType);
    const { server } = this.deps.config;
    let slot: IngestPermit;
    try {
      slot = permit ?? this.admitRequest();
    } catch (err) {
      this.metrics.ingestRecords.inc({ source: sourceType, outcome: 'refused_unparsed' });
      throw err;
    }
    try {
      const decoded = await decodeBody(body, contentEncoding, server.decompressed_limit_bytes);
      this.metrics.ingestBytes.inc({ source: sourceType }, decoded.length);
      // Decoding, parsing and normalising a large body are each tens of milliseconds of
      // work that nothing else interrupts (decodeBody resolves at once for plain bodies):
      // a turn of the event loop between them keeps other requests answered.
      const large = decoded.length > YIELD_ABOVE_BYTES;
      if (large) await yieldToEventLoop();
      const framed = await this.frame(source, decoded);
      if (framed.length === 0) {
        throw new AisocError('AISOC_ERR_VALIDATION', 'The body holds no records', { field: 'body' });
      }
      if (large) await yieldToEventLoop();
      return await this.ingestFramed(source, framed);
    } finally {
      slot.release();
    }
  }

  /**
   * Frame a body: a large JSON body that is one value (a CloudTrail file, a
   * big array) is parsed on the JSON thread, giving the records `frameBody`
   * gives without the main thread decoding and parsing megabytes; anything
   * else (small, lines, NDJSON, malformed) is framed inline, with the usual
   * errors.
   */
  private async frame(source: Source, decoded: Buffer): Promise<FramedRecord[]> {
    let bytes = decoded;
    if (source.framing === 'json' && decoded.length >= OFF_THREAD_MIN_BYTES) {
      const r = await jsonThread.parse(decoded);
      if (r.ok) return Array.isArray(r.value) ? r.value.map((value) => ({ value })) : [{ value: r.value }];
      // `decoded` may have been moved to the thread; these are the same bytes, handed back.
      bytes = r.bytes;
    }
    return frameBody(bodyText(bytes), source.framing);
  }

  /** Ingest records already framed (files read by the CLI, syslog lines). */
  async ingestFramed(source: Source, framed: FramedRecord[]): Promise<IngestOutcome> {
    const { runner } = this.deps;
    const metrics = this.metrics;
    try {
      // Checked again now the count is known (and before the costly part): the request was admitted as one.
      runner.admit(framed.length);
    } catch (err) {
      metrics.ingestRecords.inc({ source: source.type, outcome: 'refused' }, framed.length);
      throw err;
    }
    const n = await normaliseRecordsYielding(source, framed, new Date().toISOString(), this.limits);
    let submitted: SubmitResult;
    try {
      submitted = await runner.submit({ events: n.events, deadLetters: n.deadLetters });
    } catch (err) {
      metrics.ingestRecords.inc({ source: source.type, outcome: 'refused' }, n.received);
      throw err;
    }
    metrics.ingestRecords.inc({ source: source.type, outcome: 'stored' }, submitted.stored);
    metrics.ingestRecords.inc({ source: source.type, outcome: 'duplicate' }, submitted.duplicates);
    metrics.ingestRecords.inc({ source: source.type, outcome: 'dead_letter' }, submitted.dead_letters);
    metrics.ingestRecords.inc({ source: source.type, outcome: 'skipped' }, n.skipped);
    if (source.type === 'wazuh') metrics.wazuhEventsProcessed.inc(submitted.stored);
    // By severity, for batches that stored something (submit does not say which of a partly-duplicate batch were new).
    if (source.type === 'wazuh' && submitted.stored > 0)
      for (const e of n.events) metrics.wazuhAlerts.inc({ severity: e.finding?.severity ?? 'informational' });
    const outcome: IngestOutcome = {
      source: source.type,
      received: n.received,
      stored: submitted.stored,
      duplicates: submitted.duplicates,
      dead_letters: submitted.dead_letters,
      skipped: n.skipped,
      errors: n.errors,
    };
    if (submitted.journaled) outcome.journaled = true;
    if (n.events.length === 0 && n.skipped === 0 && n.deadLetters.length > 0) {
      const first = n.errors[0];
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        `No record could be normalised as ${source.type}: ${first?.at ?? ''} ${first?.message ?? ''}`.trim(),
        { field: first?.field ? `${first.at}.${first.field}` : first?.at, details: { outcome } },
      );
    }
    return outcome;
  }
}
