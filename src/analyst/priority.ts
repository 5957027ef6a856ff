import { SEVERITY_POINTS } from '../correlate/priority.ts';
import type { Alert } from '../schema/alert.ts';
import type { TacticName } from '../schema/attack.ts';
import { type SeverityName, severityRank } from '../schema/common.ts';

/** Extra points per ATT&CK tactic: later kill-chain stages hurt more. */
export const TACTIC_POINTS: Record<string, number> = {
  impact: 10,
  exfiltration: 10,
  'credential-access': 6,
  'privilege-escalation': 6,
  'defense-evasion': 6,
  persistence: 5,
  'lateral-movement': 6,
  'command-and-control': 6,
  collection: 4,
  execution: 4,
  'initial-access': 4,
  discovery: 1,
  reconnaissance: 0,
  'resource-development': 0,
} satisfies Record<TacticName, number>;

export interface AssetContext {
  /** Host names or IPs whose compromise matters most. */
  critical_hosts: string[];
  /** Users with administrative power (root, break-glass, domain admins). */
  privileged_users: string[];
  /** Accounts (cloud account ids, service identities) holding the crown jewels. */
  crown_jewel_accounts: string[];
}

export interface PriorityInput {
  alert: Pick<Alert, 'detections' | 'entities' | 'mitre_tactics'>;
  assets?: AssetContext;
  /** Alerts in the alert's incident, itself included. */
  incidentSize?: number;
  verdict?: { is_true_positive: boolean; confidence: number; source: 'builtin' | 'llm' };
}

export interface PriorityComponent {
  factor: 'severity' | 'ml' | 'rules' | 'asset' | 'tactic' | 'correlation' | 'verdict';
  points: number;
  reason: string;
}

export interface PriorityResult {
  score: number;
  components: PriorityComponent[];
}

function lower(list: string[] | undefined): Set<string> {
  return new Set((list ?? []).map((s) => s.toLowerCase()));
}

/**
 * Alert priority, 0–100, as a sum of explained components (clamped):
 *
 * | factor | points |
 * |---|---|
 * | severity | highest detection level: informational 5, low 20, medium 45, high 70, critical 85 |
 * | ml | + 10 × the highest ML detection confidence |
 * | rules | + 5 per further distinct rule or engine that fired (at most + 10) |
 * | asset | + 10 when an entity is a critical host, privileged user or crown-jewel account |
 * | tactic | + the largest tactic weight (impact, exfiltration 10 … discovery 1, reconnaissance 0) |
 * | correlation | + 2 per other alert in the incident (at most + 10) |
 * | verdict | true positive: + 10 × confidence; false positive: − 30 × confidence from the built-in analyst, at most − 10 from an LLM (an LLM alone never buries an alert) |
 *
 * @example
 * scorePriority({ alert, assets, incidentSize: 3 }).score // 87
 */
export function scorePriority(input: PriorityInput): PriorityResult {
  const { alert } = input;
  const components: PriorityComponent[] = [];
  let level: SeverityName = 'informational';
  for (const d of alert.detections) if (severityRank(d.level) > severityRank(level)) level = d.level;
  components.push({
    factor: 'severity',
    points: SEVERITY_POINTS[level],
    reason: `highest detection level is ${level}`,
  });

  const ml = alert.detections.filter((d) => d.engine === 'ml' && d.confidence !== undefined);
  if (ml.length) {
    const c = Math.max(...ml.map((d) => d.confidence!));
    components.push({ factor: 'ml', points: round(10 * c), reason: `model confidence ${c.toFixed(2)}` });
  }

  const distinct = new Set(alert.detections.map((d) => `${d.engine}:${d.rule_id}`));
  if (distinct.size > 1) {
    components.push({
      factor: 'rules',
      points: Math.min(10, 5 * (distinct.size - 1)),
      reason: `${distinct.size} distinct detections`,
    });
  }

  if (input.assets) {
    const hosts = lower(input.assets.critical_hosts);
    const users = lower(input.assets.privileged_users);
    const accounts = lower(input.assets.crown_jewel_accounts);
    const hit = alert.entities.find((e) => {
      const v = e.value.toLowerCase();
      return (
        ((e.type === 'host' || e.type === 'ip' || e.type === 'instance') && hosts.has(v)) ||
        ((e.type === 'user' || e.type === 'role') && users.has(v)) ||
        ((e.type === 'account' || e.type === 'user' || e.type === 'access_key') && accounts.has(v))
      );
    });
    if (hit)
      components.push({
        factor: 'asset',
        points: 10,
        reason: `${hit.type} ${hit.value} is a critical asset`,
      });
  }

  let bestTactic: string | undefined;
  for (const t of alert.mitre_tactics)
    if ((TACTIC_POINTS[t] ?? 0) > (bestTactic ? (TACTIC_POINTS[bestTactic] ?? 0) : -1)) bestTactic = t;
  if (bestTactic && (TACTIC_POINTS[bestTactic] ?? 0) > 0) {
    components.push({
      factor: 'tactic',
      points: TACTIC_POINTS[bestTactic]!,
      reason: `ATT&CK tactic ${bestTactic}`,
    });
  }

  if (input.incidentSize && input.incidentSize > 1) {
    components.push({
      factor: 'correlation',
      points: Math.min(10, 2 * (input.incidentSize - 1)),
      reason: `${input.incidentSize - 1} related alert(s) in the incident`,
    });
  }

  const v = input.verdict;
  if (v) {
    if (v.is_true_positive)
      components.push({
        factor: 'verdict',
        points: round(10 * v.confidence),
        reason: `${v.source} analyst: true positive`,
      });
    else {
      const cut = v.source === 'llm' ? Math.min(10, 30 * v.confidence) : 30 * v.confidence;
      components.push({
        factor: 'verdict',
        points: -round(cut),
        reason: `${v.source} analyst: likely false positive`,
      });
    }
  }

  const total = components.reduce((n, c) => n + c.points, 0);
  return { score: round(Math.max(0, Math.min(100, total))), components };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
