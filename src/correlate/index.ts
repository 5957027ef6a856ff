import type { AlertCandidate } from '../detect/types.ts';
import { fingerprint, uuidv7 } from '../ids.ts';
import type { Stage } from '../pipeline/stage.ts';
import type { Alert, Detection } from '../schema/alert.ts';
import { type Entity, type EntityType, severityRank } from '../schema/common.ts';
import type { Incident } from '../schema/incident.ts';
import type { Suppression } from '../schema/response.ts';
import type { Repositories } from '../store/index.ts';
import { techniquesAndTactics } from './attack-tags.ts';
import { canonicalEntityValue, entityKey, eventEntities, mergeEntities } from './entities.ts';
import { correlateMetrics } from './metrics.ts';
import { detectionPriority, maxLevel } from './priority.ts';

export interface CorrelateOptions {
  /** Identical alerts (same rule, same entities) whose events fall within this window fold into one, with a count. */
  dedupeWindowMs: number;
  /** Alerts sharing an entity within this window are grouped into one incident. */
  groupWindowMs: number;
  /** Entity types that link alerts into an incident. */
  groupBy: EntityType[];
  /** Most event ids kept on one alert (the count keeps growing). */
  maxEventIds?: number;
  /** Active suppressions (detection feedback from cases closed as false positives). */
  suppressions?: () => Promise<Suppression[]>;
}

/** Whether a suppression covers an alert: same rule, and the entity is among the alert's. */
export function suppressedBy(
  alert: Pick<Alert, 'detections' | 'entities'>,
  list: Suppression[],
): Suppression | undefined {
  return list.find(
    (s) =>
      alert.detections.some((d) => d.rule_id === s.rule_id) &&
      alert.entities.some(
        (e) =>
          e.type === s.entity_type &&
          canonicalEntityValue(e.type, e.value).toLowerCase() ===
            canonicalEntityValue(s.entity_type, s.entity_value).toLowerCase(),
      ),
  );
}

export interface CorrelateResult {
  /** Alerts created or changed, suppressed ones included. */
  alerts: Alert[];
  created: number;
  folded: number;
  suppressed: number;
  /** Incidents created or changed. */
  incidents: Incident[];
}

const MAX_EVENT_IDS = 1000;

function ms(iso: string): number {
  return Date.parse(iso);
}

/** The earlier of two ISO timestamps (compared as instants). */
function earlier(a: string, b: string): string {
  return ms(a) <= ms(b) ? a : b;
}

function later(a: string, b: string): string {
  return ms(a) >= ms(b) ? a : b;
}

function unionStrings(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

function mergeDetections(a: Detection[], b: Detection[], cap: number): Detection[] {
  const byRule = new Map(a.map((d) => [d.rule_id, { ...d, event_ids: [...d.event_ids] }]));
  for (const d of b) {
    const prev = byRule.get(d.rule_id);
    if (!prev) byRule.set(d.rule_id, { ...d });
    else {
      prev.event_ids = unionStrings(prev.event_ids, d.event_ids).slice(0, cap);
      if (d.confidence !== undefined) prev.confidence = Math.max(prev.confidence ?? 0, d.confidence);
      if (severityRank(d.level) > severityRank(prev.level)) prev.level = d.level;
    }
  }
  return [...byRule.values()];
}

/** Build a new alert from one detection. */
export function alertFromCandidate(c: AlertCandidate, groupBy: Set<EntityType>, now: string): Alert {
  const times = c.events.map((e) => e.time).sort();
  const entities = mergeEntities(c.events.map(eventEntities));
  const keyEntities = entities
    .filter((en) => groupBy.has(en.type))
    .map(entityKey)
    .sort();
  const { techniques, tactics } = techniquesAndTactics(c.detection.tags);
  const first = times[0] ?? now;
  const last = times[times.length - 1] ?? now;
  const detections = [c.detection];
  const alert: Alert = {
    id: uuidv7(),
    fingerprint: fingerprint(c.detection.rule_id, ...keyEntities),
    title: c.title ?? c.detection.rule_title,
    source: c.events[0]?.source ?? 'unknown',
    severity: maxLevel(detections),
    priority: detectionPriority(detections),
    status: 'new',
    detections,
    event_ids: c.events.map((e) => e.id),
    count: 1,
    entities,
    mitre_techniques: techniques,
    mitre_tactics: tactics,
    first_seen: first,
    last_seen: last,
    created_at: now,
    updated_at: now,
  };
  if (c.description ?? c.detection.description) alert.description = c.description ?? c.detection.description;
  return alert;
}

/** Fold `b` (a repeat of `a`) into `a`. */
function foldAlert(a: Alert, b: Alert, cap: number, now: string): Alert {
  const detections = mergeDetections(a.detections, b.detections, cap);
  return {
    ...a,
    detections,
    event_ids: unionStrings(a.event_ids, b.event_ids).slice(0, cap),
    count: a.count + b.count,
    entities: mergeEntities([a.entities, b.entities]),
    severity: maxLevel(detections),
    priority: Math.max(a.priority, b.priority),
    mitre_techniques: unionStrings(a.mitre_techniques, b.mitre_techniques).sort(),
    mitre_tactics: unionStrings(a.mitre_tactics, b.mitre_tactics),
    first_seen: earlier(a.first_seen, b.first_seen),
    last_seen: later(a.last_seen, b.last_seen),
    updated_at: now,
  };
}

/** The entity most of the alerts share (ties: user, then IP, then the rest). */
function sharedEntity(alerts: Alert[], entities: Entity[]): Entity | undefined {
  const rank = (e: Entity) => ['user', 'ip', 'access_key', 'host', 'instance'].indexOf(e.type);
  let best: Entity | undefined;
  let bestCount = 0;
  for (const e of entities) {
    if (rank(e) < 0) continue;
    const key = entityKey(e);
    const count = alerts.filter((a) => a.entities.some((x) => entityKey(x) === key)).length;
    if (count > bestCount || (count === bestCount && best && rank(e) < rank(best))) {
      best = e;
      bestCount = count;
    }
  }
  return best ?? entities[0];
}

function incidentTitle(alerts: Alert[], entities: Entity[]): string {
  const top = [...alerts].sort((x, y) => y.priority - x.priority)[0];
  const who = sharedEntity(alerts, entities);
  const base = top?.title ?? 'Alerts';
  if (alerts.length <= 1) return who ? `${base} (${who.type} ${who.value})` : base;
  return `${base} and ${alerts.length - 1} related alert${alerts.length > 2 ? 's' : ''}${who ? ` (${who.type} ${who.value})` : ''}`;
}

/** Incident priority: the top alert's, plus 2 per further alert (at most +10). */
export function incidentPriority(alertPriorities: number[]): number {
  if (alertPriorities.length === 0) return 0;
  const top = Math.max(...alertPriorities);
  return Math.min(100, Math.round((top + Math.min(10, 2 * (alertPriorities.length - 1))) * 10) / 10);
}

/**
 * Correlation: deduplicate identical alerts within a window, then group
 * alerts that share an entity (user, access key, source IP, host, instance)
 * within a window into incidents. Works in event time, so replayed history
 * correlates as it did when it happened.
 */
export class Correlator {
  private readonly groupBy: Set<EntityType>;
  private readonly cap: number;

  constructor(private readonly options: CorrelateOptions) {
    this.groupBy = new Set(options.groupBy);
    this.cap = options.maxEventIds ?? MAX_EVENT_IDS;
  }

  /** Correlate candidates against the store and persist the result in one transaction. Returns new or changed alerts. */
  async correlate(
    candidates: AlertCandidate[],
    repos: Repositories,
    now = new Date().toISOString(),
  ): Promise<Alert[]> {
    return (await this.correlateDetailed(candidates, repos, now)).alerts;
  }

  /** Correlate and report what happened (new, folded, suppressed; incidents touched). */
  async correlateDetailed(
    candidates: AlertCandidate[],
    repos: Repositories,
    now = new Date().toISOString(),
  ): Promise<CorrelateResult> {
    const result: CorrelateResult = { alerts: [], created: 0, folded: 0, suppressed: 0, incidents: [] };
    if (candidates.length === 0) return result;
    const active = (await this.options.suppressions?.()) ?? [];
    const fresh = candidates.map((c) => alertFromCandidate(c, this.groupBy, now));
    fresh.sort((a, b) => (a.first_seen < b.first_seen ? -1 : a.first_seen > b.first_seen ? 1 : 0));
    const { dedupeWindowMs, groupWindowMs } = this.options;

    // 1. Deduplicate, against the store and within the batch.
    const earliest = ms(fresh[0]!.first_seen);
    const existing = await repos.alerts.findRecentByFingerprint(
      [...new Set(fresh.map((a) => a.fingerprint))],
      new Date(earliest - dedupeWindowMs).toISOString(),
    );
    const byFp = new Map(existing.map((a) => [a.fingerprint, a]));
    const changed = new Map<string, Alert>();
    const isNew = new Set<string>();
    for (const a of fresh) {
      const prev = byFp.get(a.fingerprint);
      let out: Alert;
      if (
        prev &&
        ms(a.first_seen) - ms(prev.last_seen) <= dedupeWindowMs &&
        ms(prev.first_seen) - ms(a.last_seen) <= dedupeWindowMs
      ) {
        out = foldAlert(prev, a, this.cap, now);
        if (!isNew.has(out.id)) result.folded++;
      } else {
        out = a;
        isNew.add(a.id);
      }
      // Suppression is decided on every change: once a suppression expires the alert comes back.
      if (suppressedBy(out, active)) out.status = 'suppressed';
      else if (out.status === 'suppressed') out.status = 'new';
      byFp.set(out.fingerprint, out);
      changed.set(out.id, out);
    }
    result.created = isNew.size;
    const all = [...changed.values()];
    result.suppressed = all.filter((a) => a.status === 'suppressed').length;

    // 2. Group into incidents by shared entities; suppressed alerts stay out of incidents.
    const alerts = all.filter((a) => a.status !== 'suppressed');
    if (alerts.length === 0) {
      await repos.alerts.upsert(all);
      result.alerts = all;
      return result;
    }
    const minFirst = Math.min(...alerts.map((a) => ms(a.first_seen)));
    const open = await repos.incidents.listOpenSince(new Date(minFirst - groupWindowMs).toISOString());
    const incidents = new Map(open.map((i) => [i.id, i]));
    const touched = new Map<string, Incident>();
    const incidentAlerts = new Map<string, Alert[]>();
    for (const a of alerts) {
      let incident = a.incident_id
        ? (incidents.get(a.incident_id) ?? (await repos.incidents.get(a.incident_id)))
        : undefined;
      if (!incident) {
        const keys = new Set(a.entities.filter((e) => this.groupBy.has(e.type)).map(entityKey));
        incident = [...incidents.values()].find(
          (i) =>
            i.status !== 'closed' &&
            i.status !== 'resolved' &&
            ms(a.first_seen) - ms(i.last_seen) <= groupWindowMs &&
            ms(i.first_seen) - ms(a.last_seen) <= groupWindowMs &&
            i.entities.some((e) => this.groupBy.has(e.type) && keys.has(entityKey(e))),
        );
      }
      if (!incident) {
        incident = {
          id: uuidv7(),
          title: a.title,
          status: 'open',
          severity: a.severity,
          priority: a.priority,
          alert_ids: [],
          alert_count: 0,
          entities: [],
          mitre_techniques: [],
          mitre_tactics: [],
          first_seen: a.first_seen,
          last_seen: a.last_seen,
          created_at: now,
          updated_at: now,
        };
      }
      const updated: Incident = {
        ...incident,
        alert_ids: incident.alert_ids.includes(a.id) ? incident.alert_ids : [...incident.alert_ids, a.id],
        entities: mergeEntities([
          incident.entities,
          a.entities.filter((e) => this.groupBy.has(e.type) || e.type === 'account'),
        ]),
        severity: severityRank(a.severity) > severityRank(incident.severity) ? a.severity : incident.severity,
        mitre_techniques: unionStrings(incident.mitre_techniques, a.mitre_techniques).sort(),
        mitre_tactics: unionStrings(incident.mitre_tactics, a.mitre_tactics),
        first_seen: earlier(a.first_seen, incident.first_seen),
        last_seen: later(a.last_seen, incident.last_seen),
        updated_at: now,
      };
      updated.alert_count = updated.alert_ids.length;
      a.incident_id = updated.id;
      incidents.set(updated.id, updated);
      touched.set(updated.id, updated);
      const list = incidentAlerts.get(updated.id) ?? [];
      list.push(a);
      incidentAlerts.set(updated.id, list);
    }
    // Priorities and titles need every alert of the incident.
    for (const inc of touched.values()) {
      const batchAlerts = incidentAlerts.get(inc.id) ?? [];
      const known = new Set(batchAlerts.map((a) => a.id));
      const stored = await repos.alerts.getMany(inc.alert_ids.filter((id) => !known.has(id)));
      const all = [...stored, ...batchAlerts];
      inc.priority = incidentPriority(all.map((a) => a.priority));
      inc.title = incidentTitle(all, inc.entities);
    }
    await repos.alerts.upsert(all);
    await repos.incidents.upsert([...touched.values()]);
    result.alerts = all;
    result.incidents = [...touched.values()];
    return result;
  }
}

/** Work-queue topic the triage worker consumes: alerts and incidents that changed. */
export const TRIAGE_TOPIC = 'triage';

/**
 * The correlate stage: candidates in, stored alerts (new or updated) out. In
 * the same transaction it queues every changed alert and incident for triage,
 * so the slower analyse/respond work survives a crash and never blocks events.
 */
export function correlateStage(
  correlator: Correlator,
  options: { enqueue?: boolean; onQueued?: () => void } = {},
): Stage<AlertCandidate, Alert> {
  const enqueue = options.enqueue ?? true;
  return {
    name: 'correlate',
    async process(batch, ctx) {
      const r = await ctx.store.transaction(async (tx) => {
        const res = await correlator.correlateDetailed(batch, tx);
        if (enqueue) {
          for (const a of res.alerts)
            if (a.status !== 'suppressed')
              await tx.work.enqueue(TRIAGE_TOPIC, `alert:${a.id}`, { type: 'alert', id: a.id });
          for (const i of res.incidents)
            await tx.work.enqueue(TRIAGE_TOPIC, `incident:${i.id}`, { type: 'incident', id: i.id });
        }
        return res;
      });
      if (enqueue && r.alerts.length) options.onQueued?.();
      const { alertsRaised } = correlateMetrics(ctx.metrics);
      for (const a of r.alerts) {
        alertsRaised.inc({
          severity: a.severity,
          outcome: a.status === 'suppressed' ? 'suppressed' : a.count > 1 ? 'deduplicated' : 'new',
        });
      }
      return { outputs: r.alerts };
    },
  };
}
