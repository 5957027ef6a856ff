import { AisocError } from '../../errors.ts';
import type { AttackCatalog } from './catalog.ts';
import { type AttackDomain, domainOf, type Technique } from './model.ts';

/** Everything the UI shows about a technique. */
export interface TechniqueView {
  technique: Technique;
  name: string;
  domain: AttackDomain;
  /** Set when the id asked for was revoked and this technique replaced it. */
  replaces?: string;
  parent?: { id: string; name: string };
  subtechniques: Array<{ id: string; name: string }>;
  tactics: Array<{ id: string; name: string; shortname: string }>;
  detection_strategies: Array<{
    id: string;
    name: string;
    url: string;
    analytics: Array<{ id: string; platforms: string[]; text: string; log_sources: string[] }>;
  }>;
  procedures: Array<{ source_id: string; source_name: string; source_kind: string; text: string }>;
  procedure_count: number;
  attack_version: string;
}

const PROCEDURES_IN_VIEW = 500;

/**
 * Everything the UI shows about a technique of a loaded ATT&CK: its parent,
 * sub-techniques, tactics, detection strategies and (up to 500) procedures.
 * A revoked id resolves to its replacement, named in `replaces`.
 *
 * @example techniqueView(catalog, 't1003/001').name // 'OS Credential Dumping: LSASS Memory'
 */
export function techniqueView(attack: AttackCatalog, id: string): TechniqueView {
  const wanted = id.toUpperCase().replace('/', '.');
  const current = attack.currentId(wanted);
  const t = current ? attack.technique(current) : undefined;
  if (!t)
    throw new AisocError('AISOC_ERR_NOT_FOUND', `No ATT&CK technique ${id} in ${attack.label}.`, {
      field: 'id',
    });
  const parent = t.parent_id ? attack.technique(t.parent_id) : undefined;
  return {
    technique: t,
    name: parent ? `${parent.name}: ${t.name}` : t.name,
    domain: domainOf(t),
    ...(current !== wanted ? { replaces: wanted } : {}),
    ...(parent ? { parent: { id: parent.id, name: parent.name } } : {}),
    subtechniques: t.subtechniques.map((s) => ({ id: s, name: attack.technique(s)?.name ?? s })),
    tactics: t.tactics.map((s) => {
      // Short names repeat across domains (Mobile has its own `persistence`): the technique's domain decides.
      const tac = attack.tactics.find((x) => x.shortname === s && domainOf(x) === domainOf(t));
      return { id: tac?.id ?? s, name: tac?.name ?? s, shortname: s };
    }),
    detection_strategies: t.detection_strategies.flatMap((d) => {
      const ds = attack.detectionStrategy(d);
      return ds
        ? [
            {
              id: ds.id,
              name: ds.name,
              url: ds.url,
              analytics: ds.analytics.map((a) => ({
                id: a.id,
                platforms: a.platforms,
                text: a.text,
                log_sources: a.log_sources.map((l) => `${l.name}${l.channel ? ` (${l.channel})` : ''}`),
              })),
            },
          ]
        : [];
    }),
    procedures: attack.proceduresOf(t.id, PROCEDURES_IN_VIEW).map((p) => ({
      source_id: p.source_id,
      source_name: p.source_name,
      source_kind: p.source_kind,
      text: p.text,
    })),
    procedure_count: attack.procedureCount(t.id),
    attack_version: attack.label,
  };
}
