import { readAttackBundle } from './load.ts';
import { type AttackDomain, type AttackKnowledge, attackLabel, type DomainSummary } from './model.ts';

/**
 * Read the bundles of several domains (Enterprise first) and merge them.
 *
 * @example readAttackDomains([{ domain: 'enterprise', path: e }, { domain: 'mobile', path: m }]).domains?.length // 2
 */
export function readAttackDomains(
  bundles: ReadonlyArray<{ domain: AttackDomain; path: string }>,
): AttackKnowledge {
  // The domain is read from the bundle (its kill chain), not trusted from the file name.
  return mergeAttackDomains(bundles.map((b) => readAttackBundle(b.path)));
}

/**
 * One ATT&CK out of the bundles of several domains (Enterprise, Mobile,
 * ICS), so the catalog, the `mitre_attack` collection and the mapper know
 * every technique a threat report may show. The first bundle (Enterprise)
 * names the release; its records win when an id appears twice (groups and
 * software that act in several domains are the same STIX objects in each
 * bundle). Technique ids do not collide across the three matrices.
 *
 * @example mergeAttackDomains([readAttackBundle(enterprise), readAttackBundle(mobile)]).techniques.has('T1417') // true
 */
export function mergeAttackDomains(parts: readonly AttackKnowledge[]): AttackKnowledge {
  const [first, ...rest] = parts;
  if (!first) throw new Error('mergeAttackDomains needs at least one bundle');
  const summary = (k: AttackKnowledge): DomainSummary => ({
    domain: domainOfBundle(k),
    source: k.source,
    label: attackLabel(k),
    techniques: k.techniques.size,
  });
  if (rest.length === 0) return { ...first, domains: first.domains ?? [summary(first)] };
  const union = <V>(pick: (k: AttackKnowledge) => Map<string, V>): Map<string, V> => {
    const out = new Map<string, V>();
    for (const k of parts) for (const [id, v] of pick(k)) if (!out.has(id)) out.set(id, v);
    return out;
  };
  const seen = new Set<string>();
  const procedures = parts
    .flatMap((k) => k.procedures)
    .filter((p) => !seen.has(p.stix_id) && Boolean(seen.add(p.stix_id)));
  procedures.sort((a, b) => (a.stix_id < b.stix_id ? -1 : a.stix_id > b.stix_id ? 1 : 0));
  const techniques = union((k) => k.techniques);
  // A revoked id of one domain may be a current technique of another: the current one wins.
  const revoked = new Map<string, string>();
  for (const k of parts)
    for (const [from, to] of k.revoked)
      if (!revoked.has(from) && !techniques.has(from)) revoked.set(from, to);
  return {
    domains: parts.map(summary),
    version: first.version,
    spec_version: first.spec_version,
    stix_version: first.stix_version,
    modified: first.modified,
    source: first.source,
    techniques,
    tactics: union((k) => k.tactics),
    mitigations: union((k) => k.mitigations),
    actors: union((k) => k.actors),
    procedures,
    detection_strategies: union((k) => k.detection_strategies),
    revoked,
    stats: {
      objects: parts.reduce((n, k) => n + k.stats.objects, 0),
      skipped_revoked_or_deprecated: parts.reduce((n, k) => n + k.stats.skipped_revoked_or_deprecated, 0),
      skipped_invalid: parts.reduce((n, k) => n + k.stats.skipped_invalid, 0),
    },
  };
}

/** The domain of a single bundle: its techniques' (they all share the bundle's). */
function domainOfBundle(k: AttackKnowledge): AttackDomain {
  for (const t of k.techniques.values()) return t.domain ?? 'enterprise';
  return 'enterprise';
}
