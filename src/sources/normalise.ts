import { AisocError, describeError } from '../errors.ts';
import { stableUuidOf, uuidv7 } from '../ids.ts';
import { yieldToEventLoop } from '../loop.ts';
import type { DeadLetter } from '../schema/case.ts';
import type { EventDraft, NormalisedEvent } from '../schema/event.ts';
import { type FramedRecord, MAX_DEPTH } from './framing.ts';
import {
  DEFAULT_EVENT_LIMITS,
  type EventLimits,
  limitEvent,
  type RecordScan,
  recordsWithin,
  scanEnvelope,
  scanRecord,
  textWithin,
} from './limits.ts';
import type { Source } from './types.ts';

/**
 * Records to events: every path that reads telemetry (the ingest service,
 * the CLI, offline replay, the tests) runs a source's records through here,
 * so ids, defaults, dead letters and the size limits are the same whatever
 * the way in. Pure: no I/O, no store.
 */

/** A record the source could not read, as the dead-letter table stores it (less its id and time). */
export type DeadLetterDraft = Omit<DeadLetter, 'id' | 'at'>;

/** Where and why a record failed, for the caller (the first {@link MAX_ERRORS_REPORTED}). */
export interface RecordError {
  /** Where the record sits in the body: `[3]`, or `[0].Records[5]` for records inside an envelope. */
  at: string;
  line?: number;
  code: string;
  message: string;
  field?: string;
}

/** Errors reported to the caller per call; every failure is a dead letter all the same. */
export const MAX_ERRORS_REPORTED = 20;

/** Turn a source's draft into a stored event: ids, ingestion time and defaults. */
export function finalizeEvent(source: string, draft: EventDraft, ingestedAt: string): NormalisedEvent {
  // The draft is the source's fresh object: complete it in place rather than copy it (this runs per event).
  const e = draft as NormalisedEvent;
  // The name is joined here rather than by stableUuid(...parts): same id, no array per event. (Writing
  // it into a byte buffer instead saved the text's garbage but no time: the hash call is the cost.)
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

/** What {@link normaliseRecords} made of some records. */
export interface NormaliseResult {
  events: NormalisedEvent[];
  deadLetters: DeadLetterDraft[];
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

/**
 * Record a failed record: a dead letter, and (for the first few) an error for the caller. A
 * function of the module, not a closure per call of normaliseRange (which runs once per
 * record for large bodies): tsx names every closure it makes, a property definition each.
 */
function fail(
  source: Source,
  out: NormaliseResult,
  at: string,
  line: number | undefined,
  value: unknown,
  err: unknown,
): void {
  const code = err instanceof AisocError ? err.code : 'AISOC_ERR_PARSE';
  const field = err instanceof AisocError ? err.field : undefined;
  const message = describeError(err);
  const dl: DeadLetterDraft = {
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
  const unwrap = source.unwrap;
  for (let i = from; i < to; i++) {
    const f = framed[i]!;
    const value = f.value;
    const line = f.line;
    // One walk: the depth check every record needs before source code reads it, and the size
    // check of the raw record that limitEvent would otherwise make again per event (for an
    // envelope, of each record in it). None for a record whose text the framing measured short
    // and shallow: the walk could only say `within`.
    let scan: RecordScan;
    if (unwrap !== undefined) scan = scanEnvelope(value, MAX_DEPTH, limits);
    else if (textWithin(f.textLength, limits)) scan = 'within';
    else scan = scanRecord(value, MAX_DEPTH, limits);
    if (scan === 'deep') {
      out.received++;
      fail(
        source,
        out,
        `[${i}]`,
        line,
        '[record nested too deeply]',
        new AisocError('AISOC_ERR_PARSE', `The record nests deeper than ${MAX_DEPTH} levels`),
      );
      continue;
    }
    if (unwrap === undefined) {
      // Most sources have no envelope: no array per record.
      normaliseOne(source, value, i, -1, line, ingestedAt, limits, out, scan === 'within');
      continue;
    }
    let records: unknown[];
    try {
      records = unwrap(value);
    } catch (err) {
      out.received++;
      fail(source, out, `[${i}]`, line, value, err);
      continue;
    }
    if (records.length === 0) {
      out.received++;
      out.skipped++;
      continue;
    }
    const single = records.length === 1 && records[0] === value;
    // What unwrap returns may be built rather than part of the value: only the value itself, and
    // the elements of an array the scan met in it, are known.
    const within = single ? undefined : recordsWithin(records);
    for (let j = 0; j < records.length; j++)
      normaliseOne(
        source,
        records[j],
        i,
        single ? -1 : j,
        line,
        ingestedAt,
        limits,
        out,
        single ? scan === 'within' : within !== undefined && within[j] === 1,
      );
  }
}

/**
 * One record through the source. `j` is the record's place in its envelope,
 * -1 when the record is the framed value itself; the error's `at` text is
 * only built for a failure (this runs per record). `within`: the record is
 * known to be within the limits as a raw record (see `scanRecord`), so an
 * event whose `raw` is this record is not measured again.
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
  within: boolean,
): void {
  out.received++;
  try {
    const drafts = source.normalise(rec);
    if (drafts.length === 0) out.skipped++;
    for (let k = 0; k < drafts.length; k++) {
      const e = finalizeEvent(source.type, drafts[k]!, ingestedAt);
      out.events.push(limitEvent(e, limits, within && e.raw === rec));
    }
  } catch (err) {
    fail(source, out, j < 0 ? `[${i}]` : `[${i}][${j}]`, line, rec, err);
  }
}
