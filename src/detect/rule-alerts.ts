import { type SeverityName, severityRank } from '../schema/common.ts';
import type { SourceRegistry } from '../sources/index.ts';
import { type ReplayDetector, type ReplayInput, replay } from './replay.ts';
import { ruleSources } from './sigma/catalogue.ts';
import { SigmaEngine, type SigmaMatch, sigmaReplayDetector } from './sigma/index.ts';
import type { RuleSet } from './sigma/ruleset.ts';
import type { AlertCandidate } from './types.ts';
import { upstreamDetector } from './upstream.ts';

/** One alerting rule and the alerts it raised. */
export interface RuleAlertCount {
  id: string;
  title: string;
  level: SeverityName;
  kind: 'detection' | 'correlation';
  /** Source types whose events it reads. */
  sources: string[];
  alerts: number;
  /** Events its alerts cite (a correlation's alert cites several). */
  events: number;
}

/** What {@link alertsPerRule} found. */
export interface RuleAlertReport {
  files: number;
  documents: number;
  /** Events read, per source type. */
  events: Record<string, number>;
  badRecords: number;
  /** Inputs not read, with the reason (first 20). */
  skipped: Array<{ file: string; reason: string }>;
  skippedCount: number;
  /** Every rule that alerts on its own (detection rules that generate, correlations no other correlation counts), reading a scanned source or not. */
  rules: RuleAlertCount[];
  /** Alerts of the upstream detector (the products' own verdicts), per source type; empty when it did not run. */
  upstream: Record<string, number>;
  seconds: number;
}

/**
 * Replay files through a rule set (Sigma, correlations judged at the end of
 * each document and of the input, as `aisoc detect` does) and, with
 * `upstream`, the products' own verdicts, and count the alerts per rule at
 * or above `minLevel`. Every alerting rule is listed, with 0 when it raised
 * nothing, so a rule that never fires shows.
 *
 * @example
 * const report = await alertsPerRule(['../shared/data/zeek'], ruleSet, { sources });
 * report.rules.filter((r) => r.alerts > 0)
 */
export async function alertsPerRule(
  inputs: readonly ReplayInput[],
  ruleSet: RuleSet,
  options: {
    sources: SourceRegistry;
    minLevel?: SeverityName;
    upstream?: boolean;
    /** Least severity of an upstream verdict counted (default: minLevel), as `detect.upstream_min_severity` in the pipeline. */
    upstreamMinLevel?: SeverityName;
    source?: string;
  },
): Promise<RuleAlertReport> {
  const t0 = performance.now();
  const min = severityRank(options.minLevel ?? 'low');
  const sourcesOf = ruleSources(ruleSet);
  const counts = new Map<string, RuleAlertCount>();
  // A detection rule alerts when it generates; a correlation, unless it is a step another one counts.
  const steps = new Set(ruleSet.correlations.flatMap((c) => c.rules.map((ref) => ruleSet.get(ref)?.id)));
  for (const r of [...ruleSet.rules, ...ruleSet.correlations]) {
    if (r.kind === 'detection' ? !r.generate : steps.has(r.id)) continue;
    counts.set(r.id, {
      id: r.id,
      title: r.title,
      level: r.level,
      kind: r.kind,
      sources: [...(sourcesOf.get(r.id) ?? [])].sort(),
      alerts: 0,
      events: 0,
    });
  }
  const detectors: ReplayDetector<SigmaMatch | AlertCandidate>[] = [
    sigmaReplayDetector(new SigmaEngine(ruleSet), { expireEachDocument: true }),
  ];
  if (options.upstream)
    detectors.push(upstreamDetector({ minSeverity: options.upstreamMinLevel ?? options.minLevel ?? 'low' }));
  const report: RuleAlertReport = {
    files: 0,
    documents: 0,
    events: {},
    badRecords: 0,
    skipped: [],
    skippedCount: 0,
    rules: [],
    upstream: {},
    seconds: 0,
  };
  const run = replay(inputs, {
    sources: options.sources,
    detectors,
    ...(options.source ? { source: options.source } : {}),
  });
  for await (const item of run) {
    if (item.kind === 'document') {
      report.events[item.source] = (report.events[item.source] ?? 0) + item.normalised;
    } else if (item.kind === 'skipped') {
      report.skippedCount++;
      if (report.skipped.length < 20) report.skipped.push({ file: item.file, reason: item.reason });
    } else if (item.kind === 'alert') {
      const a = item.alert;
      if ('detection' in a) {
        const source = a.events[0]?.source ?? 'unknown';
        report.upstream[source] = (report.upstream[source] ?? 0) + 1;
        continue;
      }
      if (severityRank(a.rule.level) < min) continue;
      const c = counts.get(a.rule.id);
      if (!c) continue;
      c.alerts++;
      c.events += a.events.length;
    }
  }
  report.files = run.counts.files;
  report.documents = run.counts.documents;
  report.badRecords = run.counts.deadLetters;
  report.rules = [...counts.values()].sort(
    (a, b) =>
      (a.sources[0] ?? '').localeCompare(b.sources[0] ?? '') ||
      b.alerts - a.alerts ||
      a.title.localeCompare(b.title),
  );
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}
