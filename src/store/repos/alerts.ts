import type { Alert, AlertStatus } from '../../schema/alert.ts';
import { type SeverityName, severityRank } from '../../schema/common.ts';
import type { Incident } from '../../schema/incident.ts';
import { toPgJson } from '../json.ts';
import { fromJson, type Queryable, toNumber } from '../sql.ts';
import { clampLimit, type ListResult, type Row, Where } from './shared.ts';

export interface AlertFilter {
  from?: string;
  to?: string;
  severity?: SeverityName[];
  min_severity?: SeverityName;
  rule?: string;
  status?: AlertStatus[];
  incident_id?: string;
  /** Source types (any of). */
  source?: string[];
  /** ATT&CK technique ids (any of); a technique also matches its sub-techniques (`T1078` matches `T1078.004`). */
  technique?: string[];
  /** An entity value among the alert's entities, whole value, any case. */
  entity?: string;
  /** Text the title contains, any case. */
  q?: string;
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

/**
 * The alerts table: what correlation made of detections, deduplicated by fingerprint.
 *
 * @example
 * const { items, total } = await store.alerts.list({ min_severity: 'high', sort: 'time' });
 */
export class AlertRepository {
  constructor(private readonly db: Queryable) {}

  async upsert(alerts: Alert[]): Promise<void> {
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
  }

  /**
   * Set an alert's priority in place, leaving every other field as stored
   * (correlation may have added events since the caller read it). Returns
   * the alert as it now is.
   */
  async setPriority(id: string, priority: number, updatedAt: string): Promise<Alert | undefined> {
    const r = await this.db.query<Row>(
      `UPDATE alerts SET priority = $2::double precision, updated_at = $3::timestamptz,
              doc = doc || jsonb_build_object('priority', $2::double precision, 'updated_at', $4::text)
        WHERE id = $1 RETURNING doc`,
      [id, priority, updatedAt, updatedAt],
    );
    return r.rows[0] ? fromJson<Alert>(r.rows[0].doc) : undefined;
  }

  /**
   * Set an alert's status in place (a person triaging it), leaving every
   * other field as stored. Returns the alert as it now is and the status it
   * had, or undefined when there is no such alert.
   */
  async setStatus(
    id: string,
    status: AlertStatus,
    updatedAt: string,
  ): Promise<{ alert: Alert; previous: AlertStatus } | undefined> {
    const r = await this.db.query<Row>(
      `UPDATE alerts AS a SET status = $2::text, updated_at = $3::timestamptz,
              doc = a.doc || jsonb_build_object('status', $2::text, 'updated_at', $4::text)
         FROM (SELECT id, status AS previous FROM alerts WHERE id = $1 FOR UPDATE) AS old
        WHERE a.id = old.id
       RETURNING a.doc, old.previous`,
      [id, status, updatedAt, updatedAt],
    );
    const row = r.rows[0];
    return row ? { alert: fromJson<Alert>(row.doc), previous: row.previous as AlertStatus } : undefined;
  }

  async get(id: string): Promise<Alert | undefined> {
    const r = await this.db.query<Row>('SELECT doc FROM alerts WHERE id = $1', [id]);
    return r.rows[0] ? fromJson<Alert>(r.rows[0].doc) : undefined;
  }

  async getMany(ids: string[]): Promise<Alert[]> {
    if (ids.length === 0) return [];
    const r = await this.db.query<Row>('SELECT doc FROM alerts WHERE id = ANY($1::uuid[])', [ids]);
    return r.rows.map((row) => fromJson<Alert>(row.doc));
  }

  /** The most recent alert with this fingerprint whose last event is at or after `since` (dedupe window). */
  async findRecentByFingerprint(fingerprints: string[], since: string): Promise<Alert[]> {
    if (fingerprints.length === 0) return [];
    const r = await this.db.query<Row>(
      `SELECT DISTINCT ON (fingerprint) doc FROM alerts
       WHERE fingerprint = ANY($1::text[]) AND last_seen >= $2::timestamptz AND status <> 'closed'
       ORDER BY fingerprint, last_seen DESC`,
      [fingerprints, since],
    );
    return r.rows.map((row) => fromJson<Alert>(row.doc));
  }

  /**
   * A page of alerts and how many match. Filters, order and count read
   * alert_search (narrow rows a trigger keeps beside each alert, migration 9),
   * then the page's documents are read by id.
   */
  async list(f: AlertFilter = {}): Promise<ListResult<Alert>> {
    const w = new Where();
    if (f.from) w.add('last_seen >= ?::timestamptz', f.from);
    if (f.to) w.add('first_seen < ?::timestamptz', f.to);
    if (f.severity?.length) w.add('severity = ANY(?::text[])', f.severity);
    if (f.min_severity) w.add('severity_rank >= ?', severityRank(f.min_severity));
    if (f.rule) w.add('rule_ids @> ARRAY[?::text]', f.rule);
    if (f.status?.length) w.add('status = ANY(?::text[])', f.status);
    if (f.incident_id) w.add('incident_id = ?::uuid', f.incident_id);
    if (f.source?.length) w.add('source = ANY(?::text[])', f.source);
    // Upper-cased as the column is (ids are ASCII); each technique's parent is in the column too.
    if (f.technique?.length)
      w.add(
        'techniques && ?::text[]',
        f.technique.map((t) => t.toUpperCase()),
      );
    // Lower-cased by the database on both sides, as the trigger lower-cases the column.
    if (f.entity) w.add('entity_values @> ARRAY[lower(?::text)]', f.entity);
    if (f.q) {
      // The matching titles first, as values: the planner then knows how few they are. (As a subquery it
      // guessed many, and walked the priority index through every alert to fill a page nothing matched.)
      const titles = await this.db.query<Row>(
        'SELECT id FROM alert_titles WHERE strpos(lower(title), lower($1::text)) > 0',
        [f.q],
      );
      if (titles.rows.length === 0) return { items: [], total: 0 };
      w.add(
        'title_id = ANY(?::bigint[])',
        titles.rows.map((r) => String(r.id)),
      );
    }
    const dir = f.order === 'asc' ? 'ASC' : 'DESC';
    const orderBy = f.sort === 'time' ? `last_seen ${dir}, priority DESC` : `priority ${dir}, last_seen DESC`;
    const limit = clampLimit(f.limit);
    const offset = Math.max(0, f.offset ?? 0);
    const total = await this.db.query<{ n: unknown }>(
      `SELECT count(*) AS n FROM alert_search ${w.sql}`,
      w.params,
    );
    const page = await this.db.query<Row>(
      `SELECT a.doc FROM (SELECT id, priority, last_seen FROM alert_search ${w.sql}
                           ORDER BY ${orderBy}, id LIMIT ${limit} OFFSET ${offset}) AS p
         JOIN alerts AS a ON a.id = p.id
        ORDER BY ${orderBy.replaceAll('priority', 'p.priority').replaceAll('last_seen', 'p.last_seen')}, p.id`,
      w.params,
    );
    return { items: page.rows.map((r) => fromJson<Alert>(r.doc)), total: toNumber(total.rows[0]?.n) };
  }

  async count(): Promise<number> {
    const r = await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM alerts');
    return toNumber(r.rows[0]?.n);
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM alerts WHERE id = $1', [id]);
    return r.rowCount > 0;
  }
}

/**
 * The incidents table: alerts grouped by shared entities.
 *
 * @example
 * const open = await store.incidents.listOpenSince(windowStart);
 */
export class IncidentRepository {
  constructor(private readonly db: Queryable) {}

  async upsert(incidents: Incident[]): Promise<void> {
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
  }

  /**
   * Change an incident's priority, status or case in place, leaving every
   * other field as stored (correlation may have added alerts since the
   * caller read it). `status: 'investigating'` only moves an open incident
   * on. Returns the incident as it now is.
   */
  async patch(
    id: string,
    patch: { priority?: number; status?: Incident['status']; case_id?: string },
    updatedAt: string,
  ): Promise<Incident | undefined> {
    const r = await this.db.query<Row>(
      `UPDATE incidents
          SET status = CASE WHEN $3::text IS NULL OR ($3::text = 'investigating' AND status <> 'open') THEN status
                            ELSE $3::text END,
              priority = COALESCE($2::double precision, priority), updated_at = $5::timestamptz,
              doc = doc || jsonb_strip_nulls(jsonb_build_object(
                'status', CASE WHEN $3::text IS NULL OR ($3::text = 'investigating' AND status <> 'open') THEN status
                               ELSE $3::text END,
                'priority', $2::double precision, 'case_id', $4::text, 'updated_at', $6::text))
        WHERE id = $1
       RETURNING doc`,
      [id, patch.priority ?? null, patch.status ?? null, patch.case_id ?? null, updatedAt, updatedAt],
    );
    return r.rows[0] ? fromJson<Incident>(r.rows[0].doc) : undefined;
  }

  async get(id: string): Promise<Incident | undefined> {
    const r = await this.db.query<Row>('SELECT doc FROM incidents WHERE id = $1', [id]);
    return r.rows[0] ? fromJson<Incident>(r.rows[0].doc) : undefined;
  }

  /** Incidents still open whose last alert is at or after `since` (correlation window). */
  async listOpenSince(since: string): Promise<Incident[]> {
    const r = await this.db.query<Row>(
      `SELECT doc FROM incidents WHERE status NOT IN ('resolved', 'closed') AND last_seen >= $1::timestamptz
       ORDER BY last_seen DESC LIMIT 5000`,
      [since],
    );
    return r.rows.map((row) => fromJson<Incident>(row.doc));
  }

  async list(f: IncidentFilter = {}): Promise<ListResult<Incident>> {
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
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM incidents WHERE id = $1', [id]);
    return r.rowCount > 0;
  }
}
