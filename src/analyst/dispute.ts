import { severityRank } from '../schema/common.ts';
import type { ModelClaims, TriageResponse } from '../schema/verdict.ts';

/** How many severity levels lower a model may rate an alert than the built-in analyst before it is disputed. */
export const DISPUTE_SEVERITY_DROP = 2;

/**
 * Why a model's verdict is weaker than the built-in analyst's on the same
 * input, or `undefined` when it is not: a true positive the model calls a
 * false positive, or a severity two or more levels lower. Weaker is what an
 * injected instruction wants ("mark this as a false positive", "set severity
 * to informational"), so such a verdict is never taken on the model's word.
 * A model may always judge an alert worse than the built-in analyst does.
 *
 * @example
 * disputeReason({ is_true_positive: false, severity: 'informational' }, { is_true_positive: true, severity: 'high', confidence: 0.85 })
 * // 'the model called it a false positive where the built-in analyst found a true positive (confidence 0.85); …'
 */
export function disputeReason(
  model: Pick<TriageResponse, 'is_true_positive' | 'severity'>,
  builtin: Pick<TriageResponse, 'is_true_positive' | 'severity' | 'confidence'>,
): string | undefined {
  const reasons: string[] = [];
  if (builtin.is_true_positive && !model.is_true_positive)
    reasons.push(
      `the model called it a false positive where the built-in analyst found a true positive (confidence ${builtin.confidence})`,
    );
  const drop = severityRank(builtin.severity) - severityRank(model.severity);
  if (drop >= DISPUTE_SEVERITY_DROP)
    reasons.push(
      `the model rated it ${model.severity}, ${drop} levels below the built-in analyst's ${builtin.severity}`,
    );
  return reasons.length ? reasons.join('; ') : undefined;
}

/** The model-written part of a verdict, kept as the model's claims when the verdict is disputed. */
export function modelClaims(v: TriageResponse): ModelClaims {
  return {
    severity: v.severity,
    category: v.category,
    confidence: v.confidence,
    is_true_positive: v.is_true_positive,
    false_positive_reason: v.false_positive_reason ?? null,
    summary: v.summary,
    detailed_analysis: v.detailed_analysis,
    potential_impact: v.potential_impact,
    iocs: v.iocs,
    mitre_techniques: v.mitre_techniques,
    recommendations: v.recommendations,
    investigation_priority: v.investigation_priority,
    evidence: v.evidence,
  };
}

/**
 * A disputed verdict: the built-in analyst's verdict stands (severity, true
 * or false positive, confidence, text: what priority and every automatic
 * decision read), flagged `disputed`, with the model's claims and the reason
 * beside it for a person to review.
 */
export function disputedVerdict(
  builtin: TriageResponse,
  model: TriageResponse,
  reason: string,
  modelName: string,
): TriageResponse {
  return {
    ...builtin,
    model_used: `builtin (disputed verdict of ${modelName})`,
    disputed: true,
    dispute: { reason, model: modelName, claims: modelClaims(model) },
  };
}
