import type { AlertCandidate } from '../types.ts';
import type { SigmaMatch } from './engine.ts';

/** Turn an engine match into the candidate the correlate stage turns into an alert. */
export function toCandidate(m: SigmaMatch): AlertCandidate {
  const r = m.rule;
  const detection: AlertCandidate['detection'] = {
    engine: 'sigma',
    rule_id: r.id,
    rule_title: r.title,
    level: r.level,
    tags: r.tags,
    event_ids: m.events.map((e) => e.id),
  };
  if (r.ruleLevel && r.levelReason) {
    detection.rule_level = r.ruleLevel;
    detection.level_reasons = [r.levelReason];
  }
  let description = r.description;
  if (r.kind === 'correlation' && m.count !== undefined) {
    const group = Object.entries(m.group ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    description = `${description ? `${description.trim()} ` : ''}(${r.type}: ${m.count}${group ? ` for ${group}` : ''})`;
  }
  if (description) detection.description = description;
  return { detection, events: m.events };
}
