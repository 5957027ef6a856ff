import { techniquesAndTactics } from '../correlate/attack-tags.ts';
import { eventEntities } from '../correlate/entities.ts';
import { detectionPriority } from '../correlate/priority.ts';
import { fingerprint, stableUuid } from '../ids.ts';
import type { Alert } from '../schema/alert.ts';
import { ocsfFromSeverity } from '../schema/common.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import { ocsfClass } from '../schema/event.ts';
import type { Incident } from '../schema/incident.ts';
import type { SecurityAlert } from '../schema/verdict.ts';
import { DEFAULT_EVENT_LIMITS, type EventLimits, limitEvent } from '../sources/limits.ts';
import { wazuhSeverity } from '../sources/wazuh/severity.ts';
import type { AssetContext } from './priority.ts';
import { type AnalysisInput, EVENT_ROLES, SECURITY_ALERT_ROLES } from './types.ts';

/** Normalise `T1110.001`, `t1110`, `attack.t1110` into technique ids; drop what is not one. */
export function techniqueIds(list: readonly string[] | undefined): string[] {
  const out = new Set<string>();
  for (const raw of list ?? []) {
    const m = /t(\d{4})(?:\.(\d{3}))?/i.exec(raw);
    if (m) out.add(m[2] ? `T${m[1]}.${m[2]}` : `T${m[1]}`);
  }
  return [...out];
}

/**
 * Turn a submitted SecurityAlert (`POST /analyze`) into what the analyst
 * reads: an alert with one upstream detection and one event, and the
 * submitted alert itself as the record evidence cites (by `alert_id` and its
 * field names, which the caller knows).
 */
export function inputFromSecurityAlert(sa: SecurityAlert, assets: AssetContext): AnalysisInput {
  const severity = wazuhSeverity(sa.rule_level);
  // The seed's default: an alert sent without a time happened when it was sent.
  const time = sa.timestamp ?? new Date().toISOString();
  const eventId = stableUuid('analyze', sa.alert_id);
  const observables: NormalisedEvent['observables'] = [];
  if (sa.source_ip) observables.push({ type: 'ip', value: sa.source_ip, name: 'src_endpoint.ip' });
  if (sa.dest_ip) observables.push({ type: 'ip', value: sa.dest_ip, name: 'dst_endpoint.ip' });
  if (sa.user) observables.push({ type: 'user', value: sa.user, name: 'actor.user.name' });
  if (sa.file_path) observables.push({ type: 'file', value: sa.file_path, name: 'file.path' });
  const event: NormalisedEvent = {
    id: eventId,
    source: 'analyze',
    source_event_id: sa.alert_id,
    time,
    ingested_at: new Date().toISOString(),
    ...ocsfClass(2004),
    activity_name: sa.rule_description,
    severity_id: ocsfFromSeverity(severity),
    status: 'unknown',
    message: sa.raw_log ?? sa.rule_description,
    observables,
    metadata: { product: 'analyze' },
    raw: sa,
  };
  if (sa.source_ip || sa.source_port !== undefined || sa.source_hostname) {
    event.src_endpoint = { ip: sa.source_ip, port: sa.source_port, hostname: sa.source_hostname };
  }
  if (sa.dest_ip || sa.dest_port !== undefined || sa.dest_hostname)
    event.dst_endpoint = { ip: sa.dest_ip, port: sa.dest_port, hostname: sa.dest_hostname };
  if (sa.user) event.actor = { user: { name: sa.user } };
  if (sa.process || sa.command) event.process = { name: sa.process, cmd_line: sa.command };
  if (sa.file_path) event.file = { path: sa.file_path };
  const techniques = techniqueIds(sa.mitre_technique);
  const detection = {
    engine: 'upstream' as const,
    rule_id: sa.rule_id ?? 'submitted',
    rule_title: sa.rule_description,
    level: severity,
    tags: techniques.map((t) => `attack.${t.toLowerCase()}`),
    event_ids: [eventId],
  };
  const now = new Date().toISOString();
  const alert: Alert = {
    id: stableUuid('analyze-alert', sa.alert_id),
    fingerprint: fingerprint(
      'analyze',
      sa.rule_id ?? '',
      sa.rule_description,
      sa.source_ip ?? '',
      sa.user ?? '',
      sa.source_hostname ?? '',
    ),
    title: sa.rule_description,
    source: 'analyze',
    severity,
    priority: detectionPriority([detection]),
    status: 'new',
    detections: [detection],
    event_ids: [eventId],
    count: 1,
    entities: eventEntities(event),
    mitre_techniques: techniques,
    mitre_tactics: techniquesAndTactics(detection.tags).tactics,
    first_seen: time,
    last_seen: time,
    created_at: now,
    updated_at: now,
  };
  return {
    subject_id: sa.alert_id,
    subject_type: 'adhoc',
    alert,
    incident_size: 1,
    records: [
      { id: sa.alert_id, record: sa as unknown as Record<string, unknown>, roles: SECURITY_ALERT_ROLES },
    ],
    submitted: sa,
    assets,
  };
}

/**
 * How much of one stored event's text the analyst reads: the prompt shows at
 * most 2,000 characters of any text, so the rest only costs time in the
 * checks that walk every record (up to 50 events of 64 KiB fields each held
 * up the event loop for a third of a second). Cut text ends with the
 * ingestion marker and the record says `truncated: true`; the raw record
 * keeps its shape, so evidence can still cite `raw.*` fields.
 */
export const ANALYST_EVENT_LIMITS: EventLimits = {
  maxFieldBytes: 4096,
  maxRawBytes: DEFAULT_EVENT_LIMITS.maxRawBytes,
};

/** What the analyst reads for a stored alert: the alert and its events (the first `maxEvents`), cut to {@link ANALYST_EVENT_LIMITS}. */
export function inputFromAlert(
  alert: Alert,
  events: NormalisedEvent[],
  incident: Incident | undefined,
  assets: AssetContext,
): AnalysisInput {
  const input: AnalysisInput = {
    subject_id: alert.id,
    subject_type: 'alert',
    alert,
    incident_size: incident?.alert_count ?? 1,
    records: events.map((e) => ({
      id: e.id,
      // A shallow copy: limitEvent copies nested parts it cuts, and the caller's events stay whole.
      record: limitEvent({ ...e }, ANALYST_EVENT_LIMITS) as unknown as Record<string, unknown>,
      roles: EVENT_ROLES,
    })),
    assets,
  };
  if (incident) input.incident = incident;
  return input;
}
