import { yieldToEventLoop } from '../../loop.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import { toPgJson } from '../json.ts';
import { fromJson, type Queryable, toNumber } from '../sql.ts';
import { clampLimit, type ListResult, type Row, Where } from './shared.ts';

export interface EventFilter {
  source?: string;
  from?: string;
  to?: string;
  class_uid?: number;
  limit?: number;
  offset?: number;
}

export interface InsertEventsResult {
  /** Rows newly stored, with their log sequence numbers, in input order. */
  stored: Array<{ seq: number; event: NormalisedEvent }>;
  duplicates: number;
  dead_letters: number;
}

function eventFromRow(r: Row): NormalisedEvent {
  const doc = fromJson<NormalisedEvent>(r.doc);
  // Both drivers hand jsonb back parsed, and raw may be any JSON value: a syslog line is a
  // JSON string, which `fromJson` would parse a second time (and fail on, or misread).
  return { ...doc, raw: r.raw };
}

/**
 * An event's JSON text from its row: the doc's text with the raw record's
 * text spliced in, so a route can send it on without parsing it and
 * serialising it again. Both are PostgreSQL's own jsonb text.
 */
function eventText(doc: string, raw: string | null): string {
  if (raw === null) return doc;
  // jsonb text of an object is `{}` or `{"k": v, …}`.
  return doc.length <= 2 ? `{"raw": ${raw}}` : `${doc.slice(0, -1)}, "raw": ${raw}}`;
}

/**
 * Text (in UTF-16 units) read in one query when events are read in slices:
 * about 20 ms of PGlite work on a 2-core machine, so other requests wait no
 * longer than that between slices.
 */
const READ_SLICE_CHARS = 2 * 1024 * 1024;
const READ_SLICE_MAX_ROWS = 100;

type EventTextRow = { seq: unknown; doc: string; raw: string | null };

const parseEvent = (text: string) => JSON.parse(text) as NormalisedEvent;

/**
 * The events table: the durable log the pipeline reads in order of `seq`.
 *
 * @example
 * const { stored } = await store.events.insert(events);
 */
export class EventRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * Events by log position, in the order given, each made from its JSON
   * text by `make` (the text itself, or the parsed event). Rows are read a
   * slice at a time, the slice growing while rows are small and shrinking
   * when they are large (an event may hold a 1 MiB raw record and several
   * 64 KiB fields), and made before the next turn of the event loop:
   * reading 50 large events is many short pauses, not one long one.
   */
  private async bySeq<T>(seqs: number[], make: (text: string) => T): Promise<T[]> {
    const out: T[] = [];
    let rows = 1;
    for (let i = 0; i < seqs.length; ) {
      const slice = seqs.slice(i, i + rows);
      const r = await this.db.query<EventTextRow>(
        'SELECT seq, doc::text AS doc, raw::text AS raw FROM events WHERE seq = ANY($1::bigint[])',
        [slice],
      );
      const bySeq = new Map<number, EventTextRow>();
      let chars = 0;
      for (const row of r.rows) {
        bySeq.set(toNumber(row.seq), row);
        chars += row.doc.length + (row.raw?.length ?? 0);
      }
      // A row deleted between the two queries (retention) is left out.
      for (const seq of slice) {
        const row = bySeq.get(seq);
        if (row) out.push(make(eventText(row.doc, row.raw)));
      }
      i += slice.length;
      if (i >= seqs.length) break;
      if (chars < READ_SLICE_CHARS / 2) rows = Math.min(READ_SLICE_MAX_ROWS, rows * 2);
      else if (chars > READ_SLICE_CHARS) rows = Math.max(1, Math.floor(rows / 2));
      await yieldToEventLoop();
    }
    return out;
  }

  /**
   * Insert a batch in one statement. Events whose id already exists are
   * skipped (counted as duplicates): ids derive from the source's own event
   * id, so re-ingesting a file stores nothing twice.
   */
  async insert(
    events: NormalisedEvent[],
  ): Promise<{ stored: Array<{ seq: number; id: string }>; duplicates: number }> {
    if (events.length === 0) return { stored: [], duplicates: 0 };
    const payload = events.map((e) => {
      const { raw, ...doc } = e;
      return {
        id: e.id,
        source: e.source,
        source_event_id: e.source_event_id ?? null,
        time: e.time,
        ingested_at: e.ingested_at,
        class_uid: e.class_uid,
        severity_id: e.severity_id,
        doc,
        raw: raw === undefined ? null : raw,
      };
    });
    const r = await this.db.query<{ seq: unknown; id: string }>(
      `INSERT INTO events (id, source, source_event_id, time, ingested_at, class_uid, severity_id, doc, raw)
       SELECT (e->>'id')::uuid, e->>'source', e->>'source_event_id', (e->>'time')::timestamptz,
              (e->>'ingested_at')::timestamptz, (e->>'class_uid')::int, (e->>'severity_id')::int, e->'doc', e->'raw'
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)
       ORDER BY n
       ON CONFLICT (id) DO NOTHING
       RETURNING seq, id`,
      [toPgJson(payload)],
    );
    const stored = r.rows.map((row) => ({ seq: toNumber(row.seq), id: String(row.id) }));
    stored.sort((a, b) => a.seq - b.seq);
    return { stored, duplicates: events.length - stored.length };
  }

  async get(id: string): Promise<NormalisedEvent | undefined> {
    const text = await this.getText(id);
    return text === undefined ? undefined : (JSON.parse(text) as NormalisedEvent);
  }

  /** Events by id, in event-time order; read (and parsed) in slices, with a turn of the event loop between. */
  async getMany(ids: string[]): Promise<NormalisedEvent[]> {
    return this.bySeq(await this.seqsOf(ids), parseEvent);
  }

  async list(f: EventFilter = {}): Promise<ListResult<NormalisedEvent>> {
    const page = await this.page(f);
    return { items: await this.bySeq(page.seqs, parseEvent), total: page.total };
  }

  /** One event as JSON text (see {@link eventText}); the route sends it on as it is. */
  async getText(id: string): Promise<string | undefined> {
    const r = await this.db.query<EventTextRow>(
      'SELECT seq, doc::text AS doc, raw::text AS raw FROM events WHERE id = $1',
      [id],
    );
    const row = r.rows[0];
    return row ? eventText(row.doc, row.raw) : undefined;
  }

  /** Events by id as JSON text, in event-time order, read in slices. */
  async getManyText(ids: string[]): Promise<string[]> {
    return this.bySeq(await this.seqsOf(ids), (text) => text);
  }

  /** A page of events, newest first, as JSON text, read in slices. */
  async listText(f: EventFilter = {}): Promise<ListResult<string>> {
    const page = await this.page(f);
    return { items: await this.bySeq(page.seqs, (text) => text), total: page.total };
  }

  /** Log positions of events by id, in event-time order. */
  async seqsOf(ids: string[]): Promise<number[]> {
    if (ids.length === 0) return [];
    const r = await this.db.query<{ seq: unknown }>(
      'SELECT seq FROM events WHERE id = ANY($1::uuid[]) ORDER BY time, seq',
      [ids],
    );
    return r.rows.map((row) => toNumber(row.seq));
  }

  /** Log positions of a page of events, newest first, and how many match in all. */
  async page(f: EventFilter = {}): Promise<{ seqs: number[]; total: number }> {
    const w = new Where();
    if (f.source) w.add('source = ?', f.source);
    if (f.from) w.add('time >= ?::timestamptz', f.from);
    if (f.to) w.add('time < ?::timestamptz', f.to);
    if (f.class_uid !== undefined) w.add('class_uid = ?', f.class_uid);
    const limit = clampLimit(f.limit);
    const offset = Math.max(0, f.offset ?? 0);
    const total = await this.db.query<{ n: unknown }>(`SELECT count(*) AS n FROM events ${w.sql}`, w.params);
    const page = await this.db.query<{ seq: unknown }>(
      `SELECT seq FROM events ${w.sql} ORDER BY time DESC, seq DESC LIMIT ${limit} OFFSET ${offset}`,
      w.params,
    );
    return { seqs: page.rows.map((row) => toNumber(row.seq)), total: toNumber(total.rows[0]?.n) };
  }

  /** Events after a log position, in log order (the pipeline replays from here after a restart). */
  async afterSeq(
    seq: number,
    limit: number,
    upTo?: number,
  ): Promise<Array<{ seq: number; event: NormalisedEvent }>> {
    const params: unknown[] = [seq, limit];
    let bound = '';
    if (upTo !== undefined) {
      params.push(upTo);
      bound = 'AND seq <= $3';
    }
    const r = await this.db.query<Row>(
      `SELECT seq, doc, raw FROM events WHERE seq > $1 ${bound} ORDER BY seq LIMIT $2`,
      params,
    );
    return r.rows.map((row) => ({ seq: toNumber(row.seq), event: eventFromRow(row) }));
  }

  async maxSeq(): Promise<number> {
    const r = await this.db.query<{ m: unknown }>('SELECT coalesce(max(seq), 0) AS m FROM events');
    return toNumber(r.rows[0]?.m);
  }

  async count(f: Pick<EventFilter, 'source'> = {}): Promise<number> {
    const w = new Where();
    if (f.source) w.add('source = ?', f.source);
    const r = await this.db.query<{ n: unknown }>(`SELECT count(*) AS n FROM events ${w.sql}`, w.params);
    return toNumber(r.rows[0]?.n);
  }

  /**
   * How many events lie after a log position: what a restarted pipeline
   * still has to process past its checkpoint.
   *
   * @example
   * const pending = await store.events.countAfter(await store.offsets.get('embedded-runner'));
   */
  async countAfter(seq: number): Promise<number> {
    const r = await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM events WHERE seq > $1', [seq]);
    return toNumber(r.rows[0]?.n);
  }

  /** Delete events ingested before `cutoff`, never touching those the pipeline has not processed yet. */
  async purge(cutoff: string, processedUpToSeq: number): Promise<number> {
    const r = await this.db.query('DELETE FROM events WHERE ingested_at < $1::timestamptz AND seq <= $2', [
      cutoff,
      processedUpToSeq,
    ]);
    return r.rowCount;
  }
}
