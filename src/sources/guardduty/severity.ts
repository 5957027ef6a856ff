import type { SeverityName } from '../../schema/common.ts';
import { ParseError } from '../fields.ts';

/**
 * GuardDuty's numeric severity onto the product's scale, by the bands AWS
 * documents ("Severity levels for GuardDuty findings"): low 1.0–3.9, medium
 * 4.0–6.9, high 7.0–8.9, critical 9.0–10.0. The bands are applied as
 * thresholds so a value between two bands (3.95) falls into the lower one,
 * and values under 1.0, which the API allows (0.1–10) but no band covers,
 * count as low: GuardDuty only emits a finding when it judged something
 * suspicious, so none is merely informational.
 *
 * @example guardDutySeverity(8) // 'high'
 */
export function guardDutySeverity(value: number, field = 'severity'): SeverityName {
  if (!Number.isFinite(value) || value < 0 || value > 10) {
    throw new ParseError(`${field} must be a number from 0 to 10, got ${value}`, field);
  }
  if (value >= 9) return 'critical';
  if (value >= 7) return 'high';
  if (value >= 4) return 'medium';
  return 'low';
}
