import type { KnowledgeDocument } from '../documents.ts';
import { type AttackKnowledge, attackLabel, domainOf } from './model.ts';

const MAX_DETECTION_CHARS = 2000;

function cut(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n).replace(/\s+\S*$/, '')} …`;
}

/**
 * The `mitre_attack` collection: one document per technique, tactic,
 * mitigation, detection strategy, group, software, campaign and procedure
 * example. Texts are plain (citations stripped) and start with the ids and
 * names an analyst or an LLM needs to cite them.
 *
 * @example attackDocuments(attack).find((d) => d.id === 'T1003.001')?.metadata.kind // 'technique'
 */
export function attackDocuments(attack: AttackKnowledge): KnowledgeDocument[] {
  const version = attackLabel(attack);
  const out: KnowledgeDocument[] = [];
  const fullName = (id: string) => {
    const t = attack.techniques.get(id);
    if (!t) return id;
    const parent = t.parent_id ? attack.techniques.get(t.parent_id) : undefined;
    return parent ? `${parent.name}: ${t.name}` : t.name;
  };
  for (const t of attack.techniques.values()) {
    const name = fullName(t.id);
    const lines = [
      `${t.id} ${name}`,
      `Tactics: ${t.tactics.join(', ') || 'none'}. Platforms: ${t.platforms.join(', ') || 'unspecified'}.`,
      '',
      t.text,
    ];
    if (t.detection) lines.push('', `Detection: ${cut(t.detection, MAX_DETECTION_CHARS)}`);
    if (t.mitigations.length)
      lines.push('', `Mitigations: ${t.mitigations.map((m) => `${m.id} ${m.name}`).join('; ')}.`);
    const metadata: KnowledgeDocument['metadata'] = {
      kind: 'technique',
      technique_id: t.id,
      domain: domainOf(t),
      name,
      tactics: t.tactics,
      platforms: t.platforms,
      is_subtechnique: t.is_subtechnique,
      url: t.url,
      attack_version: version,
    };
    if (t.parent_id) metadata.parent_id = t.parent_id;
    out.push({ id: t.id, title: `${t.id} ${name}`, text: lines.join('\n'), metadata });
  }
  for (const t of attack.tactics.values()) {
    out.push({
      id: t.id,
      title: `${t.id} ${t.name}`,
      text: `${t.id} ${t.name} (tactic ${t.shortname}${domainOf(t) === 'enterprise' ? '' : `, ATT&CK ${domainOf(t) === 'ics' ? 'ICS' : 'Mobile'}`})\n\n${t.text}`,
      metadata: {
        kind: 'tactic',
        tactic_id: t.id,
        domain: domainOf(t),
        name: t.name,
        shortname: t.shortname,
        url: t.url,
        attack_version: version,
      },
    });
  }
  for (const m of attack.mitigations.values()) {
    out.push({
      id: m.id,
      title: `${m.id} ${m.name}`,
      text: `${m.id} ${m.name} (mitigation)\n\n${m.text}`,
      metadata: {
        kind: 'mitigation',
        mitigation_id: m.id,
        name: m.name,
        techniques: m.techniques,
        url: m.url,
        attack_version: version,
      },
    });
  }
  for (const d of attack.detection_strategies.values()) {
    const lines = [`${d.id} ${d.name} (detection strategy for ${d.techniques.join(', ')})`];
    for (const a of d.analytics) {
      const sources = a.log_sources.map((l) => `${l.name}${l.channel ? ` ${l.channel}` : ''}`).join('; ');
      lines.push(
        '',
        `${a.id}${a.platforms.length ? ` (${a.platforms.join(', ')})` : ''}: ${a.text}${sources ? ` Log sources: ${sources}.` : ''}`,
      );
    }
    out.push({
      id: d.id,
      title: `${d.id} ${d.name}`,
      text: lines.join('\n'),
      metadata: {
        kind: 'detection_strategy',
        detection_strategy_id: d.id,
        name: d.name,
        techniques: d.techniques,
        url: d.url,
        attack_version: version,
      },
    });
  }
  for (const a of attack.actors.values()) {
    const kind = a.kind === 'software' ? `software, ${a.software_type}` : a.kind;
    const aka = a.aliases.length ? ` Also known as ${a.aliases.join(', ')}.` : '';
    out.push({
      id: a.id,
      title: `${a.id} ${a.name}`,
      text: `${a.id} ${a.name} (${kind}).${aka}\n\n${a.text}`,
      metadata: {
        kind: a.kind,
        [`${a.kind}_id`]: a.id,
        name: a.name,
        aliases: a.aliases,
        url: a.url,
        attack_version: version,
      },
    });
  }
  for (const p of attack.procedures) {
    const name = fullName(p.technique_id);
    out.push({
      id: p.stix_id,
      title: `${p.source_name} — ${p.technique_id} ${name}`,
      text: `Procedure example of ${p.technique_id} ${name} by ${p.source_name} (${p.source_id}, ${p.source_kind}): ${p.text}`,
      metadata: {
        kind: 'procedure',
        technique_id: p.technique_id,
        technique_name: name,
        source_id: p.source_id,
        source_name: p.source_name,
        source_kind: p.source_kind,
        attack_version: version,
      },
    });
  }
  return out;
}
