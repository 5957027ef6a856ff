import type { TacticName } from '../schema/attack.ts';
import type { SeverityName } from '../schema/common.ts';
import type { AlertCategory, Evidence, TriageResponse } from '../schema/verdict.ts';
import { resolvePath } from './checker.ts';
import { type Facts, gatherFacts } from './facts.ts';
import { scorePriority } from './priority.ts';
import type { AnalysisInput, AnalystKnowledge, RetrievedContext } from './types.ts';

/**
 * Tactics (latest first) and the category each one suggests. The first
 * tactic of the alert in this order decides its category, before any word
 * of its text: a rule's description says what an attacker might do with
 * the access ("a backdoor identity"), its ATT&CK tactic says what the
 * detected activity is.
 */
export const TACTIC_CATEGORY: ReadonlyArray<readonly [TacticName, AlertCategory]> = [
  ['exfiltration', 'data_exfiltration'],
  ['impact', 'policy_violation'],
  ['command-and-control', 'command_and_control'],
  ['lateral-movement', 'lateral_movement'],
  ['credential-access', 'credential_access'],
  ['privilege-escalation', 'privilege_escalation'],
  ['persistence', 'persistence'],
  ['defense-evasion', 'policy_violation'],
  ['execution', 'intrusion_attempt'],
  ['initial-access', 'intrusion_attempt'],
  ['collection', 'data_exfiltration'],
  ['discovery', 'reconnaissance'],
  ['reconnaissance', 'reconnaissance'],
];

const KEYWORD_CATEGORY: Array<[RegExp, AlertCategory]> = [
  [
    /\b(ransom\w*|trojan|malware|virus|worm|backdoor\w*|(?:coin|crypto)?miner|mimikatz|cobalt ?strike|beacon)\b/i,
    'malware',
  ],
  [/\b(exfil|upload|share[ds]? (publicly|with)|snapshot .*shar|public bucket)\b/i, 'data_exfiltration'],
  [/\b(dos|ddos|flood|denial of service)\b/i, 'denial_of_service'],
  [
    /\b(brute.?force|password spray|failed password|credential|secret|getsecretvalue|authentication fail)/i,
    'credential_access',
  ],
  [/\b(scan|sweep|probe|enumerat|recon)/i, 'reconnaissance'],
  [/\b(c2|command and control|beacon|dns tunnel)/i, 'command_and_control'],
  [/\b(privilege|sudo|admin(istrator)?access|attachuserpolicy|escalat)/i, 'privilege_escalation'],
  [/\b(lateral|psexec|wmi|rdp|smb)\b/i, 'lateral_movement'],
  [/\b(persistence|scheduled task|cron ?job|autorun|run key)\b/i, 'persistence'],
  [/\b(anomal\w*|unusual|outlier|first[- ]seen|rare)\b/i, 'anomaly'],
];

/** Impact techniques that are malicious code rather than a weakened control: data encrypted for impact (ransomware). */
const MALWARE_TECHNIQUES = new Set(['T1486']);

/** Techniques (and their sub-techniques) that mean denial of service rather than another impact. */
const DOS_TECHNIQUES = new Set(['T1498', 'T1499']);

const IMPACT: Record<AlertCategory, string> = {
  malware: 'Malicious code running on the host can steal data, spread, or encrypt files.',
  persistence:
    'The actor may keep access after the first intrusion is cleaned up: a new identity, key, task or backdoor survives.',
  anomaly:
    'Behaviour unlike what this identity or host usually does; it may be the first sign of misuse, or a change nobody announced.',
  intrusion_attempt:
    'An intruder may gain or keep a foothold and act with the rights of the affected identity or host.',
  data_exfiltration:
    'Data may leave the organisation: copies, shared snapshots or uploads outside its control.',
  privilege_escalation:
    'The actor may gain administrative rights and reach every resource those rights cover.',
  lateral_movement: 'The compromise may spread from the first host or identity to others.',
  command_and_control: 'An attacker may be steering a compromised host remotely.',
  reconnaissance: 'The activity maps the environment ahead of an attack; on its own it changes nothing.',
  denial_of_service: 'Services may become unavailable to their users.',
  policy_violation: 'Security controls may be weakened or switched off, hiding later activity.',
  credential_access:
    'Credentials or secrets may be in an attacker’s hands, opening every system they unlock.',
  other: 'The effect depends on what the activity was; it needs a person to judge.',
};

export function severityOf(priority: number): SeverityName {
  if (priority >= 85) return 'critical';
  if (priority >= 65) return 'high';
  if (priority >= 40) return 'medium';
  if (priority >= 15) return 'low';
  return 'informational';
}

export function investigationPriority(priority: number): number {
  if (priority >= 85) return 1;
  if (priority >= 65) return 2;
  if (priority >= 40) return 3;
  if (priority >= 15) return 4;
  return 5;
}

/**
 * The category of an alert, from ATT&CK before words: denial-of-service and
 * ransomware techniques, then the first of the alert's tactics in
 * {@link TACTIC_CATEGORY} order; only an alert without a tactic is
 * categorised by the words of its title and description, and a detection by
 * a model alone (no tactic, no telling word) is an `anomaly`.
 *
 * @example
 * categoryOf(['privilege-escalation', 'persistence'], ['T1098.003'], 'a backdoor identity', ['sigma']) // 'privilege_escalation'
 */
export function categoryOf(
  tactics: readonly string[],
  techniques: readonly string[],
  text: string,
  engines: readonly string[] = [],
): AlertCategory {
  const parents = techniques.map((t) => t.toUpperCase().split('.')[0]!);
  if (parents.some((t) => DOS_TECHNIQUES.has(t))) return 'denial_of_service';
  if (parents.some((t) => MALWARE_TECHNIQUES.has(t))) return 'malware';
  for (const [tactic, cat] of TACTIC_CATEGORY) if (tactics.includes(tactic)) return cat;
  for (const [re, cat] of KEYWORD_CATEGORY) if (re.test(text)) return cat;
  if (engines.length > 0 && engines.every((e) => e === 'ml')) return 'anomaly';
  return 'other';
}

/**
 * Retrieve what grounds the verdict, before it is written: ATT&CK techniques
 * (from the rule's tags, or from the text→technique mapper when the rule has
 * none), passages from the ATT&CK and runbook collections, and the
 * mitigations of the techniques.
 */
export async function retrieveContext(
  input: AnalysisInput,
  knowledge: AnalystKnowledge | undefined,
): Promise<RetrievedContext> {
  const ctx: RetrievedContext = { techniques: [], attack: [], runbooks: [], mitigations: [] };
  if (!knowledge) {
    for (const id of input.alert.mitre_techniques)
      ctx.techniques.push({ id, name: id, tactics: [], url: '', source: 'rule' });
    return ctx;
  }
  for (const id of input.alert.mitre_techniques) {
    const t = knowledge.technique(id);
    if (t) ctx.techniques.push({ id: t.id, name: t.name, tactics: t.tactics, url: t.url, source: 'rule' });
  }
  const text = [
    input.alert.title,
    input.alert.description,
    ...input.records.slice(0, 3).map((r) => String(r.record.message ?? r.record.raw_log ?? '')),
  ]
    .filter(Boolean)
    .join('. ')
    .slice(0, 2000);
  // What the product stated comes first: text is mapped only when the alert states no technique at all,
  // not when it states one this ATT&CK release does not know (a newer id, another domain).
  if (input.alert.mitre_techniques.length === 0 && text) {
    for (const m of await knowledge.mapText(text, 2)) {
      const t = knowledge.technique(m.technique_id);
      if (t)
        ctx.techniques.push({
          id: t.id,
          name: t.name,
          tactics: t.tactics,
          url: t.url,
          source: 'mapper',
          score: m.score,
        });
    }
  }
  const query = [input.alert.title, ...ctx.techniques.map((t) => t.name)].join(' ');
  [ctx.attack, ctx.runbooks] = await Promise.all([
    knowledge.retrieve(query, 'mitre_attack', 3),
    knowledge.retrieve(query, 'runbooks', 2),
  ]);
  for (const t of ctx.techniques.slice(0, 3)) {
    for (const m of knowledge.technique(t.id)?.mitigations.slice(0, 2) ?? [])
      ctx.mitigations.push({ technique: t.id, ...m });
  }
  return ctx;
}

/**
 * Quote a value from the data when it goes into the verdict's prose: it is
 * shown as a value, clipped, never as a sentence of ours (an attacker chooses
 * user names and host names).
 */
export function q(value: string, max = 80): string {
  const clipped = value.length > max ? `${value.slice(0, max - 1)}…` : value;
  return `"${clipped.replace(/["\n\r]/g, ' ')}"`;
}

function firstSentence(text: string, max = 220): string {
  const s = text.split(/(?<=[.!?])\s/)[0] ?? text;
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

interface Judgement {
  isTruePositive: boolean;
  confidence: number;
  reasons: string[];
  fpReason?: string;
}

/**
 * The true/false-positive judgement: a score that starts at 0.5 and moves
 * with documented signals (docs/analyst.md); above 0.5 is a true positive.
 */
function judge(
  input: AnalysisInput,
  facts: Facts,
  tactics: string[],
  mlConfidence: number | undefined,
  assetHit: boolean,
): Judgement {
  let score = 0.5;
  const reasons: string[] = [];
  const fp: string[] = [];
  const levels = input.alert.detections.map((d) => d.level);
  const engines = new Set(input.alert.detections.map((d) => `${d.engine}:${d.rule_id}`));
  if (levels.includes('critical') || levels.includes('high')) {
    score += 0.2;
    reasons.push('a high-severity detection fired');
  }
  if (engines.size > 1) {
    score += 0.15;
    reasons.push('several independent detections agree');
  }
  if (input.incident_size > 1) {
    score += 0.15;
    reasons.push('related alerts share an entity with it');
  }
  if (facts.externalIps.length > 0) {
    score += 0.05;
    reasons.push('the activity came from an external address');
  }
  if (mlConfidence !== undefined && mlConfidence >= 0.8) {
    score += 0.15;
    reasons.push('a model scored it as malicious');
  }
  if (assetHit) {
    score += 0.1;
    reasons.push('a critical asset is involved');
  }
  if (
    tactics.some((t) =>
      [
        'impact',
        'exfiltration',
        'credential-access',
        'defense-evasion',
        'privilege-escalation',
        'persistence',
      ].includes(t),
    )
  ) {
    score += 0.05;
    reasons.push('the techniques belong to a damaging stage of an attack');
  }
  if (input.alert.count >= 5) {
    score += 0.05;
    reasons.push('it repeated');
  }
  if (engines.size === 1 && levels.every((l) => l === 'informational' || l === 'low')) {
    score -= 0.25;
    fp.push('a single low-severity detection with nothing corroborating it');
  }
  if (facts.total > 0 && facts.serviceActors === facts.total) {
    score -= 0.3;
    fp.push('every event is a cloud service acting on its own behalf');
  }
  if (
    facts.total > 0 &&
    facts.externalIps.length === 0 &&
    facts.internalIps.length > 0 &&
    facts.readOnly === facts.total
  ) {
    score -= 0.15;
    fp.push('read-only calls from internal addresses only');
  }
  // Exactly 0.5 means nothing but the detection itself: not enough to call it a true positive.
  const isTruePositive = score > 0.5;
  const confidence = Math.round(Math.min(0.95, Math.max(0.5, 0.5 + Math.abs(score - 0.5))) * 100) / 100;
  const j: Judgement = { isTruePositive, confidence, reasons };
  if (!isTruePositive) j.fpReason = fp.join('; ') || 'nothing corroborates the detection';
  return j;
}

/**
 * The built-in analyst: a deterministic verdict from the detections, ML
 * scores, retrieved ATT&CK context, asset and identity context and
 * correlation, with evidence that cites the records it read (so the checker
 * accepts it by construction) and recommendations from ATT&CK mitigations and
 * our runbooks.
 *
 * @example
 * const ctx = await retrieveContext(input, knowledge);
 * const verdict = builtinVerdict(input, ctx);
 */
export function builtinVerdict(
  input: AnalysisInput,
  retrieved: RetrievedContext,
  started = performance.now(),
): TriageResponse {
  const { alert } = input;
  const facts = gatherFacts(input.records);
  const techniques = [...new Set([...alert.mitre_techniques, ...retrieved.techniques.map((t) => t.id)])];
  const tactics = [...new Set([...alert.mitre_tactics, ...retrieved.techniques.flatMap((t) => t.tactics)])];
  const ml = alert.detections.filter((d) => d.engine === 'ml' && d.confidence !== undefined);
  const mlConfidence = ml.length ? Math.max(...ml.map((d) => d.confidence!)) : undefined;
  const base = scorePriority({
    alert: { ...alert, mitre_tactics: tactics },
    assets: input.assets,
    incidentSize: input.incident_size,
  });
  const assetHit = base.components.some((c) => c.factor === 'asset');
  const j = judge(input, facts, tactics, mlConfidence, assetHit);
  const final = scorePriority({
    alert: { ...alert, mitre_tactics: tactics },
    assets: input.assets,
    incidentSize: input.incident_size,
    verdict: { is_true_positive: j.isTruePositive, confidence: j.confidence, source: 'builtin' },
  });
  const text = [alert.title, alert.description ?? '', ...alert.detections.map((d) => d.rule_title)].join(' ');
  const category = categoryOf(
    tactics,
    techniques,
    text,
    alert.detections.map((d) => d.engine),
  );
  const severity = severityOf(final.score);
  const r = facts.roles;
  const evidence: Evidence[] = [];

  for (const d of alert.detections.slice(0, 5)) {
    const cited = d.event_ids.filter((id) => input.records.some((x) => x.id === id));
    const rec = input.records.find((x) => cited.includes(x.id)) ?? input.records[0];
    const fields = rec
      ? [rec.roles.operation, rec.roles.message].filter((f): f is string => !!f && hasValue(rec.record, f))
      : [];
    evidence.push({
      claim: `Detection "${d.rule_title}" (${d.engine}, ${d.level}) fired on this activity.`,
      event_ids: cited.length ? cited.slice(0, 5) : [alert.id],
      fields: cited.length ? fields.slice(0, 2) : ['detections'],
    });
  }
  const cite = (role: keyof typeof r, value: string, claim: string) => {
    const rv = r[role];
    const id = rv?.firstRecord.get(value);
    const rec = input.records.find((x) => x.id === id);
    const path = rec?.roles[role];
    if (id && path) evidence.push({ claim, event_ids: [id], fields: [path] });
  };
  for (const ip of facts.externalIps.slice(0, 2))
    cite('src_ip', ip, `The activity came from ${q(ip)}, an address outside the organisation.`);
  for (const u of r.user?.values.slice(0, 2) ?? []) cite('user', u, `The identity ${q(u)} performed it.`);
  for (const k of r.access_key?.values.slice(0, 2) ?? [])
    cite('access_key', k, `The credential ${q(k)} was used.`);
  for (const h of r.host?.values.slice(0, 1) ?? []) cite('host', h, `It involved the host ${q(h)}.`);
  if (facts.failures > 0 && input.records[0]?.roles.status) {
    const failed = input.records.filter((x) => x.roles.status && x.record.status === 'failure').slice(0, 5);
    evidence.push({
      claim: `${facts.failures} of ${facts.total} events failed.`,
      event_ids: failed.map((x) => x.id),
      fields: [input.records[0].roles.status],
    });
  }
  if (input.incident && input.incident_size > 1) {
    evidence.push({
      claim: `It is one of ${input.incident_size} alerts grouped into one incident by shared entities.`,
      event_ids: [input.incident.id],
      fields: ['alert_ids', 'entities'],
    });
  }
  if (mlConfidence !== undefined) {
    evidence.push({
      claim: `A model scored it with confidence ${mlConfidence}.`,
      event_ids: [alert.id],
      fields: ['detections'],
    });
  }

  const recommendations: TriageResponse['recommendations'] = [];
  if (j.isTruePositive) {
    for (const k of r.access_key?.values.slice(0, 2) ?? []) {
      recommendations.push({
        action: `Disable the access key ${q(k)} and review everything it did since it was issued`,
        priority: 1,
        rationale:
          'The key was used in the detected activity; disabling it is reversible and stops further use.',
      });
    }
    for (const ip of facts.externalIps.slice(0, 2)) {
      recommendations.push({
        action: `Block ${q(ip)} at the edge (WAF IP set or host firewall)`,
        priority: 2,
        rationale: 'The activity came from this external address.',
      });
    }
    for (const h of r.host?.values.slice(0, 1) ?? []) {
      if (severity === 'high' || severity === 'critical') {
        recommendations.push({
          action: `Isolate ${q(h)} for investigation`,
          priority: 1,
          rationale: 'A compromised host can be used to reach others; isolation is reversible.',
        });
      }
    }
    for (const u of r.user?.values.slice(0, 1) ?? []) {
      recommendations.push({
        action: `Reset the credentials of ${q(u)}, enforce MFA and review its recent sessions`,
        priority: 2,
        rationale: 'The identity took part in the activity.',
      });
    }
  } else {
    for (const d of alert.detections.slice(0, 1)) {
      recommendations.push({
        action: `Review rule "${d.rule_title}" for tuning, or close the case as a false positive with a suppression`,
        priority: 4,
        rationale: j.fpReason ?? 'Nothing corroborates the detection.',
      });
    }
  }
  for (const m of retrieved.mitigations.slice(0, 3)) {
    recommendations.push({
      action: `Apply ATT&CK mitigation ${m.id} ${m.name} against ${m.technique}`,
      priority: 3,
      rationale: firstSentence(m.text) || m.name,
    });
  }
  for (const rb of retrieved.runbooks.slice(0, 2)) {
    recommendations.push({
      action: `Follow the runbook "${rb.title}"`,
      priority: 2,
      rationale: firstSentence(rb.text),
    });
  }

  const who = r.user?.values[0];
  const from = facts.externalIps[0] ?? r.src_ip?.values[0];
  const summary = [
    `${alert.title}`,
    who ? ` by ${q(who)}` : '',
    from ? ` from ${q(from)}` : '',
    `: ${facts.total} event${facts.total === 1 ? '' : 's'}`,
    input.incident_size > 1 ? `, one of ${input.incident_size} related alerts` : '',
    j.isTruePositive ? '; likely malicious.' : '; likely benign.',
  ].join('');
  const techniqueText = retrieved.techniques.length
    ? retrieved.techniques
        .map((t) => `${t.id} ${t.name}${t.source === 'mapper' ? ' (inferred from the text)' : ''}`)
        .join('; ')
    : techniques.join(', ') || 'none identified';
  const detailed = [
    `Detections: ${alert.detections.map((d) => `${d.rule_title} (${d.engine}, ${d.level})`).join('; ')}.`,
    `ATT&CK: ${techniqueText}${tactics.length ? `; tactics ${tactics.join(', ')}` : ''}.`,
    retrieved.attack.length
      ? `Related ATT&CK knowledge: ${retrieved.attack.map((p) => p.title).join('; ')}.`
      : '',
    `Judgement: ${j.isTruePositive ? 'true positive' : 'likely false positive'} because ${j.isTruePositive ? j.reasons.join(', ') || 'the detection stands uncontradicted' : j.fpReason}.`,
    `Priority ${final.score}: ${final.components.map((c) => `${c.factor} ${c.points >= 0 ? '+' : ''}${c.points} (${c.reason})`).join(', ')}.`,
  ]
    .filter(Boolean)
    .join('\n');
  const impact = `${IMPACT[category]}${assetHit ? ' A critical asset is involved, which widens the damage.' : ''}`;

  const iocs: TriageResponse['iocs'] = [];
  for (const ip of facts.externalIps.slice(0, 10))
    iocs.push({ ioc_type: 'ip', value: ip, confidence: j.isTruePositive ? 0.8 : 0.3 });
  for (const k of r.access_key?.values.slice(0, 5) ?? [])
    iocs.push({ ioc_type: 'access_key', value: k, confidence: j.isTruePositive ? 0.9 : 0.3 });
  for (const f of r.file?.values.slice(0, 5) ?? [])
    iocs.push({ ioc_type: 'file', value: f, confidence: 0.5 });
  for (const c of r.command?.values.slice(0, 3) ?? [])
    iocs.push({ ioc_type: 'command', value: c, confidence: 0.5 });

  const response: TriageResponse = {
    alert_id: input.subject_id,
    analysis_timestamp: new Date().toISOString(),
    severity,
    category,
    confidence: j.confidence,
    summary,
    detailed_analysis: detailed,
    potential_impact: impact,
    is_true_positive: j.isTruePositive,
    false_positive_reason: j.isTruePositive ? null : (j.fpReason ?? null),
    iocs,
    mitre_techniques: techniques,
    mitre_tactics: tactics,
    recommendations: recommendations.slice(0, 10),
    investigation_priority: investigationPriority(final.score),
    model_used: 'builtin',
    processing_time_ms: Math.round((performance.now() - started) * 100) / 100,
    ml_prediction: ml.length ? (ml[0]!.rule_title ?? 'malicious') : null,
    ml_confidence: mlConfidence ?? null,
    knowledge_base_references: [
      ...retrieved.techniques.map((t) => t.url || t.id),
      ...retrieved.attack.map((p) => p.url ?? `${p.collection}:${p.id}`),
      ...retrieved.runbooks.map((p) => `${p.collection}:${p.id}`),
    ].filter((x, i, a) => x && a.indexOf(x) === i),
    evidence,
    disputed: false,
  };
  return response;
}

function hasValue(record: Record<string, unknown>, path: string): boolean {
  // The checker's own resolution, so built-in evidence cites only what the checker accepts.
  const v = resolvePath(record, path);
  return v !== undefined && v !== null && v !== '';
}

export { gatherFacts };
