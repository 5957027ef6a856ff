import type { Detector } from './types.ts';

/** What detects on one source's events. */
export interface SourceCoverage {
  type: string;
  /** Rules of ours that read its events (Sigma rules and correlations, inputs of correlations included). */
  rules: number;
  /** Which of its records carry the product's own verdict (passed through by the upstream detector), when any. */
  verdicts?: string;
}

/**
 * Rules per source, from the rules the detectors list (`Detector.rules`,
 * each naming the sources it reads) and the sources' own verdicts. A source
 * with no rule and no verdict of its own raises no alert: its events are
 * stored and searchable, nothing more. ML models name no source and are not
 * counted.
 *
 * @example
 * sourceCoverage(runtime.detectors, runtime.sources.describe()).filter((s) => s.rules === 0 && !s.verdicts)
 */
export function sourceCoverage(
  detectors: readonly Detector[],
  sources: ReadonlyArray<{ type: string; verdicts?: string }>,
): SourceCoverage[] {
  const counts = new Map<string, number>();
  for (const d of detectors)
    for (const r of d.rules?.() ?? [])
      for (const s of r.sources ?? []) counts.set(s, (counts.get(s) ?? 0) + 1);
  return sources.map((s) => ({
    type: s.type,
    rules: counts.get(s.type) ?? 0,
    ...(s.verdicts ? { verdicts: s.verdicts } : {}),
  }));
}

/**
 * The start-up sentences about coverage: rules per source, and the sources
 * nothing detects on (`warn`) or only their product's verdicts do.
 *
 * @example for (const line of coverageLines(cov)) logger[line.level](line.fields, line.msg);
 */
export function coverageLines(
  coverage: readonly SourceCoverage[],
): Array<{ level: 'info' | 'warn'; fields: Record<string, unknown>; msg: string }> {
  const out: Array<{ level: 'info' | 'warn'; fields: Record<string, unknown>; msg: string }> = [];
  const per = Object.fromEntries(coverage.map((c) => [c.type, c.rules]));
  const covered = coverage.filter((c) => c.rules > 0).map((c) => `${c.type} ${c.rules}`);
  out.push({
    level: 'info',
    fields: { rules_per_source: per },
    msg: `Detection rules per source: ${covered.length ? covered.join(', ') : 'none'}.`,
  });
  const verdictsOnly = coverage.filter((c) => c.rules === 0 && c.verdicts).map((c) => c.type);
  if (verdictsOnly.length > 0) {
    out.push({
      level: 'info',
      fields: { sources: verdictsOnly },
      msg: `No rule of ours reads ${verdictsOnly.join(', ')}: they alert only on their product's own verdicts.`,
    });
  }
  const none = coverage.filter((c) => c.rules === 0 && !c.verdicts).map((c) => c.type);
  if (none.length > 0) {
    out.push({
      level: 'warn',
      fields: { sources: none },
      msg: `No detection rule reads ${none.join(', ')}: their events are stored but raise no alert (add rules with detect.sigma.rule_dirs or aisoc rules update).`,
    });
  }
  return out;
}
