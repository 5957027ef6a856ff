import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AisocError, describeError } from '../../errors.ts';
import { ATTACK_TACTICS } from '../../schema/attack.ts';
import { stripCitations } from '../text/citations.ts';
import type {
  Actor,
  ActorKind,
  Analytic,
  AttackKnowledge,
  DetectionStrategy,
  LogSource,
  Mitigation,
  ProcedureExample,
  Reference,
  Tactic,
  Technique,
} from './model.ts';
import { type AttackDomain, parentTechniqueId } from './model.ts';

/*
 * STIX shapes, only as far as the product reads them. Objects are checked one
 * by one: a malformed object is skipped and counted (with the field at fault)
 * instead of failing the whole bundle, because one bad object in 25,000
 * should not leave an analyst without ATT&CK.
 */
const ExternalRef = z.object({
  source_name: z.string(),
  url: z.string().optional(),
  external_id: z.string().optional(),
  description: z.string().optional(),
});
const Common = {
  id: z.string(),
  type: z.string(),
  name: z.string().optional(),
  description: z.string().optional(),
  revoked: z.boolean().optional(),
  x_mitre_deprecated: z.boolean().optional(),
  external_references: z.array(ExternalRef).optional(),
  modified: z.string().optional(),
  x_mitre_attack_spec_version: z.string().optional(),
  x_mitre_platforms: z.array(z.string()).optional(),
};
const StixObject = z.object(Common);
const AttackPattern = z.object({
  ...Common,
  name: z.string(),
  kill_chain_phases: z.array(z.object({ kill_chain_name: z.string(), phase_name: z.string() })).optional(),
  x_mitre_data_sources: z.array(z.string()).optional(),
  x_mitre_detection: z.string().optional(),
  x_mitre_is_subtechnique: z.boolean().optional(),
});
const TacticObject = z.object({ ...Common, name: z.string(), x_mitre_shortname: z.string() });
const Named = z.object({
  ...Common,
  name: z.string(),
  aliases: z.array(z.string()).optional(),
  x_mitre_aliases: z.array(z.string()).optional(),
  first_seen: z.string().optional(),
  last_seen: z.string().optional(),
});
const AnalyticObject = z.object({
  ...Common,
  name: z.string(),
  x_mitre_log_source_references: z
    .array(
      z.object({ x_mitre_data_component_ref: z.string(), name: z.string(), channel: z.string().optional() }),
    )
    .optional(),
});
const DetectionStrategyObject = z.object({
  ...Common,
  name: z.string(),
  x_mitre_analytic_refs: z.array(z.string()).optional(),
});
const Collection = z.object({ ...Common, x_mitre_version: z.string().optional() });
const Matrix = z.object({ ...Common, tactic_refs: z.array(z.string()).optional() });

const Bundle = z.object({
  type: z.literal('bundle', { message: 'must be "bundle" (a STIX bundle)' }),
  spec_version: z.string().optional(),
  objects: z.array(z.unknown(), { message: 'must be an array of STIX objects' }),
});

type Obj = z.infer<typeof StixObject>;

/** Kill chains of the three matrices: a technique's phases name its tactics in its own domain. */
const KILL_CHAINS: ReadonlyMap<string, AttackDomain> = new Map([
  ['mitre-attack', 'enterprise'],
  ['mitre-mobile-attack', 'mobile'],
  ['mitre-ics-attack', 'ics'],
]);

/** The domain of a bundle: the kill chain most of its techniques' phases belong to (Enterprise when none). */
function bundleDomain(objects: Iterable<Record<string, unknown>>): AttackDomain {
  const votes = new Map<AttackDomain, number>();
  for (const o of objects) {
    if (o.type !== 'attack-pattern' || !Array.isArray(o.kill_chain_phases)) continue;
    for (const k of o.kill_chain_phases as Array<{ kill_chain_name?: unknown }>) {
      const d = typeof k?.kill_chain_name === 'string' ? KILL_CHAINS.get(k.kill_chain_name) : undefined;
      if (d) votes.set(d, (votes.get(d) ?? 0) + 1);
    }
  }
  let best: AttackDomain = 'enterprise';
  for (const [d, n] of votes) if (n > (votes.get(best) ?? 0)) best = d;
  return best;
}

/** A STIX object as read from the bundle, checked only for the fields every object needs. */
type Raw = Record<string, unknown> & { id: string; type: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function attackId(o: Obj): { id: string; url: string } | undefined {
  const ref = o.external_references?.find((r) => r.source_name === 'mitre-attack' && r.external_id);
  if (!ref?.external_id) return undefined;
  return { id: ref.external_id, url: ref.url ?? '' };
}

function references(o: Obj): Reference[] {
  return (o.external_references ?? [])
    .filter((r) => r.source_name !== 'mitre-attack')
    .map((r) => ({ source_name: r.source_name, url: r.url, description: r.description }));
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export interface ParseIssue {
  stix_id: string;
  field: string;
  message: string;
}

/**
 * Build the knowledge base's view of ATT&CK from a parsed STIX 2.0 or 2.1
 * bundle. Revoked and deprecated objects are skipped; so are procedure
 * examples and mitigations that point to them.
 *
 * @example
 * const attack = parseAttackBundle(JSON.parse(readFileSync(file, 'utf8')), file);
 * attack.techniques.get('T1003.001')?.name // 'LSASS Memory'
 */
export function parseAttackBundle(
  raw: unknown,
  source = 'bundle',
  options: { domain?: AttackDomain } = {},
): AttackKnowledge & { issues: ParseIssue[] } {
  const bundle = Bundle.safeParse(raw);
  if (!bundle.success) {
    const issue = bundle.error.issues[0];
    const field = issue?.path.length ? issue.path.join('.') : 'type';
    throw new AisocError('AISOC_ERR_ATTACK_BUNDLE', `${source}: ${field} ${issue?.message ?? 'is invalid'}`, {
      field,
      file: source,
    });
  }
  const objects = bundle.data.objects;
  const issues: ParseIssue[] = [];
  const stats = { objects: objects.length, skipped_revoked_or_deprecated: 0, skipped_invalid: 0 };
  // STIX 2.1 puts spec_version on every object; 2.0 puts it on the bundle.
  let stixVersion: '2.0' | '2.1' = '2.0';
  let version: string | undefined;
  let specVersion: string | undefined;
  let modified: string | undefined;

  // The first pass looks at every object (~25,000) by hand rather than through zod: it is the bulk of the
  // load time otherwise. Objects the product uses are then checked against their schema.
  const active = new Map<string, Raw>();
  // Revoked techniques and the `revoked-by` links, so old ids (in alerts, rules, labelled data) resolve to current ones.
  const revokedIds = new Map<string, string>();
  const revokedBy: Array<[string, string]> = [];
  for (const [i, value] of objects.entries()) {
    const o = value as Record<string, unknown> | null;
    if (
      typeof o !== 'object' ||
      o === null ||
      Array.isArray(o) ||
      typeof o.id !== 'string' ||
      typeof o.type !== 'string'
    ) {
      stats.skipped_invalid++;
      if (issues.length < 50)
        issues.push({
          stix_id: typeof o?.id === 'string' ? o.id : `objects[${i}]`,
          field: `objects[${i}]${typeof o === 'object' && o !== null ? (typeof o.id !== 'string' ? '.id' : '.type') : ''}`,
          message: typeof o === 'object' && o !== null ? 'must be a string' : 'must be an object',
        });
      continue;
    }
    const obj = o as Raw;
    if (obj.spec_version === '2.1') stixVersion = '2.1';
    if (obj.type === 'x-mitre-collection') {
      const c = Collection.safeParse(obj);
      if (c.success && c.data.x_mitre_version) version = c.data.x_mitre_version;
    }
    if (obj.type === 'relationship' && obj.relationship_type === 'revoked-by') {
      const from = str(obj.source_ref);
      const to = str(obj.target_ref);
      if (from && to) revokedBy.push([from, to]);
      continue;
    }
    if (obj.revoked === true || obj.x_mitre_deprecated === true) {
      stats.skipped_revoked_or_deprecated++;
      if (obj.type === 'attack-pattern' && obj.revoked === true) {
        const ap = StixObject.safeParse(obj);
        const ref = ap.success ? attackId(ap.data) : undefined;
        if (ref) revokedIds.set(obj.id, ref.id);
      }
      continue;
    }
    const sv = str(obj.x_mitre_attack_spec_version);
    if (sv && sv !== specVersion && (!specVersion || compareVersions(sv, specVersion) > 0)) specVersion = sv;
    const mod = str(obj.modified);
    if (mod && (!modified || mod > modified)) modified = mod;
    active.set(obj.id, obj);
  }

  const check = <T>(schema: z.ZodType<T>, o: Record<string, unknown>): T | undefined => {
    const r = schema.safeParse(o);
    if (r.success) return r.data;
    stats.skipped_invalid++;
    const iss = r.error.issues[0];
    if (issues.length < 50)
      issues.push({
        stix_id: String(o.id),
        field: iss?.path.join('.') || '(object)',
        message: iss?.message ?? 'invalid',
      });
    return undefined;
  };
  const skipNoId = (o: Obj) => {
    stats.skipped_invalid++;
    if (issues.length < 50)
      issues.push({
        stix_id: o.id,
        field: 'external_references',
        message: 'has no mitre-attack external id',
      });
  };

  const domain = options.domain ?? bundleDomain(active.values());
  // Tactic order from the domain's main matrix (the one with most tactics: Mobile also has a small
  // "Network-Based Effects" matrix). Without a matrix, the Enterprise matrix's order.
  let tacticOrder: readonly string[] = ATTACK_TACTICS;
  const stixToShort = new Map<string, string>();
  const tactics = new Map<string, Tactic>();
  for (const o of active.values()) {
    if (o.type !== 'x-mitre-tactic') continue;
    const t = check(TacticObject, o);
    if (!t) continue;
    const ref = attackId(t);
    if (!ref) {
      skipNoId(t);
      continue;
    }
    stixToShort.set(t.id, t.x_mitre_shortname);
    const description = t.description ?? '';
    tactics.set(ref.id, {
      stix_id: t.id,
      id: ref.id,
      name: t.name,
      domain,
      shortname: t.x_mitre_shortname,
      description,
      text: stripCitations(description),
      url: ref.url,
    });
  }
  for (const o of active.values()) {
    if (o.type !== 'x-mitre-matrix') continue;
    const m = Matrix.safeParse(o);
    const refs = m.success ? (m.data.tactic_refs ?? []) : [];
    const order = refs.map((r) => stixToShort.get(r)).filter((s): s is string => Boolean(s));
    if (order.length && (tacticOrder === ATTACK_TACTICS || order.length > tacticOrder.length))
      tacticOrder = order;
  }
  const tacticRank = (s: string) => {
    const i = tacticOrder.indexOf(s);
    return i < 0 ? tacticOrder.length : i;
  };

  const techniques = new Map<string, Technique>();
  const techByStix = new Map<string, Technique>();
  const dataSourcesByStix = new Map<string, string[]>();
  for (const o of active.values()) {
    if (o.type !== 'attack-pattern') continue;
    const ap = check(AttackPattern, o);
    if (!ap) continue;
    const ref = attackId(ap);
    if (!ref || !/^T\d{4}(\.\d{3})?$/.test(ref.id)) {
      skipNoId(ap);
      continue;
    }
    const description = ap.description ?? '';
    const isSub = ap.x_mitre_is_subtechnique ?? ref.id.includes('.');
    const tech: Technique = {
      stix_id: ap.id,
      id: ref.id,
      name: ap.name,
      domain,
      description,
      text: stripCitations(description),
      tactics: [
        ...new Set(
          (ap.kill_chain_phases ?? [])
            .filter((k) => KILL_CHAINS.has(k.kill_chain_name))
            .map((k) => k.phase_name),
        ),
      ].sort((a, b) => tacticRank(a) - tacticRank(b)),
      platforms: ap.x_mitre_platforms ?? [],
      data_sources: [...(ap.x_mitre_data_sources ?? [])],
      detection: stripCitations(ap.x_mitre_detection ?? ''),
      is_subtechnique: isSub,
      parent_id: isSub ? parentTechniqueId(ref.id) : undefined,
      subtechniques: [],
      mitigations: [],
      detection_strategies: [],
      procedure_count: 0,
      url: ref.url,
      references: references(ap),
      modified: ap.modified,
    };
    techniques.set(tech.id, tech);
    techByStix.set(ap.id, tech);
    dataSourcesByStix.set(ap.id, tech.data_sources);
  }
  for (const t of techniques.values()) {
    if (t.parent_id) {
      const parent = techniques.get(t.parent_id);
      if (parent) parent.subtechniques.push(t.id);
      else t.parent_id = undefined;
    }
  }
  for (const t of techniques.values()) t.subtechniques.sort();

  const mitigations = new Map<string, Mitigation>();
  const mitByStix = new Map<string, Mitigation>();
  const actors = new Map<string, Actor>();
  const actorByStix = new Map<string, Actor>();
  const components = new Map<string, string>();
  const analyticsByStix = new Map<string, Analytic>();
  for (const o of active.values()) {
    switch (o.type) {
      case 'course-of-action': {
        const c = check(Named, o);
        if (!c) break;
        const ref = attackId(c);
        // Pre-2019 mitigations carry ids like T1003 (one per technique); only M-ids are mitigations today.
        if (!ref || !/^M\d{4}$/.test(ref.id)) {
          if (!ref) skipNoId(c);
          break;
        }
        const description = c.description ?? '';
        const m: Mitigation = {
          stix_id: c.id,
          id: ref.id,
          name: c.name,
          description,
          text: stripCitations(description),
          url: ref.url,
          techniques: [],
        };
        mitigations.set(m.id, m);
        mitByStix.set(c.id, m);
        break;
      }
      case 'intrusion-set':
      case 'malware':
      case 'tool':
      case 'campaign': {
        const a = check(Named, o);
        if (!a) break;
        const ref = attackId(a);
        if (!ref) {
          skipNoId(a);
          break;
        }
        const kind: ActorKind =
          o.type === 'intrusion-set' ? 'group' : o.type === 'campaign' ? 'campaign' : 'software';
        const description = a.description ?? '';
        const actor: Actor = {
          stix_id: a.id,
          id: ref.id,
          kind,
          software_type: kind === 'software' ? (o.type as 'malware' | 'tool') : undefined,
          name: a.name,
          aliases: [...new Set([...(a.aliases ?? []), ...(a.x_mitre_aliases ?? [])])].filter(
            (x) => x !== a.name,
          ),
          description,
          text: stripCitations(description),
          platforms: a.x_mitre_platforms ?? [],
          url: ref.url,
          first_seen: a.first_seen,
          last_seen: a.last_seen,
        };
        actors.set(actor.id, actor);
        actorByStix.set(a.id, actor);
        break;
      }
      case 'x-mitre-data-component':
        if (typeof o.name === 'string') components.set(o.id, o.name);
        break;
      default:
        break;
    }
  }
  for (const o of active.values()) {
    if (o.type !== 'x-mitre-analytic') continue;
    const a = check(AnalyticObject, o);
    if (!a) continue;
    const ref = attackId(a);
    const description = a.description ?? '';
    const logSources: LogSource[] = (a.x_mitre_log_source_references ?? []).map((l) => ({
      data_component: components.get(l.x_mitre_data_component_ref) ?? l.x_mitre_data_component_ref,
      name: l.name,
      channel: l.channel,
    }));
    analyticsByStix.set(a.id, {
      stix_id: a.id,
      id: ref?.id ?? a.name,
      name: a.name,
      description,
      text: stripCitations(description),
      platforms: a.x_mitre_platforms ?? [],
      log_sources: logSources,
    });
  }
  const detectionStrategies = new Map<string, DetectionStrategy>();
  const detByStix = new Map<string, DetectionStrategy>();
  for (const o of active.values()) {
    if (o.type !== 'x-mitre-detection-strategy') continue;
    const d = check(DetectionStrategyObject, o);
    if (!d) continue;
    const ref = attackId(d);
    if (!ref) {
      skipNoId(d);
      continue;
    }
    const ds: DetectionStrategy = {
      stix_id: d.id,
      id: ref.id,
      name: d.name,
      url: ref.url,
      techniques: [],
      analytics: (d.x_mitre_analytic_refs ?? [])
        .map((r) => analyticsByStix.get(r))
        .filter((a): a is Analytic => Boolean(a)),
    };
    detectionStrategies.set(ds.id, ds);
    detByStix.set(d.id, ds);
  }

  const procedures: ProcedureExample[] = [];
  for (const o of active.values()) {
    if (o.type !== 'relationship') continue;
    const r = {
      id: o.id,
      relationship_type: str(o.relationship_type),
      source_ref: str(o.source_ref),
      target_ref: str(o.target_ref),
    };
    if (!r.relationship_type || !r.source_ref || !r.target_ref) {
      stats.skipped_invalid++;
      if (issues.length < 50)
        issues.push({
          stix_id: o.id,
          field: 'relationship_type',
          message: 'a relationship needs relationship_type, source_ref and target_ref',
        });
      continue;
    }
    const target = techByStix.get(r.target_ref);
    if (!target) continue;
    const description = str(o.description) ?? '';
    switch (r.relationship_type) {
      case 'uses': {
        const actor = actorByStix.get(r.source_ref);
        if (!actor || !description.trim()) break;
        procedures.push({
          stix_id: r.id,
          technique_id: target.id,
          source_id: actor.id,
          source_kind: actor.kind,
          source_name: actor.name,
          description,
          text: stripCitations(description),
        });
        target.procedure_count++;
        break;
      }
      case 'mitigates': {
        const m = mitByStix.get(r.source_ref);
        if (!m) break;
        m.techniques.push(target.id);
        target.mitigations.push({ id: m.id, name: m.name, text: stripCitations(description) });
        break;
      }
      case 'detects': {
        const d = detByStix.get(r.source_ref);
        if (!d) break;
        d.techniques.push(target.id);
        target.detection_strategies.push(d.id);
        break;
      }
      default:
        break;
    }
  }
  procedures.sort((a, b) => (a.stix_id < b.stix_id ? -1 : a.stix_id > b.stix_id ? 1 : 0));

  // v18 moved detection guidance to detection strategies and analytics; give techniques the same fields either way.
  for (const t of techniques.values()) {
    t.mitigations.sort((a, b) => a.id.localeCompare(b.id));
    t.detection_strategies.sort();
    if (t.detection_strategies.length === 0) continue;
    const lines: string[] = [];
    const sources = new Set(t.data_sources);
    for (const id of t.detection_strategies) {
      const d = detectionStrategies.get(id);
      if (!d) continue;
      lines.push(`${d.name}.`);
      for (const a of d.analytics) {
        if (a.text) lines.push(`${a.platforms.length ? `(${a.platforms.join(', ')}) ` : ''}${a.text}`);
        for (const l of a.log_sources) sources.add(l.data_component);
      }
    }
    if (!t.detection) t.detection = lines.join('\n');
    t.data_sources = [...sources].sort();
  }
  for (const m of mitigations.values()) m.techniques.sort();

  const next = new Map(revokedBy);
  const revoked = new Map<string, string>();
  for (const [stixId, oldId] of revokedIds) {
    let target = next.get(stixId);
    for (let hops = 0; target && !techByStix.has(target) && hops < 10; hops++) target = next.get(target);
    const current = target ? techByStix.get(target) : undefined;
    if (current && current.id !== oldId) revoked.set(oldId, current.id);
  }

  if (techniques.size === 0) {
    throw new AisocError(
      'AISOC_ERR_ATTACK_BUNDLE',
      `${source}: the bundle holds no ATT&CK techniques (attack-pattern objects with a mitre-attack id); is it an ATT&CK (Enterprise, Mobile or ICS) bundle?`,
      { field: 'objects', file: source },
    );
  }
  return {
    version,
    spec_version: specVersion,
    stix_version: stixVersion,
    modified,
    source,
    techniques,
    tactics,
    mitigations,
    actors,
    procedures,
    detection_strategies: detectionStrategies,
    revoked,
    stats,
    issues,
  };
}

/**
 * Read and parse an ATT&CK bundle file.
 *
 * @example const attack = readAttackBundle('../shared/data/attack/enterprise-attack.json');
 */
export function readAttackBundle(
  file: string,
  options: { domain?: AttackDomain } = {},
): AttackKnowledge & { issues: ParseIssue[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AisocError(
      'AISOC_ERR_ATTACK_BUNDLE',
      `Cannot read the ATT&CK bundle ${file}: ${describeError(err)}`,
      {
        file,
        field: 'knowledge.attack_path',
      },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new AisocError('AISOC_ERR_ATTACK_BUNDLE', `${file} is not valid JSON: ${describeError(err)}`, {
      file,
    });
  }
  return parseAttackBundle(raw, file, options);
}
