import { AisocError, describeError } from '../errors.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import { type InputDoc, readInputDocs } from '../sources/archive.ts';
import { detectDoc } from '../sources/classify.ts';
import { type FramedRecord, type Framing, frameBody } from '../sources/framing.ts';
import type { SourceRegistry } from '../sources/index.ts';
import { splitJsonValues } from '../sources/json-values.ts';
import { DEFAULT_EVENT_LIMITS, type EventLimits } from '../sources/limits.ts';
import {
  type DeadLetterDraft,
  type NormaliseResult,
  normaliseRecords,
  type RecordError,
} from '../sources/normalise.ts';
import type { AlertCandidate } from './types.ts';

/*
 * Offline replay: files (or records already in memory) → documents → source
 * → frame → normalise → detect, one document at a time. `aisoc detect`, the
 * Sigma evaluators (regression cases, rule samples, Stratus coverage, false
 * alarms) and the triage evaluation scripts all read telemetry this way.
 *
 * It lives in detect/ because it needs the sources and the detectors and
 * nothing of the pipeline (no runner, no store, no correlation): under
 * pipeline/ it would make detect/sigma's evaluators import the pipeline, which
 * itself runs the detectors, a dependency up the layers.
 */

/**
 * What replay runs. The pipeline's `Detector` ({@link AlertCandidate}s out) is
 * one as it is; offline callers may report other things (raw Sigma matches,
 * the rules that matched) and may add the two hooks a finite input needs.
 */
export interface ReplayDetector<A = AlertCandidate> {
  readonly name: string;
  /** One batch of a document's events, in the replay's order. Synchronous or not (see {@link replaySync}). */
  detect(events: NormalisedEvent[]): A[] | Promise<A[]>;
  /** After a document's last batch (Sigma in `aisoc detect`: judge the correlation windows that have passed). */
  endDocument?(): A[];
  /** Once, after the last document: judge what is still open (correlation windows). */
  flush?(): A[];
}

/** Records already in memory (framed values: records or their envelopes), read by a named source. */
export interface ReplayRecords {
  /** Reported as the `file` of what they yield. */
  name: string;
  source: string;
  records: readonly unknown[];
}

/** A file path (read whole: `.gz` inflated, one document per `.zip`/`.tar` entry), or records in memory. */
export type ReplayInput = string | ReplayRecords;

export interface ReplayOptions<A> {
  sources: SourceRegistry;
  /** Run in this order on every batch; none: replay only normalises. */
  detectors?: readonly ReplayDetector<A>[];
  /** Source type of every file (default: detected per document, as `aisoc ingest` detects it). */
  source?: string;
  /**
   * `time` (default): a document's events are sorted by event time before
   * detection, as correlations need; `input`: they keep the records' order.
   */
  order?: 'time' | 'input';
  /** Events per detector call (default 5,000; `Infinity`: a document in one call). */
  batchSize?: number;
  /** The events' `ingested_at` (default: when replay starts). */
  receivedAt?: string;
  /** Size limits on each event (default: the defaults of `pipeline.max_field_bytes` and `max_raw_bytes`). */
  limits?: EventLimits;
  /** Which events the detectors see (default: all). */
  select?(event: NormalisedEvent): boolean;
}

/**
 * What replay yields, in order: per document a `document` (or a `skipped`),
 * then per batch its `events` followed by each detector's `alert`s (and a
 * `detector-error` per event a detector failed on: it is skipped, the rest go
 * on), then the alerts of `endDocument`; after the last document, those of
 * `flush`, whose `file` is the last document read.
 */
export type ReplayItem<A> =
  | {
      kind: 'skipped';
      file: string;
      /** `read`: the file could not be read; `source`: no source claims the document; `frame`: it could not be framed or normalised. */
      step: 'read' | 'source' | 'frame';
      reason: string;
    }
  | {
      kind: 'document';
      file: string;
      source: string;
      /** Records found (after unwrapping envelopes). */
      received: number;
      /** Events they made. */
      normalised: number;
      /** Records counted but not made into events (digests, statistics). */
      skipped: number;
      /** Records the source could not read, and the first errors with where they sit. */
      deadLetters: DeadLetterDraft[];
      errors: RecordError[];
    }
  | { kind: 'events'; file: string; source: string; events: NormalisedEvent[] }
  | { kind: 'alert'; file: string; detector: string; alert: A }
  | { kind: 'detector-error'; file: string; detector: string; event: NormalisedEvent; error: unknown };

/** Running totals of a replay, final once it has been read to the end. */
export interface ReplayCounts {
  /** Inputs taken (files and record sets). */
  files: number;
  /** Documents read (an archive holds several). */
  documents: number;
  /** Documents skipped, and files that could not be read. */
  skipped: number;
  /** Events normalised (whether or not `select` kept them). */
  events: number;
  deadLetters: number;
  skippedRecords: number;
  alerts: number;
  detectorErrors: number;
}

/** A replay in progress: iterate it for the items; `counts` grows as it goes. */
export interface ReplayRun {
  readonly counts: ReplayCounts;
}

/** Largest document (characters) whose concatenated JSON values are tried when detection finds no source. */
const SPLIT_VALUES_MAX_CHARS = 8 * 1024 * 1024;

const DEFAULT_BATCH = 5000;

/**
 * Replay inputs through the sources and detectors, streaming: one document
 * is held at a time (its events, to sort them), and what it yields arrives
 * before the next input is read. Any detector runs here, the asynchronous
 * ones too. A bad record is a dead letter and the rest go on; a file that
 * cannot be read or that no source claims is `skipped` with the reason.
 *
 * @example
 * const run = replay(await expandInputs(['logs/']), { sources, detectors: [upstreamDetector()] });
 * for await (const item of run) if (item.kind === 'alert') console.log(item.file, item.alert.detection.rule_title);
 * run.counts.events // every event normalised
 */
export function replay<A = AlertCandidate>(
  inputs: Iterable<ReplayInput>,
  options: ReplayOptions<A>,
): ReplayRun & AsyncGenerator<ReplayItem<A>, void> {
  const counts = newCounts();
  async function* run(): AsyncGenerator<ReplayItem<A>, void> {
    const it = steps(inputs, options, counts);
    try {
      let r = it.next();
      while (!r.done) {
        const s = r.value;
        if (s.kind !== 'call') {
          yield s;
          r = it.next();
          continue;
        }
        let found: A[];
        try {
          found = await s.detector.detect(s.events);
        } catch (err) {
          r = it.throw(err);
          continue;
        }
        r = it.next(found);
      }
    } finally {
      it.return();
    }
  }
  return Object.assign(run(), { counts });
}

/**
 * {@link replay} for callers that must stay synchronous (the Sigma
 * evaluators): the same items in the same order, but every detector must
 * answer synchronously (Sigma, upstream verdicts and the ML models do); one
 * that returns a promise is an `AISOC_ERR_INTERNAL` error.
 *
 * @example
 * for (const item of replaySync([{ name: 'case', source: 'cloudtrail', records }], { sources, detectors }))
 *   if (item.kind === 'alert') fired.add(item.alert.rule.id);
 */
export function replaySync<A = AlertCandidate>(
  inputs: Iterable<ReplayInput>,
  options: ReplayOptions<A>,
): ReplayRun & Generator<ReplayItem<A>, void> {
  const counts = newCounts();
  function* run(): Generator<ReplayItem<A>, void> {
    const it = steps(inputs, options, counts);
    try {
      let r = it.next();
      while (!r.done) {
        const s = r.value;
        if (s.kind !== 'call') {
          yield s;
          r = it.next();
          continue;
        }
        let found: A[] | Promise<A[]>;
        try {
          found = s.detector.detect(s.events);
        } catch (err) {
          r = it.throw(err);
          continue;
        }
        if (found instanceof Promise) {
          found.catch(() => undefined);
          throw new AisocError(
            'AISOC_ERR_INTERNAL',
            `The ${s.detector.name} detector answers asynchronously; replaySync runs synchronous detectors only (use replay)`,
          );
        }
        r = it.next(found);
      }
    } finally {
      it.return();
    }
  }
  return Object.assign(run(), { counts });
}

function newCounts(): ReplayCounts {
  return {
    files: 0,
    documents: 0,
    skipped: 0,
    events: 0,
    deadLetters: 0,
    skippedRecords: 0,
    alerts: 0,
    detectorErrors: 0,
  };
}

/** A detector call the driver makes (and awaits, in {@link replay}); its answer, or its error, is sent back. */
interface Call<A> {
  kind: 'call';
  detector: ReplayDetector<A>;
  events: NormalisedEvent[];
}

type Step<A> = ReplayItem<A> | Call<A>;

/** A document to replay: text read from a file, or records in memory. */
type Doc = InputDoc | ReplayRecords;

/**
 * The replay itself, free of how detectors answer: it yields a {@link Call}
 * where a detector must run and receives the answer (or the error), so one
 * loop serves the synchronous and the asynchronous driver.
 */
function* steps<A>(
  inputs: Iterable<ReplayInput>,
  o: ReplayOptions<A>,
  counts: ReplayCounts,
): Generator<Step<A>, void, A[] | undefined> {
  const receivedAt = o.receivedAt ?? new Date().toISOString();
  const detectors = o.detectors ?? [];
  const size = o.batchSize ?? DEFAULT_BATCH;
  let last = '';
  for (const input of inputs) {
    counts.files++;
    let docs: Doc[];
    if (typeof input === 'string') {
      try {
        docs = readInputDocs(input);
      } catch (err) {
        counts.skipped++;
        yield { kind: 'skipped', file: input, step: 'read', reason: describeError(err) };
        continue;
      }
    } else docs = [input];
    for (const doc of docs) {
      counts.documents++;
      last = doc.name;
      const file = doc.name;
      const chosen = 'text' in doc ? (o.source ?? sourceOf(doc, o.sources)) : doc.source;
      if (typeof chosen !== 'string') {
        counts.skipped++;
        yield { kind: 'skipped', file, step: 'source', reason: chosen.reason };
        continue;
      }
      let n: NormaliseResult;
      try {
        const source = o.sources.get(chosen);
        const framed =
          'text' in doc ? frame(doc.text, source.framing) : doc.records.map((value) => ({ value }));
        n = normaliseRecords(source, framed, receivedAt, o.limits ?? DEFAULT_EVENT_LIMITS);
      } catch (err) {
        counts.skipped++;
        yield { kind: 'skipped', file, step: 'frame', reason: describeError(err) };
        continue;
      }
      counts.events += n.events.length;
      counts.deadLetters += n.deadLetters.length;
      counts.skippedRecords += n.skipped;
      yield {
        kind: 'document',
        file,
        source: chosen,
        received: n.received,
        normalised: n.events.length,
        skipped: n.skipped,
        deadLetters: n.deadLetters,
        errors: n.errors,
      };
      const events = o.select ? n.events.filter(o.select) : n.events;
      if ((o.order ?? 'time') === 'time') events.sort(byTime);
      for (let i = 0; i < events.length; i += size) {
        const batch = i === 0 && events.length <= size ? events : events.slice(i, i + size);
        yield { kind: 'events', file, source: chosen, events: batch };
        for (const d of detectors) yield* detectBatch(d, batch, file, counts);
      }
      for (const d of detectors) if (d.endDocument) yield* alerts(d, d.endDocument(), file, counts);
    }
  }
  for (const d of detectors) if (d.flush) yield* alerts(d, d.flush(), last, counts);
}

/**
 * One detector over one batch. When the batch fails, its events are offered
 * one by one and each that fails is reported and skipped, as the pipeline's
 * runner isolates the event at fault: one bad event never hides the rest.
 */
function* detectBatch<A>(
  d: ReplayDetector<A>,
  batch: NormalisedEvent[],
  file: string,
  counts: ReplayCounts,
): Generator<Step<A>, void, A[] | undefined> {
  let found: A[];
  try {
    found = (yield { kind: 'call', detector: d, events: batch }) ?? [];
  } catch {
    found = [];
    for (const event of batch) {
      try {
        for (const a of (yield { kind: 'call', detector: d, events: [event] }) ?? []) found.push(a);
      } catch (error) {
        counts.detectorErrors++;
        yield { kind: 'detector-error', file, detector: d.name, event, error };
      }
    }
  }
  yield* alerts(d, found, file, counts);
}

function* alerts<A>(
  d: ReplayDetector<A>,
  found: A[],
  file: string,
  counts: ReplayCounts,
): Generator<Step<A>> {
  for (const alert of found) {
    counts.alerts++;
    yield { kind: 'alert', file, detector: d.name, alert };
  }
}

function byTime(a: NormalisedEvent, b: NormalisedEvent): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : 0;
}

/**
 * The source of a document: by content, as ingestion detects it, and for
 * concatenated pretty-printed JSON (which line sniffing cannot read) by the
 * first values.
 */
function sourceOf(doc: InputDoc, registry: SourceRegistry): string | { reason: string } {
  const found = detectDoc(doc, registry);
  if (found.source !== undefined) return found.source;
  const values = splitJsonValues(doc.text.length > SPLIT_VALUES_MAX_CHARS ? '' : doc.text);
  const type = values?.length ? registry.sniff(values[0])?.type : undefined;
  return type ?? { reason: found.reason };
}

/** Frame a document for a source, falling back to concatenated JSON values (EVTX converters write those). */
function frame(text: string, framing: Framing): FramedRecord[] {
  try {
    return frameBody(text, framing);
  } catch (err) {
    const values = framing === 'json' ? splitJsonValues(text) : undefined;
    if (values) return values.map((value) => ({ value }));
    throw err;
  }
}
