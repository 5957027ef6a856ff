import type { SeverityName } from '../../schema/common.ts';
import { isoTime, type Queryable, toNumber } from '../sql.ts';
import type { Row } from './shared.ts';

/** A time range, ISO-8601, `from` inclusive and `to` exclusive. */
export interface TimeWindow {
  from: string;
  to: string;
}

/** Priority bands of open incidents, highest first: `min` inclusive, `max` exclusive (100 included in the top band). */
export const PRIORITY_BANDS = [
  { band: 'critical', min: 80, max: 100 },
  { band: 'high', min: 60, max: 80 },
  { band: 'medium', min: 40, max: 60 },
  { band: 'low', min: 0, max: 40 },
] as const;

/** Incident statuses counted as open. */
export const OPEN_INCIDENT_STATUSES = ['open', 'investigating', 'contained'] as const;

/** Alerts whose span overlaps the window, as `GET /alerts?from&to` selects them. */
const OVERLAP = 'last_seen >= $1::timestamptz AND first_seen < $2::timestamptz';

/**
 * Counts the console's overview, coverage, rule and source pages show:
 * aggregates over events, alert_search (migration 9) and incidents, never
 * over alert documents.
 *
 * @example
 * const perSource = await store.stats.eventsPerSource({ from, to });
 */
export class StatsRepository {
  constructor(private readonly db: Queryable) {}

  /** Events per source with their time in the window. */
  async eventsPerSource(w: TimeWindow): Promise<Array<{ source: string; count: number }>> {
    const r = await this.db.query<Row>(
      `SELECT source, count(*) AS n FROM events WHERE time >= $1::timestamptz AND time < $2::timestamptz
        GROUP BY source ORDER BY n DESC, source`,
      [w.from, w.to],
    );
    return r.rows.map((row) => ({ source: String(row.source), count: toNumber(row.n) }));
  }

  /** Alerts per bucket of `bucketS` seconds from `from` (by first event) and severity. */
  async alertsOverTime(
    w: TimeWindow,
    bucketS: number,
  ): Promise<Array<{ bucket: number; severity: SeverityName; count: number }>> {
    const r = await this.db.query<Row>(
      `SELECT floor(extract(epoch FROM first_seen - $1::timestamptz) / $3::double precision)::int AS b,
              severity, count(*) AS n
         FROM alert_search WHERE first_seen >= $1::timestamptz AND first_seen < $2::timestamptz
        GROUP BY b, severity`,
      [w.from, w.to, bucketS],
    );
    return r.rows.map((row) => ({
      bucket: toNumber(row.b),
      severity: String(row.severity) as SeverityName,
      count: toNumber(row.n),
    }));
  }

  /** Open incidents (open, investigating, contained) per priority band. */
  async openIncidentsByBand(): Promise<Map<string, number>> {
    const cases = PRIORITY_BANDS.map((b) => `WHEN priority >= ${b.min} THEN '${b.band}'`).join(' ');
    const r = await this.db.query<Row>(
      `SELECT CASE ${cases} ELSE 'low' END AS band, count(*) AS n FROM incidents
        WHERE status = ANY($1::text[]) GROUP BY band`,
      [[...OPEN_INCIDENT_STATUSES]],
    );
    return new Map(r.rows.map((row) => [String(row.band), toNumber(row.n)]));
  }

  /** The rules with most alerts in the window, each with the title its latest alert gives it. */
  async topRules(
    w: TimeWindow,
    limit = 10,
  ): Promise<Array<{ rule_id: string; title: string; count: number }>> {
    const r = await this.db.query<Row>(
      `SELECT rule_id, count(*) AS n FROM alert_search, unnest(rule_ids) AS rule_id WHERE ${OVERLAP}
        GROUP BY rule_id ORDER BY n DESC, rule_id LIMIT ${Math.max(1, Math.floor(limit))}`,
      [w.from, w.to],
    );
    const out: Array<{ rule_id: string; title: string; count: number }> = [];
    for (const row of r.rows) {
      const ruleId = String(row.rule_id);
      const t = await this.db.query<Row>(
        `SELECT d->>'rule_title' AS title FROM alerts AS a, jsonb_array_elements(a.doc->'detections') AS d
          WHERE a.id = (SELECT id FROM alert_search WHERE rule_ids @> ARRAY[$1::text] ORDER BY last_seen DESC LIMIT 1)
            AND d->>'rule_id' = $1 LIMIT 1`,
        [ruleId],
      );
      out.push({ rule_id: ruleId, title: String(t.rows[0]?.title ?? ruleId), count: toNumber(row.n) });
    }
    return out;
  }

  /** The entities in most alerts in the window. */
  async topEntities(
    w: TimeWindow,
    limit = 10,
  ): Promise<Array<{ type: string; value: string; count: number }>> {
    const r = await this.db.query<Row>(
      `SELECT entity, count(*) AS n FROM alert_search, unnest(entities) AS entity WHERE ${OVERLAP}
        GROUP BY entity ORDER BY n DESC, entity LIMIT ${Math.max(1, Math.floor(limit))}`,
      [w.from, w.to],
    );
    return r.rows.map((row) => {
      const e = String(row.entity);
      const at = e.indexOf(':');
      return { type: e.slice(0, at), value: e.slice(at + 1), count: toNumber(row.n) };
    });
  }

  /**
   * Alerts per ATT&CK technique in the window (all alerts without one): a
   * parent counts every alert carrying it or one of its sub-techniques, once.
   */
  async alertsPerTechnique(w?: TimeWindow): Promise<Map<string, number>> {
    const r = await this.db.query<Row>(
      `SELECT technique, count(*) AS n FROM alert_search, unnest(techniques) AS technique
        ${w ? `WHERE ${OVERLAP}` : ''} GROUP BY technique`,
      w ? [w.from, w.to] : [],
    );
    return new Map(r.rows.map((row) => [String(row.technique), toNumber(row.n)]));
  }

  /** Alerts per rule id whose last event is at or after `since`. */
  async alertsPerRule(since: string): Promise<Map<string, number>> {
    const r = await this.db.query<Row>(
      `SELECT rule_id, count(*) AS n FROM alert_search, unnest(rule_ids) AS rule_id
        WHERE last_seen >= $1::timestamptz GROUP BY rule_id`,
      [since],
    );
    return new Map(r.rows.map((row) => [String(row.rule_id), toNumber(row.n)]));
  }

  /**
   * Per source: events ingested in the hour and the 5 minutes before `now`,
   * and the time of its latest event (event time, not after `now`).
   */
  async sourceActivity(
    sources: string[],
    now: string,
  ): Promise<Map<string, { last_hour: number; last_5m: number; last_event_at: string | null }>> {
    const out = new Map<string, { last_hour: number; last_5m: number; last_event_at: string | null }>();
    if (sources.length === 0) return out;
    // Arrivals by ingestion time (a source's own times may lag: CloudTrail delivers minutes late).
    const counts = await this.db.query<Row>(
      `SELECT source, count(*) AS hour,
              count(*) FILTER (WHERE ingested_at >= $2::timestamptz - interval '5 minutes') AS five
         FROM events WHERE ingested_at >= $2::timestamptz - interval '1 hour' AND ingested_at <= $2::timestamptz
          AND source = ANY($1::text[])
        GROUP BY source`,
      [sources, now],
    );
    const latest = await this.db.query<Row>(
      `SELECT s AS source, (SELECT max(time) FROM events WHERE source = s AND time <= $2::timestamptz) AS at
         FROM unnest($1::text[]) AS s`,
      [sources, now],
    );
    for (const s of sources) out.set(s, { last_hour: 0, last_5m: 0, last_event_at: null });
    for (const row of counts.rows) {
      const o = out.get(String(row.source));
      if (o) {
        o.last_hour = toNumber(row.hour);
        o.last_5m = toNumber(row.five);
      }
    }
    for (const row of latest.rows) {
      const o = out.get(String(row.source));
      if (o && row.at != null) o.last_event_at = isoTime(row.at);
    }
    return out;
  }
}
