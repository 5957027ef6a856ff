/**
 * Derive the sensitive-API list of the `cloudtrail-behavioral` feature set
 * from MITRE ATT&CK, so that no test data set decides it:
 *
 *   node --import tsx scripts/attack-cloudtrail-apis.ts [path/to/enterprise-attack.json]
 *
 * prints the list as TypeScript, each API with the ATT&CK techniques that
 * cite it, to paste into src/detect/ml/features/cloudtrail-behavioral.ts
 * (a test checks the two agree when the bundle is present).
 *
 * The rule, in full:
 * 1. The API names are those ATT&CK's analytics (v18: `x-mitre-analytic`)
 *    give in the `channel` of an AWS CloudTrail log source
 *    (`x_mitre_log_source_references[].name` containing "CloudTrail"):
 *    identifiers of two or more capitalised parts (`StopLogging`,
 *    `sts:GetSessionToken`), less the few that name a product or concept
 *    rather than a call (NOT_CALLS).
 * 2. Each API gets the techniques its analytics detect (through the detection
 *    strategies that list the analytic and their `detects` relationships;
 *    revoked and deprecated objects are left out).
 * 3. An API is sensitive when none of those techniques is in the Discovery or
 *    Collection tactics — those are the calls of routine inventory and data
 *    access (DescribeInstances, ListBuckets, GetObject, AssumeRole…) — and a
 *    read verb (Get…, List…, Describe…) only when one of its techniques is
 *    Credential Access (GetSecretValue, GetSessionToken).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Tokens of the CloudTrail channels that name a product, a concept or a console, not an API call. */
const NOT_CALLS = new Set(['CloudTrail', 'CloudWatch', 'IdP', 'SessionToken', 'AwsConsoleSignIn']);
const ROUTINE_TACTICS = new Set(['discovery', 'collection']);
const READ_VERB = /^(Get|List|Describe)[A-Z]/;

interface StixObject {
  id: string;
  type: string;
  revoked?: boolean;
  x_mitre_deprecated?: boolean;
  relationship_type?: string;
  source_ref?: string;
  target_ref?: string;
  external_references?: Array<{ source_name?: string; external_id?: string }>;
  kill_chain_phases?: Array<{ phase_name: string }>;
  x_mitre_analytic_refs?: string[];
  x_mitre_log_source_references?: Array<{ name: string; channel: string }>;
}

export interface SensitiveApi {
  api: string;
  /** ATT&CK technique ids citing the API, sorted. */
  techniques: string[];
  tactics: string[];
}

/** The API names of one CloudTrail channel text. */
export function apiNames(channel: string): string[] {
  const out = new Set<string>();
  for (const m of channel.matchAll(/\b(?:[a-z0-9-]+:)?([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+)\b/g)) {
    if (!NOT_CALLS.has(m[1]!)) out.add(m[1]!);
  }
  return [...out];
}

/** Every API ATT&CK names in CloudTrail analytics, with its techniques and their tactics. */
export function cloudTrailApis(bundle: { objects: StixObject[] }): SensitiveApi[] {
  const live = (o: StixObject | undefined) => o !== undefined && !o.revoked && !o.x_mitre_deprecated;
  const byId = new Map(bundle.objects.map((o) => [o.id, o]));
  const detects = new Map<string, Set<string>>();
  for (const r of bundle.objects) {
    if (r.type !== 'relationship' || r.relationship_type !== 'detects' || !live(r)) continue;
    const t = byId.get(r.target_ref!);
    if (t?.type !== 'attack-pattern' || !live(t)) continue;
    const set = detects.get(r.source_ref!) ?? new Set<string>();
    set.add(t.id);
    detects.set(r.source_ref!, set);
  }
  const analyticTechniques = new Map<string, Set<string>>();
  for (const s of bundle.objects) {
    if (s.type !== 'x-mitre-detection-strategy' || !live(s)) continue;
    for (const a of s.x_mitre_analytic_refs ?? []) {
      const set = analyticTechniques.get(a) ?? new Set<string>();
      for (const t of detects.get(s.id) ?? []) set.add(t);
      analyticTechniques.set(a, set);
    }
  }
  const apis = new Map<string, Set<string>>();
  for (const a of bundle.objects) {
    if (a.type !== 'x-mitre-analytic' || !live(a)) continue;
    for (const ls of a.x_mitre_log_source_references ?? []) {
      if (!/cloudtrail/i.test(ls.name)) continue;
      for (const api of apiNames(ls.channel)) {
        const set = apis.get(api) ?? new Set<string>();
        for (const t of analyticTechniques.get(a.id) ?? []) set.add(t);
        apis.set(api, set);
      }
    }
  }
  const techId = (id: string) =>
    byId.get(id)?.external_references?.find((e) => e.source_name === 'mitre-attack')?.external_id ?? id;
  return [...apis]
    .filter(([, ts]) => ts.size > 0)
    .map(([api, ts]) => ({
      api,
      techniques: [...ts].map(techId).sort(),
      tactics: [
        ...new Set([...ts].flatMap((t) => byId.get(t)?.kill_chain_phases?.map((p) => p.phase_name) ?? [])),
      ].sort(),
    }))
    .sort((a, b) => a.api.localeCompare(b.api));
}

/** The APIs the rule above calls sensitive. */
export function sensitiveApis(bundle: { objects: StixObject[] }): SensitiveApi[] {
  return cloudTrailApis(bundle).filter(
    (a) =>
      !a.tactics.some((t) => ROUTINE_TACTICS.has(t)) &&
      (!READ_VERB.test(a.api) || a.tactics.includes('credential-access')),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path =
    process.argv[2] ??
    join(
      process.env.AISOC_SHARED_DATA ?? join(import.meta.dirname, '../../shared/data'),
      'attack/enterprise-attack.json',
    );
  const list = sensitiveApis(JSON.parse(readFileSync(path, 'utf8')));
  for (const a of list) console.log(`  ['${a.api}', '${a.techniques.join(' ')}'],`);
  console.error(`${list.length} sensitive APIs from ${path}`);
}
