import type { Detection } from '../schema/alert.ts';
import { type SeverityName, severityRank } from '../schema/common.ts';

/** Points each severity contributes to priority. */
export const SEVERITY_POINTS: Record<SeverityName, number> = {
  informational: 5,
  low: 20,
  medium: 45,
  high: 70,
  critical: 85,
};

/** The highest level among detections. */
export function maxLevel(detections: Detection[]): SeverityName {
  let best: SeverityName = 'informational';
  for (const d of detections) if (severityRank(d.level) > severityRank(best)) best = d.level;
  return best;
}

/**
 * Detection priority, 0–100, before enrichment: the points of the highest
 * level, ±5 for confidence away from 0.5, +5 per further distinct rule (at
 * most +10). The analyst stage refines it with ML, assets, tactics,
 * correlation and its verdict.
 */
export function detectionPriority(detections: Detection[]): number {
  const level = maxLevel(detections);
  let p = SEVERITY_POINTS[level];
  const confidences = detections.map((d) => d.confidence).filter((c): c is number => c !== undefined);
  if (confidences.length) p += (Math.max(...confidences) - 0.5) * 10;
  const rules = new Set(detections.map((d) => d.rule_id));
  p += Math.min(10, 5 * (rules.size - 1));
  return Math.round(Math.max(0, Math.min(100, p)) * 10) / 10;
}
