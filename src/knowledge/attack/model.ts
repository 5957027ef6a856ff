/**
 * ATT&CK (Enterprise, and Mobile and ICS when loaded) as the knowledge base holds it: the STIX objects the
 * product uses, resolved into plain records keyed by ATT&CK id. Every text
 * field comes twice: `description` keeps ATT&CK's markup (citations, links)
 * for display; `text` is the plain version used for indexing and for what an
 * analyst or an LLM reads.
 */

/**
 * The ATT&CK domains (matrices). Technique ids do not collide across them
 * (Mobile uses T14xx–T16xx ids Enterprise does not, ICS T08xx), but tactic
 * short names do (`persistence` is TA0003 in Enterprise, TA0028 in Mobile).
 */
export const ATTACK_DOMAINS = ['enterprise', 'mobile', 'ics'] as const;
export type AttackDomain = (typeof ATTACK_DOMAINS)[number];

export interface Reference {
  source_name: string;
  url?: string;
  description?: string;
}

export interface MitigationLink {
  id: string;
  name: string;
  /** How this mitigation applies to the technique (the `mitigates` relationship's description). */
  text: string;
}

export interface Technique {
  stix_id: string;
  /** T1234 or T1234.001 */
  id: string;
  name: string;
  /** The matrix it belongs to; absent in indexes built before Mobile and ICS were loaded (read as enterprise). */
  domain?: AttackDomain;
  description: string;
  text: string;
  /** Tactic short names (`credential-access`) of its domain, in kill-chain order. */
  tactics: string[];
  platforms: string[];
  /** Data components that detect it (v18: from its analytics' log sources; before: `x_mitre_data_sources`). */
  data_sources: string[];
  /** Detection guidance as plain text (v18: its detection strategies and analytics; before: `x_mitre_detection`). */
  detection: string;
  is_subtechnique: boolean;
  /** The parent technique id of a sub-technique. */
  parent_id?: string;
  /** Sub-technique ids of a technique. */
  subtechniques: string[];
  mitigations: MitigationLink[];
  detection_strategies: string[];
  /** How many procedure examples point to it. */
  procedure_count: number;
  url: string;
  references: Reference[];
  modified?: string;
}

export interface Tactic {
  stix_id: string;
  /** TA0006 */
  id: string;
  name: string;
  /** The matrix it belongs to (short names repeat across domains); absent means enterprise. */
  domain?: AttackDomain;
  shortname: string;
  description: string;
  text: string;
  url: string;
}

export interface Mitigation {
  stix_id: string;
  /** M1031 */
  id: string;
  name: string;
  description: string;
  text: string;
  url: string;
  techniques: string[];
}

export type ActorKind = 'group' | 'software' | 'campaign';

export interface Actor {
  stix_id: string;
  /** G0082, S0002 or C0022 */
  id: string;
  kind: ActorKind;
  /** For software: malware or tool. */
  software_type?: 'malware' | 'tool';
  name: string;
  aliases: string[];
  description: string;
  text: string;
  platforms: string[];
  url: string;
  first_seen?: string;
  last_seen?: string;
}

/** A procedure example: a `uses` relationship from a group, software or campaign to a technique, with its description. */
export interface ProcedureExample {
  /** The relationship's STIX id. */
  stix_id: string;
  technique_id: string;
  source_id: string;
  source_kind: ActorKind;
  source_name: string;
  description: string;
  text: string;
}

export interface LogSource {
  data_component: string;
  name: string;
  channel?: string;
}

export interface Analytic {
  stix_id: string;
  /** AN0110 */
  id: string;
  name: string;
  description: string;
  text: string;
  platforms: string[];
  log_sources: LogSource[];
}

export interface DetectionStrategy {
  stix_id: string;
  /** DET0103 */
  id: string;
  name: string;
  url: string;
  techniques: string[];
  analytics: Analytic[];
}

export interface LoadStats {
  objects: number;
  /** Objects skipped because they are revoked or deprecated. */
  skipped_revoked_or_deprecated: number;
  /** Objects skipped because they lack what the product needs (an ATT&CK id, a name). */
  skipped_invalid: number;
}

/** One loaded bundle of a merged ATT&CK (see `mergeAttackDomains`). */
export interface DomainSummary {
  domain: AttackDomain;
  source: string;
  /** ATT&CK release label of the bundle (`ATT&CK v18.1`). */
  label: string;
  techniques: number;
}

export interface AttackKnowledge {
  /** The bundles it was built from, Enterprise first; absent for a single bundle read on its own. */
  domains?: DomainSummary[];
  /** ATT&CK release (`18.1`) from the STIX 2.1 collection object; absent from STIX 2.0 bundles. */
  version?: string;
  /** Highest `x_mitre_attack_spec_version` seen (the data model version, e.g. 3.3.0). */
  spec_version?: string;
  /** STIX version of the bundle. */
  stix_version: '2.0' | '2.1';
  /** Latest `modified` time of any object: identifies the release when `version` is absent. */
  modified?: string;
  /** Where it was read from. */
  source: string;
  techniques: Map<string, Technique>;
  tactics: Map<string, Tactic>;
  mitigations: Map<string, Mitigation>;
  actors: Map<string, Actor>;
  procedures: ProcedureExample[];
  detection_strategies: Map<string, DetectionStrategy>;
  /** Revoked technique ids → the technique that replaced them (`T1574.002` → `T1574.001` in v18). */
  revoked: Map<string, string>;
  stats: LoadStats;
}

/** A short label for the release: `ATT&CK v18.1`, or the spec version and date when the bundle has no version. */
export function attackLabel(k: Pick<AttackKnowledge, 'version' | 'spec_version' | 'modified'>): string {
  if (k.version) return `ATT&CK v${k.version}`;
  const parts = [k.spec_version ? `spec ${k.spec_version}` : undefined, k.modified?.slice(0, 10)].filter(
    Boolean,
  );
  return `ATT&CK (${parts.join(', ') || 'unknown release'})`;
}

/**
 * The current id of a technique id: itself when active, its replacement when
 * revoked, undefined when unknown.
 *
 * @example currentTechniqueId(attack, 'T1574.002') // 'T1574.001' (revoked in v18)
 */
export function currentTechniqueId(
  k: Pick<AttackKnowledge, 'techniques' | 'revoked'>,
  id: string,
): string | undefined {
  if (k.techniques.has(id)) return id;
  return k.revoked.get(id);
}

/** The domain of a technique or tactic record (records without one come from Enterprise-only indexes). */
export function domainOf(r: { domain?: AttackDomain }): AttackDomain {
  return r.domain ?? 'enterprise';
}

/** The technique id a sub-technique folds into (`T1059.001` → `T1059`). */
export function parentTechniqueId(id: string): string {
  const dot = id.indexOf('.');
  return dot < 0 ? id : id.slice(0, dot);
}
