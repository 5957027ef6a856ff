import type { Logger } from 'pino';
import type { AppConfig } from '../app-config.ts';
import { AisocError, describeError } from '../errors.ts';
import { stableUuidOf, uuidv7 } from '../ids.ts';
import { jsonThread, OFF_THREAD_MIN_BYTES } from '../json-thread.ts';
import { yieldToEventLoop } from '../loop.ts';
import type { EventDraft, NormalisedEvent } from '../schema/event.ts';
import {
  bodyText,
  decodeBody,
  depthExceeds,
  type FramedRecord,
  frameBody,
  MAX_DEPTH,
} from '../sources/framing.ts';
import type { SourceRegistry } from '../sources/index.ts';
import type { Source } from '../sources/types.ts';
import { wazuhMetrics } from '../sources/wazuh/metrics.ts';
import type { DeadLetterInput } from '../store/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { admissionMetrics, ingestMetrics } from './metrics.ts';
import type { PipelineRunner } from './runner.ts';
import { DEFAULT_EVENT_LIMITS, type EventLimits, limitEvent } from './truncate.ts';

export interface RecordError {
  /** Where the record sits in the body: `[3]`, or `[0].Records[5]` for records inside an envelope. */
  at: string;
  line?: number;
  code: string;
  message: string;
  field?: string;
}

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
  /** The first errors, for the caller; every one is in the dead-letter table. */
  errors: RecordError[];
}

const MAX_ERRORS_REPORTED = 20;

/** Bodies above this size (decoded bytes) are decoded, parsed and normalised in separate turns of the event loop. */
const YIELD_ABOVE_BYTES = 256 * 1024;

/** Turn a source's draft into a stored event: ids, ingestion time and defaults. */
export function finalizeEvent(source: string, draft: EventDraft, ingestedAt: string): NormalisedEvent {
  // The draft is the source's fresh object: complete it in place rather than copy it (this runs per event).
  const e = draft as NormalisedEvent;
  // The name is joined here rather than by stableUuid(...parts): same id, no array per event.
  e.id = draft.source_event_id
    ? stableUuidOf(
        `${source}\u0000${draft.source_event_id}\u0000${draft.time ?? ''}\u0000${draft.activity_name ?? ''}\u0000${draft.metadata?.log_name ?? ''}\u0000${draft.device?.hostname ?? ''}`,
      )
    : uuidv7();
  e.source = source;
  e.ingested_at = ingestedAt;
  e.status ??= 'unknown';
  e.observables ??= [];
  e.metadata ??= {};
  // The schema's defaults, which drafts do not pass through: a source may prune an empty list away.
  if (e.finding) {
    e.finding.tags ??= [];
    e.finding.techniques ??= [];
  }
  return e;
}

export interface NormaliseResult {
  events: NormalisedEvent[];
  deadLetters: DeadLetterInput[];
  errors: RecordError[];
  received: number;
  skipped: number;
}

function recordText(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The size limits of `pipeline` config, as {@link limitEvent} takes them. */
export function eventLimitsOf(
  config: Pick<AppConfig['pipeline'], 'max_field_bytes' | 'max_raw_bytes'>,
): EventLimits {
  return { maxFieldBytes: config.max_field_bytes, maxRawBytes: config.max_raw_bytes };
}

/**
 * Run a source over framed records. Never throws for a bad record: it
 * becomes a dead letter with the reason, and the rest go on. Every event
 * leaves held to `limits` (see {@link limitEvent}): this is the one place
 * all sources pass through, so no source cuts fields of its own.
 */
export function normaliseRecords(
  source: Source,
  framed: FramedRecord[],
  ingestedAt: string,
  limits: EventLimits = DEFAULT_EVENT_LIMITS,
): NormaliseResult {
  const out: NormaliseResult = { events: [], deadLetters: [], errors: [], received: 0, skipped: 0 };
  normaliseRange(source, framed, 0, framed.length, ingestedAt, limits, out);
  return out;
}

/** Records normalised between two turns of the event loop by {@link normaliseRecordsYielding}. */
const RECORDS_PER_TURN = 1000;

/**
 * {@link normaliseRecords} for large bodies: the same result, with a turn of
 * the event loop after every {@link RECORDS_PER_TURN} records, so other
 * requests (and `/health`) are answered while a large body is normalised.
 */
export async function normaliseRecordsYielding(
  source: Source,
  framed: FramedRecord[],
  ingestedAt: string,
  limits: EventLimits = DEFAULT_EVENT_LIMITS,
): Promise<NormaliseResult> {
  const out: NormaliseResult = { events: [], deadLetters: [], errors: [], received: 0, skipped: 0 };
  let from = 0;
  while (from < framed.length) {
    const before = out.received;
    let to = from;
    // One framed value may hold many records (an envelope): count records, not values.
    while (to < framed.length && out.received - before < RECORDS_PER_TURN) {
      normaliseRange(source, framed, to, to + 1, ingestedAt, limits, out);
      to++;
    }
    from = to;
    if (from < framed.length) await yieldToEventLoop();
  }
  return out;
}

/** Normalise `framed[from..to)` into `out`; positions in errors are those in `framed`. */
function normaliseRange(
  source: Source,
  framed: FramedRecord[],
  from: number,
  to: number,
  ingestedAt: string,
  limits: EventLimits,
  out: NormaliseResult,
): void {
  const fail = (at: string, line: number | undefined, value: unknown, err: unknown) => {
    const code = err instanceof AisocError ? err.code : 'AISOC_ERR_PARSE';
    const field = err instanceof AisocError ? err.field : undefined;
    const message = describeError(err);
    const dl: DeadLetterInput = {
      source: source.type,
      stage: 'normalise',
      code,
      reason: message,
      record: recordText(value),
    };
    if (field) dl.field = field;
    out.deadLetters.push(dl);
    if (out.errors.length < MAX_ERRORS_REPORTED) {
      const e: RecordError = { at, code, message };
      if (line !== undefined) e.line = line;
      if (field) e.field = field;
      out.errors.push(e);
    }
  };
  const unwrap = source.unwrap;
  for (let i = from; i < to; i++) {
    const { value, line } = framed[i]!;
    if (depthExceeds(value, MAX_DEPTH)) {
      out.received++;
      fail(
        `[${i}]`,
        line,
        '[record nested too deeply]',
        new AisocError('AISOC_ERR_PARSE', `The record nests deeper than ${MAX_DEPTH} levels`),
      );
      continue;
    }
    if (unwrap === undefined) {
      // Most sources have no envelope: no array per record.
      normaliseOne(source, value, i, -1, line, ingestedAt, limits, out, fail);
      continue;
    }
    let records: unknown[];
    try {
      records = unwrap(value);
    } catch (err) {
      out.received++;
      fail(`[${i}]`, line, value, err);
      continue;
    }
    if (records.length === 0) {
      out.received++;
      out.skipped++;
      continue;
    }
    const single = records.length === 1 && records[0] === value;
    for (let j = 0; j < records.length; j++)
      normaliseOne(source, records[j], i, single ? -1 : j, line, ingestedAt, limits, out, fail);
  }
}

/**
 * One record through the source. `j` is the record's place in its envelope,
 * -1 when the record is the framed value itself; the error's `at` text is
 * only built for a failure (this runs per record).
 */
function normaliseOne(
  source: Source,
  rec: unknown,
  i: number,
  j: number,
  line: number | undefined,
  ingestedAt: string,
  limits: EventLimits,
  out: NormaliseResult,
  fail: (at: string, line: number | undefined, value: unknown, err: unknown) => void,
): void {
  out.received++;
  try {
    const drafts = source.normalise(rec);
    if (drafts.length === 0) out.skipped++;
    for (let k = 0; k < drafts.length; k++)
      out.events.push(limitEvent(finalizeEvent(source.type, drafts[k]!, ingestedAt), limits));
  } catch (err) {
    fail(j < 0 ? `[${i}]` : `[${i}][${j}]`, line, rec, err);
  }
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
    let submitted: { stored: number; duplicates: number; dead_letters: number };
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
