import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AisocError } from '../errors.ts';
import { SeverityName, severityRank } from '../schema/common.ts';
import { SecurityAlert, type TriageResponse } from '../schema/verdict.ts';

/** One line of a triage evaluation file. */
export const TriageCase = z.object({
  alert: SecurityAlert,
  label: z.object({
    is_true_positive: z.boolean(),
    severity: SeverityName.optional(),
    techniques: z.array(z.string()).optional(),
  }),
  /** Where the case comes from (for the per-source breakdown). */
  origin: z.string().optional(),
});
export type TriageCase = z.infer<typeof TriageCase>;

/** Read a JSONL evaluation file; a bad line is an error naming the line and field. */
export function readTriageCases(file: string): TriageCase[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AisocError('AISOC_ERR_VALIDATION', `Cannot read ${file}: ${(err as Error).message}`, {
      field: 'data',
    });
  }
  const out: TriageCase[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new AisocError(
        'AISOC_ERR_BAD_JSON',
        `${file} line ${i + 1} is not JSON: ${(err as Error).message}`,
        { field: `line ${i + 1}` },
      );
    }
    const r = TriageCase.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        `${file} line ${i + 1}: ${issue.path.join('.')}: ${issue.message}`,
        { field: `line ${i + 1}.${issue.path.join('.')}` },
      );
    }
    out.push(r.data);
  });
  if (out.length === 0)
    throw new AisocError('AISOC_ERR_VALIDATION', `${file} holds no cases`, { field: 'data' });
  return out;
}

export interface TriageScores {
  n: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** Share of cases with labelled techniques where the verdict names one of them (or a sub-technique/parent of one). */
  technique_hit_rate: number | null;
  /** Share of cases with a labelled severity where the verdict's severity is the same. */
  severity_agreement: number | null;
  severity_within_one: number | null;
  confusion: { tp: number; fp: number; tn: number; fn: number };
  by_origin: Record<string, { n: number; accuracy: number }>;
  fallbacks: number;
}

const parent = (t: string) => t.split('.')[0]!;
const round = (x: number) => Math.round(x * 10_000) / 10_000;

/** Score verdicts against labels. */
export function scoreTriage(
  cases: TriageCase[],
  verdicts: Array<{ response: TriageResponse; fallback?: boolean }>,
): TriageScores {
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
  let techN = 0;
  let techHit = 0;
  let sevN = 0;
  let sevSame = 0;
  let sevNear = 0;
  let fallbacks = 0;
  const origins: Record<string, { n: number; right: number }> = {};
  cases.forEach((tc, i) => {
    const v = verdicts[i]!.response;
    if (verdicts[i]!.fallback) fallbacks++;
    const pred = v.is_true_positive;
    const truth = tc.label.is_true_positive;
    if (pred && truth) c.tp++;
    else if (pred && !truth) c.fp++;
    else if (!pred && !truth) c.tn++;
    else c.fn++;
    const key = tc.origin ?? 'all';
    const o = origins[key] ?? { n: 0, right: 0 };
    origins[key] = o;
    o.n++;
    if (pred === truth) o.right++;
    if (tc.label.techniques?.length) {
      techN++;
      const want = new Set(tc.label.techniques.flatMap((t) => [t, parent(t)]));
      if (v.mitre_techniques.some((t) => want.has(t) || want.has(parent(t)))) techHit++;
    }
    if (tc.label.severity) {
      sevN++;
      if (tc.label.severity === v.severity) sevSame++;
      if (Math.abs(severityRank(tc.label.severity) - severityRank(v.severity)) <= 1) sevNear++;
    }
  });
  const n = cases.length;
  const precision = c.tp + c.fp ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn ? c.tp / (c.tp + c.fn) : 0;
  return {
    n,
    accuracy: round((c.tp + c.tn) / n),
    precision: round(precision),
    recall: round(recall),
    f1: round(precision + recall ? (2 * precision * recall) / (precision + recall) : 0),
    technique_hit_rate: techN ? round(techHit / techN) : null,
    severity_agreement: sevN ? round(sevSame / sevN) : null,
    severity_within_one: sevN ? round(sevNear / sevN) : null,
    confusion: c,
    by_origin: Object.fromEntries(
      Object.entries(origins).map(([k, v]) => [k, { n: v.n, accuracy: round(v.right / v.n) }]),
    ),
    fallbacks,
  };
}

/** An alert with the ids of the events it cites, for ground-truth labelling. */
export interface AlertWithEvents {
  alert: SecurityAlert;
  /** Ids of the alert's events in the caller's ground truth (e.g. each record's own event id). */
  event_ids: string[];
}

export interface GroundTruthLabels {
  cases: TriageCase[];
  /** Alerts whose events are partly in an attack run and partly not (labelled true positives). */
  mixed: number;
}

/**
 * Label alerts by ground truth about their events, not by what the alert
 * says: an alert is a true positive when at least one of its events belongs
 * to an attack (an alert that cites attack activity caught it, even if it
 * also cites routine calls — those are counted in `mixed`), a false
 * positive when none does. Which events belong to an attack is the
 * caller's: the product knows no data set.
 *
 * @example
 * const { cases } = labelAlertsByEvents(alerts, (id) => attackIds.has(id), 'invictus');
 */
export function labelAlertsByEvents(
  alerts: readonly AlertWithEvents[],
  isAttackEvent: (eventId: string) => boolean,
  origin?: string,
): GroundTruthLabels {
  let mixed = 0;
  const cases = alerts.map(({ alert, event_ids }, i) => {
    if (event_ids.length === 0)
      throw new AisocError('AISOC_ERR_VALIDATION', `alert ${alert.alert_id} cites no events`, {
        field: `alerts[${i}].event_ids`,
      });
    const attack = event_ids.filter(isAttackEvent).length;
    if (attack > 0 && attack < event_ids.length) mixed++;
    const c: TriageCase = { alert, label: { is_true_positive: attack > 0 } };
    if (origin) c.origin = origin;
    return c;
  });
  return { cases, mixed };
}
