import type { SeverityName } from '../../schema/common.ts';
import { type Obj, optNum, optStr, ParseError } from '../fields.ts';

const LABELS: Record<string, SeverityName> = {
  INFORMATIONAL: 'informational',
  LOW: 'low',
  MEDIUM: 'medium',
  HIGH: 'high',
  CRITICAL: 'critical',
};

/**
 * `Severity.Normalized` (0–100) onto the product's scale, by the bands
 * Security Hub itself uses to fill `Label` when a provider sends only
 * `Normalized`: 0 informational, 1–39 low, 40–69 medium, 70–89 high,
 * 90–100 critical.
 *
 * @example severityFromNormalized(75) // 'high'
 */
export function severityFromNormalized(n: number): SeverityName {
  if (n >= 90) return 'critical';
  if (n >= 70) return 'high';
  if (n >= 40) return 'medium';
  if (n >= 1) return 'low';
  return 'informational';
}

/**
 * The severity of an ASFF finding: `Severity.Label` (the current value, which
 * analysts may have changed with BatchUpdateFindings), else
 * `Severity.Normalized`. The native number (`Product`, else a numeric
 * `Original`, else `Normalized`) is kept as the level.
 */
export function asffSeverity(severity: Obj | undefined): { severity: SeverityName; level?: number } {
  if (!severity) throw new ParseError('Severity is required', 'Severity');
  const label = optStr(severity, 'Label', 'Severity.Label');
  const normalized = optNum(severity, 'Normalized', 'Severity.Normalized');
  if (normalized !== undefined && (normalized < 0 || normalized > 100)) {
    throw new ParseError(`Severity.Normalized must be 0–100, got ${normalized}`, 'Severity.Normalized');
  }
  const product = optNum(severity, 'Product', 'Severity.Product');
  const original = severity.Original;
  const originalNumber =
    typeof original === 'number'
      ? original
      : typeof original === 'string' && original.trim() !== '' && Number.isFinite(Number(original))
        ? Number(original)
        : undefined;
  const level = product ?? (Number.isFinite(originalNumber) ? originalNumber : undefined) ?? normalized;
  if (label !== undefined) {
    const mapped = LABELS[label.toUpperCase()];
    if (!mapped) {
      throw new ParseError(
        `Severity.Label must be INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL, got ${JSON.stringify(label.slice(0, 40))}`,
        'Severity.Label',
      );
    }
    return { severity: mapped, level };
  }
  if (normalized !== undefined) return { severity: severityFromNormalized(normalized), level };
  throw new ParseError('Severity.Label or Severity.Normalized is required', 'Severity.Label');
}
