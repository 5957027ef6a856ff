import { type AttackKnowledge, currentTechniqueId } from '../attack/model.ts';
import { splitSentences } from '../text/sentences.ts';

/** Where a training passage came from; shown as the evidence kind. */
export type PassageKind = 'name' | 'description' | 'detection' | 'procedure' | 'example';

/** One labelled passage the mapper learns from. */
export interface Passage {
  technique_id: string;
  kind: PassageKind;
  text: string;
  /** ATT&CK id of the source: the technique, the group/software/campaign of a procedure, the detection strategy; or the example's document. */
  source_id: string;
}

/** A labelled text from outside ATT&CK (a TRAM sentence, an analyst's correction). */
export interface LabelledText {
  text: string;
  labels: string[];
  /** Document the text comes from: evaluation splits group by it. */
  doc?: string;
}

/**
 * The mapper's training passages from ATT&CK's own text: each technique's
 * full name, the sentences of its description, its detection guidance, and
 * every procedure example (a group, software or campaign using it, in
 * ATT&CK's words), plus any extra labelled examples whose labels are known
 * techniques.
 *
 * @example const passages = attackPassages(attack); // ~25,000 for Enterprise v18
 */
export function attackPassages(
  attack: Pick<AttackKnowledge, 'techniques' | 'procedures' | 'revoked'>,
  extra: readonly LabelledText[] = [],
): Passage[] {
  const out: Passage[] = [];
  for (const t of attack.techniques.values()) {
    const parent = t.parent_id ? attack.techniques.get(t.parent_id) : undefined;
    out.push({
      technique_id: t.id,
      kind: 'name',
      text: parent ? `${parent.name}: ${t.name}` : t.name,
      source_id: t.id,
    });
    for (const s of splitSentences(t.text))
      out.push({ technique_id: t.id, kind: 'description', text: s, source_id: t.id });
    for (const line of t.detection.split('\n')) {
      const s = line.trim();
      if (s)
        out.push({
          technique_id: t.id,
          kind: 'detection',
          text: s,
          source_id: t.detection_strategies[0] ?? t.id,
        });
    }
  }
  for (const p of attack.procedures)
    out.push({ technique_id: p.technique_id, kind: 'procedure', text: p.text, source_id: p.source_id });
  for (const e of extra) {
    // Labels given with revoked ids (older data) teach the technique that replaced them.
    const labels = new Set(
      e.labels.map((l) => currentTechniqueId(attack, l)).filter((l): l is string => Boolean(l)),
    );
    for (const label of labels)
      out.push({ technique_id: label, kind: 'example', text: e.text, source_id: e.doc ?? 'example' });
  }
  return out;
}
