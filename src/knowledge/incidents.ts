import type { Alert } from '../schema/alert.ts';
import type { Case } from '../schema/case.ts';
import type { Incident } from '../schema/incident.ts';
import type { KnowledgeDocument } from './documents.ts';

/** What the response and case engines hand over when an incident or a case closes. */
export interface ClosedIncident {
  incident?: Incident;
  case?: Case;
  /** Alerts of the incident (titles, descriptions and techniques help the next analyst find it). */
  alerts?: ReadonlyArray<Pick<Alert, 'title' | 'description' | 'mitre_techniques'>>;
  /** The outcome in a few sentences: what it was, what was done. */
  summary?: string;
}

const MAX_COMMENTS = 20;

/**
 * A closed incident (and its case) as an `incidents` document, so a later
 * analyst can ask "have we seen this before, and what did we do?". The id is
 * the incident's (or the case's) id, so closing again replaces the document.
 *
 * @example incidentDocument({ incident, summary: 'Leaked key used from a VPS; key disabled.' }).id // `incident:${incident.id}`
 */
export function incidentDocument(input: ClosedIncident): KnowledgeDocument {
  const { incident, case: kase } = input;
  if (!incident && !kase) throw new TypeError('incidentDocument needs an incident or a case');
  const id = incident ? `incident:${incident.id}` : `case:${kase!.id}`;
  const title = incident?.title ?? kase!.title;
  const lines: string[] = [title];
  const facts: string[] = [];
  const severity = incident?.severity ?? kase?.severity;
  if (severity) facts.push(`severity ${severity}`);
  if (kase?.resolution) facts.push(`resolved as ${kase.resolution.replace(/_/g, ' ')}`);
  if (incident)
    facts.push(`${incident.alert_count} alert(s), ${incident.first_seen} to ${incident.last_seen}`);
  if (facts.length) lines.push(`${facts.join('; ')}.`);
  if (input.summary) lines.push('', input.summary.trim());
  if (kase?.description) lines.push('', kase.description.trim());
  const techniques = [
    ...new Set([
      ...(incident?.mitre_techniques ?? []),
      ...(input.alerts ?? []).flatMap((a) => a.mitre_techniques),
    ]),
  ].sort();
  if (techniques.length) lines.push('', `ATT&CK techniques: ${techniques.join(', ')}.`);
  if (incident?.mitre_tactics.length) lines.push(`Tactics: ${incident.mitre_tactics.join(', ')}.`);
  if (incident?.entities.length)
    lines.push(`Entities: ${incident.entities.map((e) => `${e.type} ${e.value}`).join(', ')}.`);
  if (input.alerts?.length) {
    lines.push('', 'Alerts:');
    for (const a of input.alerts.slice(0, 50))
      lines.push(`- ${a.title}${a.description ? `: ${a.description}` : ''}`);
  }
  if (kase?.observables.length)
    lines.push(
      '',
      `Observables: ${kase.observables.map((o) => `${o.type} ${o.value}${o.ioc ? ' (IOC)' : ''}`).join(', ')}.`,
    );
  if (kase?.comments.length) {
    lines.push('', 'Notes:');
    for (const c of kase.comments.slice(-MAX_COMMENTS)) lines.push(`- ${c.author}: ${c.text}`);
  }
  const metadata: KnowledgeDocument['metadata'] = { kind: incident ? 'incident' : 'case', techniques };
  if (incident) {
    metadata.incident_id = incident.id;
    metadata.status = incident.status;
    metadata.first_seen = incident.first_seen;
    metadata.last_seen = incident.last_seen;
  }
  if (kase) {
    metadata.case_id = kase.id;
    metadata.case_status = kase.status;
    if (kase.resolution) metadata.resolution = kase.resolution;
    if (kase.closed_at) metadata.closed_at = kase.closed_at;
  }
  if (severity) metadata.severity = severity;
  return { id, title, text: lines.join('\n'), metadata };
}
