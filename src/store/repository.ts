import { createHash, randomBytes } from 'node:crypto';
import { AisocError } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import { yieldToEventLoop } from '../loop.ts';
import type { Alert, AlertStatus } from '../schema/alert.ts';
import type { AuditEntry, Case, DeadLetter } from '../schema/case.ts';
import { type SeverityName, severityRank } from '../schema/common.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { Incident } from '../schema/incident.ts';
import {
  type ActionRequest,
  type ActionStatus,
  type Approval,
  LIVE_ACTION_STATUSES,
  type PlaybookRun,
  type Suppression,
} from '../schema/response.ts';
import type { StoredVerdict } from '../schema/verdict.ts';
import { toPgJson, toPgText } from './json.ts';
import { fromJson, isoTime, type Queryable, type SqlClient, toNumber } from './sql.ts';

export interface ListResult<T> {
  items: T[];
  total: number;
}

export interface EventFilter {
  source?: string;
  from?: string;
  to?: string;
  class_uid?: number;
  limit?: number;
  offset?: number;
}

export interface AlertFilter {
  from?: string;
  to?: string;
  severity?: SeverityName[];
  min_severity?: SeverityName;
  rule?: string;
  status?: AlertStatus[];
  incident_id?: string;
  sort?: 'priority' | 'time';
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

export interface IncidentFilter {
  from?: string;
  to?: string;
  status?: string[];
  sort?: 'priority' | 'time';
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

export type DeadLetterInput = Omit<DeadLetter, 'id' | 'at'>;
export type AuditInput = Omit<AuditEntry, 'id' | 'at' | 'details'> & { details?: Record<string, unknown> };

export const API_SCOPES = ['ingest', 'read', 'analyst', 'responder', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export interface ApiKeyRecord {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiScope[];
  created_at: string;
  last_used_at?: string;
  revoked_at?: string;
}

export interface InsertEventsResult {
  /** Rows newly stored, with their log sequence numbers, in input order. */
  stored: Array<{ seq: number; event: NormalisedEvent }>;
  duplicates: number;
  dead_letters: number;
}

/** Hash an API key for storage and lookup. Keys are 256-bit random, so one SHA-256 round suffices. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A fresh API key: `aisoc_` + 43 characters of base64url (256 bits). */
export function generateApiKey(): string {
  return `aisoc_${randomBytes(32).toString('base64url')}`;
}

function clampLimit(limit: number | undefined, fallback = 50): number {
  return Math.max(1, Math.min(limit ?? fallback, 1000));
}

/** Builds a WHERE clause with numbered parameters. */
class Where {
  readonly parts: string[] = [];
  readonly params: unknown[] = [];
  add(sqlWithPlaceholder: string, ...values: unknown[]): void {
    let s = sqlWithPlaceholder;
    for (const v of values) {
      this.params.push(v);
      s = s.replace('?', `$${this.params.length}`);
    }
    this.parts.push(s);
  }
  get sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
  next(): string {
    return `$${this.params.length + 1}`;
  }
}

type Row = Record<string, unknown>;

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
 * The repository layer: one implementation over any {@link Queryable}, so the
 * same code serves PGlite and PostgreSQL, inside or outside a transaction.
 */
export class Repositories {
  constructor(protected readonly db: Queryable) {}

  /**
   * Events by log position, in the order given, each made from its JSON
   * text by `make` (the text itself, or the parsed event). Rows are read a
   * slice at a time, the slice growing while rows are small and shrinking
   * when they are large (an event may hold a 1 MiB raw record and several
   * 64 KiB fields), and made before the next turn of the event loop:
   * reading 50 large events is many short pauses, not one long one.
   */
  private async eventsBySeq<T>(seqs: number[], make: (text: string) => T): Promise<T[]> {
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

  // ---------------------------------------------------------------- events
  readonly events = {
    /**
     * Insert a batch in one statement. Events whose id already exists are
     * skipped (counted as duplicates): ids derive from the source's own event
     * id, so re-ingesting a file stores nothing twice.
     */
    insert: async (
      events: NormalisedEvent[],
    ): Promise<{ stored: Array<{ seq: number; id: string }>; duplicates: number }> => {
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
    },

    get: async (id: string): Promise<NormalisedEvent | undefined> => {
      const text = await this.events.getText(id);
      return text === undefined ? undefined : (JSON.parse(text) as NormalisedEvent);
    },

    /** Events by id, in event-time order; read (and parsed) in slices, with a turn of the event loop between. */
    getMany: async (ids: string[]): Promise<NormalisedEvent[]> =>
      this.eventsBySeq(await this.events.seqsOf(ids), parseEvent),

    list: async (f: EventFilter = {}): Promise<ListResult<NormalisedEvent>> => {
      const page = await this.events.page(f);
      return { items: await this.eventsBySeq(page.seqs, parseEvent), total: page.total };
    },

    /** One event as JSON text (see {@link eventText}); the route sends it on as it is. */
    getText: async (id: string): Promise<string | undefined> => {
      const r = await this.db.query<EventTextRow>(
        'SELECT seq, doc::text AS doc, raw::text AS raw FROM events WHERE id = $1',
        [id],
      );
      const row = r.rows[0];
      return row ? eventText(row.doc, row.raw) : undefined;
    },

    /** Events by id as JSON text, in event-time order, read in slices. */
    getManyText: async (ids: string[]): Promise<string[]> =>
      this.eventsBySeq(await this.events.seqsOf(ids), (text) => text),

    /** A page of events, newest first, as JSON text, read in slices. */
    listText: async (f: EventFilter = {}): Promise<ListResult<string>> => {
      const page = await this.events.page(f);
      return { items: await this.eventsBySeq(page.seqs, (text) => text), total: page.total };
    },

    /** Log positions of events by id, in event-time order. */
    seqsOf: async (ids: string[]): Promise<number[]> => {
      if (ids.length === 0) return [];
      const r = await this.db.query<{ seq: unknown }>(
        'SELECT seq FROM events WHERE id = ANY($1::uuid[]) ORDER BY time, seq',
        [ids],
      );
      return r.rows.map((row) => toNumber(row.seq));
    },

    /** Log positions of a page of events, newest first, and how many match in all. */
    page: async (f: EventFilter = {}): Promise<{ seqs: number[]; total: number }> => {
      const w = new Where();
      if (f.source) w.add('source = ?', f.source);
      if (f.from) w.add('time >= ?::timestamptz', f.from);
      if (f.to) w.add('time < ?::timestamptz', f.to);
      if (f.class_uid !== undefined) w.add('class_uid = ?', f.class_uid);
      const limit = clampLimit(f.limit);
      const offset = Math.max(0, f.offset ?? 0);
      const total = await this.db.query<{ n: unknown }>(
        `SELECT count(*) AS n FROM events ${w.sql}`,
        w.params,
      );
      const page = await this.db.query<{ seq: unknown }>(
        `SELECT seq FROM events ${w.sql} ORDER BY time DESC, seq DESC LIMIT ${limit} OFFSET ${offset}`,
        w.params,
      );
      return { seqs: page.rows.map((row) => toNumber(row.seq)), total: toNumber(total.rows[0]?.n) };
    },

    /** Events after a log position, in log order (the pipeline replays from here after a restart). */
    afterSeq: async (
      seq: number,
      limit: number,
      upTo?: number,
    ): Promise<Array<{ seq: number; event: NormalisedEvent }>> => {
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
    },

    maxSeq: async (): Promise<number> => {
      const r = await this.db.query<{ m: unknown }>('SELECT coalesce(max(seq), 0) AS m FROM events');
      return toNumber(r.rows[0]?.m);
    },

    count: async (f: Pick<EventFilter, 'source'> = {}): Promise<number> => {
      const w = new Where();
      if (f.source) w.add('source = ?', f.source);
      const r = await this.db.query<{ n: unknown }>(`SELECT count(*) AS n FROM events ${w.sql}`, w.params);
      return toNumber(r.rows[0]?.n);
    },

    /** Delete events ingested before `cutoff`, never touching those the pipeline has not processed yet. */
    purge: async (cutoff: string, processedUpToSeq: number): Promise<number> => {
      const r = await this.db.query('DELETE FROM events WHERE ingested_at < $1::timestamptz AND seq <= $2', [
        cutoff,
        processedUpToSeq,
      ]);
      return r.rowCount;
    },
  };

  // ---------------------------------------------------------------- alerts
  readonly alerts = {
    upsert: async (alerts: Alert[]): Promise<void> => {
      if (alerts.length === 0) return;
      const payload = alerts.map((a) => ({
        id: a.id,
        fingerprint: a.fingerprint,
        status: a.status,
        severity: a.severity,
        severity_rank: severityRank(a.severity),
        priority: a.priority,
        source: a.source,
        rule_ids: a.detections.map((d) => d.rule_id),
        incident_id: a.incident_id ?? null,
        first_seen: a.first_seen,
        last_seen: a.last_seen,
        created_at: a.created_at,
        updated_at: a.updated_at,
        doc: a,
      }));
      await this.db.query(
        `INSERT INTO alerts (id, fingerprint, status, severity, severity_rank, priority, source, rule_ids, incident_id,
                             first_seen, last_seen, created_at, updated_at, doc)
         SELECT (e->>'id')::uuid, e->>'fingerprint', e->>'status', e->>'severity', (e->>'severity_rank')::int,
                (e->>'priority')::real, e->>'source', ARRAY(SELECT jsonb_array_elements_text(e->'rule_ids')),
                (e->>'incident_id')::uuid, (e->>'first_seen')::timestamptz, (e->>'last_seen')::timestamptz,
                (e->>'created_at')::timestamptz, (e->>'updated_at')::timestamptz, e->'doc'
         FROM jsonb_array_elements($1::jsonb) AS t(e)
         ON CONFLICT (id) DO UPDATE SET
           fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, severity = EXCLUDED.severity,
           severity_rank = EXCLUDED.severity_rank, priority = EXCLUDED.priority, source = EXCLUDED.source,
           rule_ids = EXCLUDED.rule_ids, incident_id = EXCLUDED.incident_id, first_seen = EXCLUDED.first_seen,
           last_seen = EXCLUDED.last_seen, updated_at = EXCLUDED.updated_at, doc = EXCLUDED.doc`,
        [toPgJson(payload)],
      );
    },

    get: async (id: string): Promise<Alert | undefined> => {
      const r = await this.db.query<Row>('SELECT doc FROM alerts WHERE id = $1', [id]);
      return r.rows[0] ? fromJson<Alert>(r.rows[0].doc) : undefined;
    },

    getMany: async (ids: string[]): Promise<Alert[]> => {
      if (ids.length === 0) return [];
      const r = await this.db.query<Row>('SELECT doc FROM alerts WHERE id = ANY($1::uuid[])', [ids]);
      return r.rows.map((row) => fromJson<Alert>(row.doc));
    },

    /** The most recent alert with this fingerprint whose last event is at or after `since` (dedupe window). */
    findRecentByFingerprint: async (fingerprints: string[], since: string): Promise<Alert[]> => {
      if (fingerprints.length === 0) return [];
      const r = await this.db.query<Row>(
        `SELECT DISTINCT ON (fingerprint) doc FROM alerts
         WHERE fingerprint = ANY($1::text[]) AND last_seen >= $2::timestamptz AND status <> 'closed'
         ORDER BY fingerprint, last_seen DESC`,
        [fingerprints, since],
      );
      return r.rows.map((row) => fromJson<Alert>(row.doc));
    },

    list: async (f: AlertFilter = {}): Promise<ListResult<Alert>> => {
      const w = new Where();
      if (f.from) w.add('last_seen >= ?::timestamptz', f.from);
      if (f.to) w.add('first_seen < ?::timestamptz', f.to);
      if (f.severity?.length) w.add('severity = ANY(?::text[])', f.severity);
      if (f.min_severity) w.add('severity_rank >= ?', severityRank(f.min_severity));
      if (f.rule) w.add('? = ANY(rule_ids)', f.rule);
      if (f.status?.length) w.add('status = ANY(?::text[])', f.status);
      if (f.incident_id) w.add('incident_id = ?::uuid', f.incident_id);
      const dir = f.order === 'asc' ? 'ASC' : 'DESC';
      const orderBy =
        f.sort === 'time' ? `last_seen ${dir}, priority DESC` : `priority ${dir}, last_seen DESC`;
      const limit = clampLimit(f.limit);
      const offset = Math.max(0, f.offset ?? 0);
      const total = await this.db.query<{ n: unknown }>(
        `SELECT count(*) AS n FROM alerts ${w.sql}`,
        w.params,
      );
      const rows = await this.db.query<Row>(
        `SELECT doc FROM alerts ${w.sql} ORDER BY ${orderBy}, id LIMIT ${limit} OFFSET ${offset}`,
        w.params,
      );
      return { items: rows.rows.map((r) => fromJson<Alert>(r.doc)), total: toNumber(total.rows[0]?.n) };
    },

    count: async (): Promise<number> => {
      const r = await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM alerts');
      return toNumber(r.rows[0]?.n);
    },

    delete: async (id: string): Promise<boolean> => {
      const r = await this.db.query('DELETE FROM alerts WHERE id = $1', [id]);
      return r.rowCount > 0;
    },
  };

  // ------------------------------------------------------------- incidents
  readonly incidents = {
    upsert: async (incidents: Incident[]): Promise<void> => {
      for (const i of incidents) {
        await this.db.query(
          `INSERT INTO incidents (id, status, severity, severity_rank, priority, first_seen, last_seen, created_at, updated_at, doc)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
           ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, severity = EXCLUDED.severity,
             severity_rank = EXCLUDED.severity_rank, priority = EXCLUDED.priority, first_seen = EXCLUDED.first_seen,
             last_seen = EXCLUDED.last_seen, updated_at = EXCLUDED.updated_at, doc = EXCLUDED.doc`,
          [
            i.id,
            i.status,
            i.severity,
            severityRank(i.severity),
            i.priority,
            i.first_seen,
            i.last_seen,
            i.created_at,
            i.updated_at,
            toPgJson(i),
          ],
        );
      }
    },

    get: async (id: string): Promise<Incident | undefined> => {
      const r = await this.db.query<Row>('SELECT doc FROM incidents WHERE id = $1', [id]);
      return r.rows[0] ? fromJson<Incident>(r.rows[0].doc) : undefined;
    },

    /** Incidents still open whose last alert is at or after `since` (correlation window). */
    listOpenSince: async (since: string): Promise<Incident[]> => {
      const r = await this.db.query<Row>(
        `SELECT doc FROM incidents WHERE status NOT IN ('resolved', 'closed') AND last_seen >= $1::timestamptz
         ORDER BY last_seen DESC LIMIT 5000`,
        [since],
      );
      return r.rows.map((row) => fromJson<Incident>(row.doc));
    },

    list: async (f: IncidentFilter = {}): Promise<ListResult<Incident>> => {
      const w = new Where();
      if (f.from) w.add('last_seen >= ?::timestamptz', f.from);
      if (f.to) w.add('first_seen < ?::timestamptz', f.to);
      if (f.status?.length) w.add('status = ANY(?::text[])', f.status);
      const dir = f.order === 'asc' ? 'ASC' : 'DESC';
      const orderBy = f.sort === 'time' ? `last_seen ${dir}` : `priority ${dir}, last_seen DESC`;
      const limit = clampLimit(f.limit);
      const offset = Math.max(0, f.offset ?? 0);
      const total = await this.db.query<{ n: unknown }>(
        `SELECT count(*) AS n FROM incidents ${w.sql}`,
        w.params,
      );
      const rows = await this.db.query<Row>(
        `SELECT doc FROM incidents ${w.sql} ORDER BY ${orderBy}, id LIMIT ${limit} OFFSET ${offset}`,
        w.params,
      );
      return { items: rows.rows.map((r) => fromJson<Incident>(r.doc)), total: toNumber(total.rows[0]?.n) };
    },

    delete: async (id: string): Promise<boolean> => {
      const r = await this.db.query('DELETE FROM incidents WHERE id = $1', [id]);
      return r.rowCount > 0;
    },
  };

  // -------------------------------------------------------------- verdicts
  readonly verdicts = {
    insert: async (v: StoredVerdict): Promise<void> => {
      await this.db.query(
        'INSERT INTO verdicts (id, alert_id, fingerprint, cache_key, created_at, doc) VALUES ($1, $2, $3, $4, $5, $6::jsonb)',
        [v.id, v.alert_id, v.fingerprint ?? null, v.cache_key ?? null, v.created_at, toPgJson(v)],
      );
    },
    get: async (id: string): Promise<StoredVerdict | undefined> => {
      const r = await this.db.query<Row>('SELECT doc FROM verdicts WHERE id = $1', [id]);
      return r.rows[0] ? fromJson<StoredVerdict>(r.rows[0].doc) : undefined;
    },
    latestFor: async (alertId: string): Promise<StoredVerdict | undefined> => {
      const r = await this.db.query<Row>(
        'SELECT doc FROM verdicts WHERE alert_id = $1 ORDER BY created_at DESC LIMIT 1',
        [alertId],
      );
      return r.rows[0] ? fromJson<StoredVerdict>(r.rows[0].doc) : undefined;
    },
    /** The latest verdict stored under this cache key (docs/analyst.md: the verdict cache). */
    latestByCacheKey: async (key: string): Promise<StoredVerdict | undefined> => {
      const r = await this.db.query<Row>(
        'SELECT doc FROM verdicts WHERE cache_key = $1 ORDER BY created_at DESC LIMIT 1',
        [key],
      );
      return r.rows[0] ? fromJson<StoredVerdict>(r.rows[0].doc) : undefined;
    },
    delete: async (id: string): Promise<boolean> => {
      const r = await this.db.query('DELETE FROM verdicts WHERE id = $1', [id]);
      return r.rowCount > 0;
    },
  };

  // ----------------------------------------------------------------- cases
  readonly cases = {
    upsert: async (c: Case): Promise<void> => {
      await this.db.query(
        `INSERT INTO cases (id, incident_id, status, created_at, updated_at, doc) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
         ON CONFLICT (id) DO UPDATE SET incident_id = EXCLUDED.incident_id, status = EXCLUDED.status,
           updated_at = EXCLUDED.updated_at, doc = EXCLUDED.doc`,
        [c.id, c.incident_id ?? null, c.status, c.created_at, c.updated_at, toPgJson(c)],
      );
    },
    get: async (id: string): Promise<Case | undefined> => {
      const r = await this.db.query<Row>('SELECT doc FROM cases WHERE id = $1', [id]);
      return r.rows[0] ? fromJson<Case>(r.rows[0].doc) : undefined;
    },
    openForIncident: async (incidentId: string): Promise<Case | undefined> => {
      const r = await this.db.query<Row>(
        "SELECT doc FROM cases WHERE incident_id = $1 AND status <> 'closed'",
        [incidentId],
      );
      return r.rows[0] ? fromJson<Case>(r.rows[0].doc) : undefined;
    },
    list: async (
      f: { status?: string[]; limit?: number; offset?: number } = {},
    ): Promise<ListResult<Case>> => {
      const w = new Where();
      if (f.status?.length) w.add('status = ANY(?::text[])', f.status);
      const limit = clampLimit(f.limit);
      const offset = Math.max(0, f.offset ?? 0);
      const total = await this.db.query<{ n: unknown }>(`SELECT count(*) AS n FROM cases ${w.sql}`, w.params);
      const rows = await this.db.query<Row>(
        `SELECT doc FROM cases ${w.sql} ORDER BY updated_at DESC, id LIMIT ${limit} OFFSET ${offset}`,
        w.params,
      );
      return { items: rows.rows.map((r) => fromJson<Case>(r.doc)), total: toNumber(total.rows[0]?.n) };
    },
    delete: async (id: string): Promise<boolean> => {
      const r = await this.db.query('DELETE FROM cases WHERE id = $1', [id]);
      return r.rowCount > 0;
    },
  };

  // ----------------------------------------------------------------- audit
  readonly audit = {
    append: async (e: AuditInput): Promise<AuditEntry> => {
      const r = await this.db.query<Row>(
        `INSERT INTO audit_log (actor, action, target_type, target_id, reason, details)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING id, at`,
        // The log must take every entry: text PostgreSQL refuses (NUL) is replaced, never a reason to lose the entry.
        [
          toPgText(e.actor),
          e.action,
          e.target_type,
          toPgText(e.target_id),
          e.reason === undefined ? null : toPgText(e.reason),
          toPgJson(e.details ?? {}),
        ],
      );
      const row = r.rows[0]!;
      return { ...e, details: e.details ?? {}, id: toNumber(row.id), at: isoTime(row.at) };
    },
    list: async (
      f: {
        target_type?: string;
        target_id?: string;
        action?: string;
        after_id?: number;
        limit?: number;
      } = {},
    ): Promise<AuditEntry[]> => {
      const w = new Where();
      if (f.target_type) w.add('target_type = ?', f.target_type);
      if (f.target_id) w.add('target_id = ?', f.target_id);
      if (f.action) w.add('action = ?', f.action);
      if (f.after_id !== undefined) w.add('id > ?', f.after_id);
      const limit = Math.max(1, Math.min(f.limit ?? 1000, 10_000));
      const r = await this.db.query<Row>(
        `SELECT * FROM audit_log ${w.sql} ORDER BY id LIMIT ${limit}`,
        w.params,
      );
      return r.rows.map((row) => {
        const entry: AuditEntry = {
          id: toNumber(row.id),
          at: isoTime(row.at),
          actor: String(row.actor),
          action: String(row.action),
          target_type: String(row.target_type),
          target_id: String(row.target_id),
          details: fromJson<Record<string, unknown>>(row.details) ?? {},
        };
        if (row.reason != null) entry.reason = String(row.reason);
        return entry;
      });
    },
  };

  // ---------------------------------------------------------- dead letters
  readonly deadLetters = {
    insert: async (items: DeadLetterInput[]): Promise<void> => {
      if (items.length === 0) return;
      await this.db.query(
        `INSERT INTO dead_letters (source, stage, code, reason, field, record)
         SELECT e->>'source', e->>'stage', e->>'code', e->>'reason', e->>'field', e->>'record'
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n`,
        [toPgJson(items)],
      );
    },
    list: async (
      f: { source?: string; stage?: string; limit?: number; offset?: number } = {},
    ): Promise<ListResult<DeadLetter>> => {
      const w = new Where();
      if (f.source) w.add('source = ?', f.source);
      if (f.stage) w.add('stage = ?', f.stage);
      const limit = clampLimit(f.limit);
      const offset = Math.max(0, f.offset ?? 0);
      const total = await this.db.query<{ n: unknown }>(
        `SELECT count(*) AS n FROM dead_letters ${w.sql}`,
        w.params,
      );
      const r = await this.db.query<Row>(
        `SELECT * FROM dead_letters ${w.sql} ORDER BY id DESC LIMIT ${limit} OFFSET ${offset}`,
        w.params,
      );
      const items = r.rows.map((row) => {
        const d: DeadLetter = {
          id: toNumber(row.id),
          at: isoTime(row.at),
          source: String(row.source),
          stage: String(row.stage),
          code: String(row.code),
          reason: String(row.reason),
          record: String(row.record),
        };
        if (row.field != null) d.field = String(row.field);
        return d;
      });
      return { items, total: toNumber(total.rows[0]?.n) };
    },
    count: async (): Promise<number> => {
      const r = await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM dead_letters');
      return toNumber(r.rows[0]?.n);
    },
  };

  // -------------------------------------------------------------- api keys
  readonly apiKeys = {
    /** Create a key; the plain key is returned once and never stored. */
    create: async (
      name: string,
      scopes: ApiScope[],
      key: string = generateApiKey(),
    ): Promise<{ key: string; record: ApiKeyRecord }> => {
      const record: ApiKeyRecord = {
        id: uuidv7(),
        name,
        prefix: key.slice(0, 12),
        scopes: [...new Set(scopes)],
        created_at: new Date().toISOString(),
      };
      await this.db.query(
        'INSERT INTO api_keys (id, name, prefix, hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [record.id, name, record.prefix, hashApiKey(key), record.scopes, record.created_at],
      );
      return { key, record };
    },
    findActiveByKey: async (key: string): Promise<ApiKeyRecord | undefined> => {
      const r = await this.db.query<Row>('SELECT * FROM api_keys WHERE hash = $1 AND revoked_at IS NULL', [
        hashApiKey(key),
      ]);
      return r.rows[0] ? keyFromRow(r.rows[0]) : undefined;
    },
    list: async (): Promise<ApiKeyRecord[]> => {
      const r = await this.db.query<Row>('SELECT * FROM api_keys ORDER BY created_at');
      return r.rows.map(keyFromRow);
    },
    /** Revoke by name or id; returns whether a key was revoked. */
    revoke: async (nameOrId: string): Promise<boolean> => {
      const r = await this.db.query(
        `UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL AND (name = $1 OR id::text = $1)`,
        [nameOrId],
      );
      return r.rowCount > 0;
    },
    touch: async (id: string): Promise<void> => {
      await this.db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [id]);
    },
    hasActiveAdmin: async (): Promise<boolean> => {
      const r = await this.db.query<{ n: unknown }>(
        "SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL AND 'admin' = ANY(scopes)",
      );
      return toNumber(r.rows[0]?.n) > 0;
    },
  };

  // --------------------------------------------------------------- offsets
  readonly offsets = {
    get: async (name: string): Promise<number> => {
      const r = await this.db.query<{ seq: unknown }>('SELECT seq FROM pipeline_offsets WHERE name = $1', [
        name,
      ]);
      return r.rows[0] ? toNumber(r.rows[0].seq) : 0;
    },
    set: async (name: string, seq: number): Promise<void> => {
      await this.db.query(
        `INSERT INTO pipeline_offsets (name, seq, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq, updated_at = now()`,
        [name, seq],
      );
    },
  };

  // ------------------------------------------------------- action requests
  readonly actions = {
    /**
     * Create a request unless a live one (LIVE_ACTION_STATUSES) has the same
     * idempotency key; either way return the stored request (the live one
     * wins). Requests that were denied, failed, expired or rolled back do not
     * count: asking again after them makes a new request. Uniqueness among
     * live requests is a partial unique index, so two writers racing with the
     * same key still make one request.
     */
    createOrGet: async (req: ActionRequest): Promise<{ request: ActionRequest; created: boolean }> => {
      // The live request found by the conflict may end between the two statements: then insert again.
      for (let attempt = 0; attempt < 5; attempt++) {
        const r = await this.db.query<Row>(
          `INSERT INTO action_requests (id, idempotency_key, type, effect, status, dry_run, requested_by, alert_id, incident_id,
                                        run_id, expires_at, created_at, updated_at, doc)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb)
           ON CONFLICT DO NOTHING RETURNING doc`,
          [
            req.id,
            req.idempotency_key,
            req.type,
            req.effect,
            req.status,
            req.dry_run,
            req.requested_by,
            req.alert_id ?? null,
            req.incident_id ?? null,
            req.run_id ?? null,
            req.expires_at ?? null,
            req.created_at,
            req.updated_at,
            toPgJson(req),
          ],
        );
        if (r.rows[0]) return { request: fromJson<ActionRequest>(r.rows[0].doc), created: true };
        const existing = await this.db.query<Row>(
          'SELECT doc FROM action_requests WHERE idempotency_key = $1 AND status = ANY($2::text[]) LIMIT 1',
          [req.idempotency_key, [...LIVE_ACTION_STATUSES]],
        );
        if (existing.rows[0])
          return { request: fromJson<ActionRequest>(existing.rows[0].doc), created: false };
        // No live request holds the key: the conflict was on the id (a caller reusing one).
        const sameId = await this.db.query<Row>('SELECT doc FROM action_requests WHERE id::text = $1', [
          req.id,
        ]);
        if (sameId.rows[0]) return { request: fromJson<ActionRequest>(sameId.rows[0].doc), created: false };
      }
      throw new AisocError(
        'AISOC_ERR_CONFLICT',
        'The request kept changing while it was being recorded; retry',
        {
          field: 'idempotency_key',
        },
      );
    },
    /**
     * Record one person's approval of a pending request, atomically: refused
     * (undefined) when the request is no longer pending, when `approval.by`
     * requested it, or when `approval.by` has already approved it. The
     * request becomes `approved` with the approval that brings it to
     * `minApprovers`; until then it stays pending with the approvals so far.
     */
    addApproval: async (
      id: string,
      approval: Approval,
      minApprovers: number,
    ): Promise<ActionRequest | undefined> => {
      const now = new Date().toISOString();
      const r = await this.db.query<Row>(
        `UPDATE action_requests
            SET status = CASE WHEN jsonb_array_length(COALESCE(doc->'approvals', '[]'::jsonb)) + 1 >= $3
                              THEN 'approved' ELSE status END,
                updated_at = $4::timestamptz,
                doc = (doc - 'decision_comment') || jsonb_strip_nulls(jsonb_build_object(
                  'approvals', COALESCE(doc->'approvals', '[]'::jsonb) || jsonb_build_array($2::jsonb),
                  'status', CASE WHEN jsonb_array_length(COALESCE(doc->'approvals', '[]'::jsonb)) + 1 >= $3
                                 THEN 'approved' ELSE status END,
                  'updated_at', $7::text,
                  'decided_by', $5::text,
                  'decided_at', $7::text,
                  'decision_comment', $6::text))
          WHERE id::text = $1 AND status = 'pending_approval'
            AND doc->>'requested_by' IS DISTINCT FROM $5::text
            AND NOT COALESCE(doc->'approvals', '[]'::jsonb) @> jsonb_build_array(jsonb_build_object('by', $5::text))
          RETURNING doc`,
        // `now` twice: once for the timestamptz column, once as the ISO text the document keeps.
        [id, toPgJson(approval), minApprovers, now, approval.by, approval.comment ?? null, now],
      );
      return r.rows[0] ? fromJson<ActionRequest>(r.rows[0].doc) : undefined;
    },
    get: async (id: string): Promise<ActionRequest | undefined> => {
      const r = await this.db.query<Row>('SELECT doc FROM action_requests WHERE id::text = $1', [id]);
      return r.rows[0] ? fromJson<ActionRequest>(r.rows[0].doc) : undefined;
    },
    /**
     * Move a request from one of `from` to a new state, atomically: the
     * update happens only if the stored status is still one of `from`, so
     * two workers can never both start the same action.
     */
    transition: async (
      id: string,
      from: ActionStatus[],
      patch: Partial<ActionRequest> & { status: ActionStatus },
    ): Promise<ActionRequest | undefined> => {
      const now = new Date().toISOString();
      const r = await this.db.query<Row>(
        `UPDATE action_requests SET status = $3, updated_at = $4,
           doc = doc || $5::jsonb
         WHERE id::text = $1 AND status = ANY($2::text[]) RETURNING doc`,
        [id, from, patch.status, now, toPgJson({ ...patch, updated_at: now })],
      );
      return r.rows[0] ? fromJson<ActionRequest>(r.rows[0].doc) : undefined;
    },
    list: async (
      f: { status?: string[]; run_id?: string; limit?: number; offset?: number } = {},
    ): Promise<ListResult<ActionRequest>> => {
      const w = new Where();
      if (f.status?.length) w.add('status = ANY(?::text[])', f.status);
      if (f.run_id) w.add('run_id = ?::uuid', f.run_id);
      const limit = clampLimit(f.limit);
      const offset = Math.max(0, f.offset ?? 0);
      const total = await this.db.query<{ n: unknown }>(
        `SELECT count(*) AS n FROM action_requests ${w.sql}`,
        w.params,
      );
      const rows = await this.db.query<Row>(
        `SELECT doc FROM action_requests ${w.sql} ORDER BY created_at DESC, id LIMIT ${limit} OFFSET ${offset}`,
        w.params,
      );
      return {
        items: rows.rows.map((r) => fromJson<ActionRequest>(r.doc)),
        total: toNumber(total.rows[0]?.n),
      };
    },
    /** Pending requests whose approval window has closed. */
    expiredPending: async (now: string): Promise<ActionRequest[]> => {
      const r = await this.db.query<Row>(
        "SELECT doc FROM action_requests WHERE status = 'pending_approval' AND expires_at IS NOT NULL AND expires_at <= $1::timestamptz",
        [now],
      );
      return r.rows.map((row) => fromJson<ActionRequest>(row.doc));
    },
  };

  // ---------------------------------------------------------- playbook runs
  readonly runs = {
    /** The run of a playbook for a subject, created if absent (one run per playbook and subject). */
    getOrCreate: async (run: PlaybookRun): Promise<{ run: PlaybookRun; created: boolean }> => {
      const r = await this.db.query<Row>(
        `INSERT INTO playbook_runs (id, playbook, subject_type, subject_id, status, created_at, updated_at, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
         ON CONFLICT (playbook, subject_type, subject_id) DO NOTHING RETURNING doc`,
        [
          run.id,
          run.playbook,
          run.subject_type,
          run.subject_id,
          run.status,
          run.created_at,
          run.updated_at,
          toPgJson(run),
        ],
      );
      if (r.rows[0]) return { run: fromJson<PlaybookRun>(r.rows[0].doc), created: true };
      const existing = await this.db.query<Row>(
        'SELECT doc FROM playbook_runs WHERE playbook = $1 AND subject_type = $2 AND subject_id = $3',
        [run.playbook, run.subject_type, run.subject_id],
      );
      return { run: fromJson<PlaybookRun>(existing.rows[0]!.doc), created: false };
    },
    save: async (run: PlaybookRun): Promise<void> => {
      await this.db.query(
        'UPDATE playbook_runs SET status = $2, updated_at = $3, doc = $4::jsonb WHERE id = $1',
        [run.id, run.status, run.updated_at, toPgJson(run)],
      );
    },
    get: async (id: string): Promise<PlaybookRun | undefined> => {
      const r = await this.db.query<Row>('SELECT doc FROM playbook_runs WHERE id::text = $1', [id]);
      return r.rows[0] ? fromJson<PlaybookRun>(r.rows[0].doc) : undefined;
    },
    forSubject: async (subjectType: string, subjectId: string): Promise<PlaybookRun[]> => {
      const r = await this.db.query<Row>(
        'SELECT doc FROM playbook_runs WHERE subject_type = $1 AND subject_id = $2 ORDER BY created_at',
        [subjectType, subjectId],
      );
      return r.rows.map((row) => fromJson<PlaybookRun>(row.doc));
    },
    list: async (f: { status?: string[]; limit?: number } = {}): Promise<PlaybookRun[]> => {
      const w = new Where();
      if (f.status?.length) w.add('status = ANY(?::text[])', f.status);
      const r = await this.db.query<Row>(
        `SELECT doc FROM playbook_runs ${w.sql} ORDER BY updated_at DESC LIMIT ${clampLimit(f.limit)}`,
        w.params,
      );
      return r.rows.map((row) => fromJson<PlaybookRun>(row.doc));
    },
  };

  // ----------------------------------------------------------- suppressions
  readonly suppressions = {
    insert: async (s: Suppression): Promise<void> => {
      await this.db.query(
        `INSERT INTO suppressions (id, rule_id, entity_type, entity_value, expires_at, reason, created_by, case_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          s.id,
          s.rule_id,
          s.entity_type,
          s.entity_value,
          s.expires_at,
          s.reason,
          s.created_by,
          s.case_id ?? null,
          s.created_at,
        ],
      );
    },
    active: async (now: string): Promise<Suppression[]> => {
      const r = await this.db.query<Row>(
        'SELECT * FROM suppressions WHERE revoked_at IS NULL AND expires_at > $1::timestamptz ORDER BY created_at',
        [now],
      );
      return r.rows.map((row) => {
        const s: Suppression = {
          id: String(row.id),
          rule_id: String(row.rule_id),
          entity_type: String(row.entity_type),
          entity_value: String(row.entity_value),
          expires_at: isoTime(row.expires_at),
          reason: String(row.reason),
          created_by: String(row.created_by),
          created_at: isoTime(row.created_at),
        };
        if (row.case_id != null) s.case_id = String(row.case_id);
        return s;
      });
    },
    revoke: async (id: string): Promise<boolean> => {
      const r = await this.db.query(
        'UPDATE suppressions SET revoked_at = now() WHERE id::text = $1 AND revoked_at IS NULL',
        [id],
      );
      return r.rowCount > 0;
    },
  };

  // ------------------------------------------------------------ work queue
  readonly work = {
    /** Enqueue (or refresh) one item per topic and key; a pending item is not duplicated. */
    enqueue: async (topic: string, key: string, payload: unknown): Promise<void> => {
      await this.db.query(
        `INSERT INTO work_queue (topic, key, payload) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (topic, key) DO UPDATE SET payload = EXCLUDED.payload`,
        [topic, key, toPgJson(payload)],
      );
    },
    /** Items of a topic that are due, oldest first. */
    due: async (
      topic: string,
      limit: number,
    ): Promise<Array<{ id: number; key: string; payload: unknown; attempts: number }>> => {
      const r = await this.db.query<Row>(
        `SELECT id, key, payload, attempts FROM work_queue WHERE topic = $1 AND available_at <= now() ORDER BY id LIMIT $2`,
        [topic, limit],
      );
      return r.rows.map((row) => ({
        id: toNumber(row.id),
        key: String(row.key),
        payload: fromJson(row.payload),
        attempts: toNumber(row.attempts),
      }));
    },
    done: async (id: number): Promise<void> => {
      await this.db.query('DELETE FROM work_queue WHERE id = $1', [id]);
    },
    /** Put an item back for a later attempt, recording why it failed. */
    retryLater: async (id: number, delayMs: number, error: string): Promise<void> => {
      await this.db.query(
        `UPDATE work_queue SET attempts = attempts + 1, last_error = $2,
           available_at = now() + ($3::text || ' milliseconds')::interval WHERE id = $1`,
        [id, error.slice(0, 2000), String(Math.max(0, Math.round(delayMs)))],
      );
    },
    count: async (topic?: string): Promise<number> => {
      const r = topic
        ? await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM work_queue WHERE topic = $1', [
            topic,
          ])
        : await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM work_queue');
      return toNumber(r.rows[0]?.n);
    },
  };

  // -------------------------------------------------------------------- kv
  readonly kv = {
    get: async <T>(key: string): Promise<T | undefined> => {
      const r = await this.db.query<Row>('SELECT value FROM kv WHERE key = $1', [key]);
      return r.rows[0] ? fromJson<T>(r.rows[0].value) : undefined;
    },
    set: async (key: string, value: unknown): Promise<void> => {
      await this.db.query(
        `INSERT INTO kv (key, value, updated_at) VALUES ($1, $2::jsonb, now())
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [key, toPgJson(value)],
      );
    },
    delete: async (key: string): Promise<void> => {
      await this.db.query('DELETE FROM kv WHERE key = $1', [key]);
    },
  };
}

function keyFromRow(r: Row): ApiKeyRecord {
  const rec: ApiKeyRecord = {
    id: String(r.id),
    name: String(r.name),
    prefix: String(r.prefix),
    scopes: (r.scopes as ApiScope[]) ?? [],
    created_at: isoTime(r.created_at),
  };
  if (r.last_used_at != null) rec.last_used_at = isoTime(r.last_used_at);
  if (r.revoked_at != null) rec.revoked_at = isoTime(r.revoked_at);
  return rec;
}

/** The store: repositories over a client, plus transactions and lifecycle. */
export class Store extends Repositories {
  constructor(readonly client: SqlClient) {
    super(client);
  }
  get engine(): SqlClient['engine'] {
    return this.client.engine;
  }
  /** Run `fn` with repositories bound to one transaction. */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
    return this.client.transaction((q) => fn(new Repositories(q)));
  }
  close(): Promise<void> {
    return this.client.close();
  }
}
