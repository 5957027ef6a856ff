import { AisocError } from '../../errors.ts';
import { yieldToEventLoop } from '../../loop.ts';
import { parseCidr, parseIp } from '../../net/ip.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import { toPgJsonb } from '../json.ts';
import { fromJson, type Queryable, toNumber } from '../sql.ts';
import {
  attached,
  CATCHALL_PARTITION,
  DAY_MS,
  dayStart,
  type EventPartitions,
  type PartitionScope,
  partitionDay,
  partitionName,
} from './event-partitions.ts';
import { clampLimit, type ListResult, type Row, Where } from './shared.ts';

export interface EventFilter {
  source?: string;
  from?: string;
  to?: string;
  class_uid?: number;
  /** `actor.user.name`, any case. */
  user?: string;
  /** An address or a CIDR block, matched against `src_endpoint.ip` and `dst_endpoint.ip` (see {@link ipFilter}). */
  ip?: string;
  /** `device.hostname`, `src_endpoint.hostname` or `dst_endpoint.hostname`, any case. */
  host?: string;
  /** Words of the event's text (see {@link EVENT_TEXT_SQL}), PostgreSQL `websearch_to_tsquery` syntax without negation. */
  q?: string;
  limit?: number;
  offset?: number;
}

/** Longest free-text query (characters). */
export const MAX_TEXT_QUERY = 200;

/*
 * The expressions the API's filters match, written exactly as the indexes of
 * migration 7 (src/store/migrations.ts) are, so the planner uses them.
 */
export const USER_SQL = "lower(doc #>> '{actor,user,name}')";
export const HOSTS_SQL =
  "array_remove(ARRAY[lower(doc #>> '{device,hostname}'), lower(doc #>> '{src_endpoint,hostname}'), lower(doc #>> '{dst_endpoint,hostname}')], NULL)";
/**
 * The fields searched by free text (paths in the normalised event): what
 * describes an event in words. Ids, timestamps, addresses (the `ip`
 * filter), class names, user agents, resource ids, observables, unmapped
 * source fields and the raw record are not searched: PostgreSQL's text
 * parser is the dearest part of an insert (on PGlite, indexing every string
 * of an event halved the insert rate, and user agents and ARNs alone cost a
 * fifth of it on CloudTrail).
 */
export const EVENT_TEXT_FIELDS = [
  'message',
  'activity_name',
  'status_detail',
  'actor,user,name',
  'actor,process,cmd_line',
  'process,cmd_line',
  'process,parent,cmd_line',
  'file,path',
  'cloud,operation',
  'cloud,error_code',
  'cloud,error_message',
  'http,url',
  'dns,query',
  'finding,title',
  'device,hostname',
  'src_endpoint,hostname',
  'dst_endpoint,hostname',
] as const;

/**
 * The event's text for free-text search: {@link EVENT_TEXT_FIELDS} joined by
 * spaces, split into words by PostgreSQL's default text parser and
 * lower-cased, without stemming or stop words (the `simple` configuration).
 */
export const EVENT_TEXT_SQL = `to_tsvector('simple', ${EVENT_TEXT_FIELDS.map((p) => `coalesce(doc #>> '{${p}}', '')`).join(" || ' ' || ")})`;

/**
 * An address or CIDR block from a query as PostgreSQL `inet` text, or
 * undefined when it is neither. An address is read by {@link parseIp} (an
 * IPv4-mapped IPv6 address is the IPv4 address, as addresses are stored);
 * a block by {@link parseCidr}, an IPv4-mapped block of /96 or longer being
 * the IPv4 block it maps.
 *
 * @example ipFilter('::ffff:10.0.0.1') // '10.0.0.1'
 * @example ipFilter('::ffff:10.0.0.0/104') // '10.0.0.0/8'
 */
export function ipFilter(text: string): string | undefined {
  const s = text.trim();
  if (!s.includes('/')) return parseIp(s)?.text;
  const c = parseCidr(s);
  if ('error' in c) return undefined;
  const v4 = c.version === 6 && c.prefix >= 96 ? parseIp(c.address) : undefined;
  return v4?.version === 4 ? `${v4.text}/${c.prefix - 96}` : c.text;
}

/** An event address as stored in `src_ip`/`dst_ip`: canonical, IPv4-mapped as IPv4; none when it is not one. */
function storedIp(text: string | undefined): string | null {
  if (text === undefined) return null;
  return parseIp(text.trim())?.text ?? null;
}

/** A free-text query as given to `websearch_to_tsquery`: a leading `-` (negation) is dropped from every word. */
function textQuery(q: string): string {
  return q.slice(0, MAX_TEXT_QUERY).replace(/(^|[\s(])-+/g, '$1');
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

/** The rows of an insert's payload (a JSON array parameter, `$1`), in order (`n`). */
const PAYLOAD_ROWS = `
  SELECT t.n, (e->>'id')::uuid AS id, e->>'source' AS source, e->>'source_event_id' AS source_event_id,
         (e->>'time')::timestamptz AS time, (e->>'ingested_at')::timestamptz AS ingested_at,
         (e->>'class_uid')::int AS class_uid, (e->>'severity_id')::int AS severity_id,
         (e->>'src_ip')::inet AS src_ip, (e->>'dst_ip')::inet AS dst_ip, e->'doc' AS doc, e->'raw' AS raw
  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)`;

/**
 * The events table: the durable log the pipeline reads in order of `seq`.
 *
 * @example
 * const { stored } = await store.events.insert(events);
 */
export class EventRepository {
  /**
   * @param partitions the store's day partitions
   * @param scope the transaction this repository works in, if any
   */
  constructor(
    private readonly db: Queryable,
    private readonly partitions: EventPartitions,
    private readonly scope?: PartitionScope,
  ) {}

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
    const times = events.map((e, i) => {
      const t = Date.parse(e.time);
      // Normalisation gives every event a valid time; anything else is refused whole, naming the field.
      if (Number.isNaN(t))
        throw new AisocError(
          'AISOC_ERR_VALIDATION',
          `events[${i}].time is not a timestamp: ${String(e.time).slice(0, 64)}`,
          {
            field: 'time',
          },
        );
      return t;
    });
    const partitions = await this.partitions.ensure(this.db, this.scope, times);
    // An event bound for the catch-all may be stored in its day's partition already (its day had one when it was
    // ingested before, and has none now): looked up first, with the day partitions only, and left out.
    const ready = new Set(partitions);
    const outside = events.filter((_, i) => !ready.has(partitionName(dayStart(times[i]!))));
    let known = new Set<string>();
    if (outside.length > 0) {
      const r = await this.db.query<{ id: string }>(
        `SELECT id::text AS id FROM events WHERE id = ANY($1::uuid[]) AND part_time <> '-infinity'`,
        [outside.map((e) => e.id)],
      );
      known = new Set(r.rows.map((row) => row.id));
    }
    const payload = [];
    for (const e of events) {
      if (known.has(e.id)) continue;
      const { raw, ...doc } = e;
      payload.push({
        id: e.id,
        source: e.source,
        source_event_id: e.source_event_id ?? null,
        time: e.time,
        ingested_at: e.ingested_at,
        class_uid: e.class_uid,
        severity_id: e.severity_id,
        src_ip: storedIp(e.src_endpoint?.ip),
        dst_ip: storedIp(e.dst_endpoint?.ip),
        doc,
        raw: raw === undefined ? null : raw,
      });
    }
    if (payload.length === 0) return { stored: [], duplicates: events.length };
    const direct = this.directTarget(times, ready);
    const r = direct ? await this.insertInto(direct, payload) : await this.insertRouted(payload, partitions);
    const stored = r.rows.map((row) => ({ seq: toNumber(row.seq), id: String(row.id) }));
    stored.sort((a, b) => a.seq - b.seq);
    return { stored, duplicates: events.length - stored.length };
  }

  /**
   * The partition a batch can be written to directly, without routing each
   * row through the parent (a quarter of the insert's work on PGlite): when
   * every event lies inside one day, clear of its edges (the engine rounds
   * below a microsecond), and that day is today or tomorrow, whose
   * partitions retention never drops.
   */
  private directTarget(times: number[], ready: Set<string>): string | undefined {
    const day = dayStart(times[0]!);
    const today = dayStart(this.partitions.now());
    if (day !== today && day !== today + DAY_MS) return undefined;
    const name = partitionName(day);
    if (!ready.has(name)) return undefined;
    for (const t of times) if (!(t > day && t < day + DAY_MS - 1)) return undefined;
    return name;
  }

  private insertInto(name: string, payload: unknown[]) {
    // A row may have been stored in the catch-all before (its day had no partition then): one index probe.
    return this.db.query<{ seq: unknown; id: string }>(
      `WITH v AS (${PAYLOAD_ROWS})
       INSERT INTO "${name}" (seq, id, source, source_event_id, time, part_time, ingested_at, class_uid, severity_id,
                              src_ip, dst_ip, doc, raw)
       SELECT nextval('events_seq_seq'), id, source, source_event_id, time, time, ingested_at, class_uid, severity_id,
              src_ip, dst_ip, doc, raw
       FROM (SELECT * FROM v WHERE NOT EXISTS (SELECT 1 FROM ${CATCHALL_PARTITION} x WHERE x.id = v.id) ORDER BY n) s
       ON CONFLICT DO NOTHING
       RETURNING seq, id`,
      [toPgJsonb(payload)],
    );
  }

  private insertRouted(payload: unknown[], partitions: string[]) {
    // Each row goes to its day's partition when that is one made sure of just now and still there (retention may
    // have dropped it since), else to the catch-all, so the insert never lacks a partition. A row bound for a day
    // partition may have been stored in the catch-all before (its day had no partition then): one index probe.
    return this.db.query<{ seq: unknown; id: string }>(
      `WITH v AS (${PAYLOAD_ROWS}), p AS MATERIALIZED (
         SELECT v.*, CASE WHEN NOT (l.name = ANY($2::text[])) THEN '-infinity'::timestamptz
                          WHEN to_regclass(l.name) IS NULL THEN '-infinity'::timestamptz
                          ELSE v.time END AS part_time
         FROM v, LATERAL (SELECT 'events_p' || to_char(v.time AT TIME ZONE 'UTC', 'YYYYMMDD') AS name) l
       )
       INSERT INTO events (id, source, source_event_id, time, part_time, ingested_at, class_uid, severity_id,
                           src_ip, dst_ip, doc, raw)
       SELECT id, source, source_event_id, time, part_time, ingested_at, class_uid, severity_id, src_ip, dst_ip, doc, raw
       FROM p
       WHERE p.part_time = '-infinity'::timestamptz
          OR NOT EXISTS (SELECT 1 FROM ${CATCHALL_PARTITION} x WHERE x.id = p.id)
       ORDER BY n
       ON CONFLICT DO NOTHING
       RETURNING seq, id`,
      [toPgJsonb(payload), partitions],
    );
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
    // part_time is the time in a day partition and -infinity in the catch-all: the second condition of each pair
    // lets the planner leave out the day partitions outside the range.
    if (f.from)
      w.add(
        "time >= ?::timestamptz AND (part_time >= ?::timestamptz OR part_time = '-infinity')",
        f.from,
        f.from,
      );
    if (f.to) w.add('time < ?::timestamptz AND part_time < ?::timestamptz', f.to, f.to);
    if (f.class_uid !== undefined) w.add('class_uid = ?', f.class_uid);
    if (f.user) w.add(`${USER_SQL} = lower(?)`, f.user);
    if (f.ip) {
      const ip = ipFilter(f.ip);
      if (ip === undefined)
        throw new AisocError('AISOC_ERR_VALIDATION', 'ip must be an IPv4 or IPv6 address or a CIDR block', {
          field: 'ip',
        });
      const op = ip.includes('/') ? '<<=' : '=';
      w.add(`(src_ip ${op} ?::inet OR dst_ip ${op} ?::inet)`, ip, ip);
    }
    if (f.host) w.add(`${HOSTS_SQL} @> ARRAY[lower(?)]`, f.host);
    if (f.q) w.add(`${EVENT_TEXT_SQL} @@ websearch_to_tsquery('simple', ?)`, textQuery(f.q));
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

  /**
   * Delete events ingested before `cutoff` that the pipeline has processed
   * (log positions up to `processedUpToSeq`), never one it has not. A day
   * partition whose day ended by the cutoff and whose every event is such
   * an event is dropped whole. Rows are deleted one by one in the
   * catch-all, and in a day partition still not entirely expired once the
   * cutoff is two days past its day (it holds events ingested late, or not
   * yet processed): until then a partition waits to be dropped whole, so an
   * expired event may stay up to two days longer.
   *
   * @example
   * const { deleted, partitionsDropped } = await store.events.purge(cutoff, await store.offsets.get('events'));
   */
  async purge(
    cutoff: string,
    processedUpToSeq: number,
  ): Promise<{ deleted: number; partitionsDropped: number }> {
    const cutoffMs = Date.parse(cutoff);
    const candidates = (await attached(this.db))
      .map((name) => ({ name, day: partitionDay(name) }))
      .filter((p): p is { name: string; day: number } => p.day !== undefined && p.day + DAY_MS <= cutoffMs)
      .sort((a, b) => a.day - b.day);
    let deleted = 0;
    let partitionsDropped = 0;
    const expired = async (q: Queryable, name: string) => {
      const r = await q.query<{ young: boolean; unprocessed: boolean }>(
        `SELECT coalesce((SELECT max(ingested_at) FROM "${name}") >= $1::timestamptz, false) AS young,
                coalesce((SELECT max(seq) FROM "${name}") > $2, false) AS unprocessed`,
        [cutoff, processedUpToSeq],
      );
      return !(r.rows[0]?.young || r.rows[0]?.unprocessed);
    };
    // Checked and counted before the lock, so the table is locked no longer than the checks and drops take.
    const sizes = new Map<string, number>();
    for (const p of candidates) {
      try {
        if (!(await expired(this.db, p.name))) continue;
        const r = await this.db.query<{ n: unknown }>(`SELECT count(*) AS n FROM "${p.name}"`);
        sizes.set(p.name, toNumber(r.rows[0]?.n));
      } catch (err) {
        // Dropped meanwhile by another process's sweep.
        if ((err as { code?: string }).code !== '42P01') throw err;
      }
    }
    if (sizes.size > 0) {
      const dropped = await this.inTransaction(async (tx) => {
        if (this.partitions.root.engine === 'postgres') await tx.query("SET LOCAL lock_timeout = '5s'");
        // Nothing is inserted into the table (or read) while a partition is checked again and dropped.
        await tx.query('LOCK TABLE ONLY events IN ACCESS EXCLUSIVE MODE');
        const out: string[] = [];
        for (const name of await attached(tx, [...sizes.keys()])) {
          if (!(await expired(tx, name))) continue;
          await tx.query(`DROP TABLE "${name}"`);
          out.push(name);
        }
        return out;
      });
      for (const name of dropped) {
        this.partitions.forget(name);
        deleted += sizes.get(name) ?? 0;
        partitionsDropped++;
      }
    }
    // The catch-all (part_time -infinity) and the day partitions that ended a day or more before the cutoff.
    const rows = await this.db.query(
      `DELETE FROM events WHERE ingested_at < $1::timestamptz AND seq <= $2 AND part_time < $3::timestamptz`,
      [cutoff, processedUpToSeq, new Date(dayStart(cutoffMs) - DAY_MS).toISOString()],
    );
    deleted += rows.rowCount;
    return { deleted, partitionsDropped };
  }

  /**
   * Make today's and tomorrow's partitions now, so that no insert waits
   * for them (the retention sweep calls it; inserts make them otherwise).
   */
  async prepare(): Promise<void> {
    await this.partitions.ensure(this.db, this.scope, []);
  }

  /** The day partitions of the events table and its catch-all, by name. */
  async partitionNames(): Promise<string[]> {
    return (await attached(this.db)).sort();
  }

  private inTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.scope ? fn(this.db) : this.partitions.root.transaction(fn);
  }
}

export { CATCHALL_PARTITION };
