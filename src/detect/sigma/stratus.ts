import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AisocError } from '../../errors.ts';
import type { SourceRegistry } from '../../sources/index.ts';
import { replaySync } from '../replay.ts';
import { SigmaEngine } from './engine.ts';
import { sigmaReplayDetector } from './index.ts';
import type { CompiledCorrelation, CompiledRule, RuleSet } from './ruleset.ts';
import { firedOn } from './samples.ts';

/**
 * Coverage of Stratus Red Team techniques: rules of the pack claim the
 * techniques they detect (`aisoc: { stratus: [aws.defense-evasion.cloudtrail-stop] }`),
 * and each claim is checked on the technique's detonation log (one
 * CloudTrail file per technique, named after the technique id): at least
 * one claiming rule must fire on it.
 *
 * This checks claims; it does not measure detection. The pack's CloudTrail
 * rules were written against these very detonation logs, so coverage here
 * says each claim holds on the data it was made from — not how the rules do
 * on attacks they have not seen. Read it beside their false alarms on
 * normal activity ({@link alertsOnBenign}).
 */
export interface StratusTechniqueResult {
  technique: string;
  /** Rules that claim the technique. */
  claimed_by: string[];
  /** Pack rules that fired on the detonation (claiming or not). */
  fired: string[];
  covered: boolean;
}

export interface StratusReport {
  techniques: number;
  claimed: number;
  covered: number;
  missed: string[];
  /** Techniques no rule claims. */
  unclaimed: string[];
  results: StratusTechniqueResult[];
}

/** The Stratus technique ids a rule claims. */
export function stratusClaims(rule: CompiledRule | CompiledCorrelation): string[] {
  const custom = rule.doc.aisoc;
  if (typeof custom !== 'object' || custom === null) return [];
  const list = (custom as Record<string, unknown>).stratus;
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Check every claim of a rule set against a directory of detonation logs.
 *
 * @example
 * const report = stratusCoverage(ruleSet, sources, '../shared/data/cloudtrail/stratus-detonation');
 * report.missed // [] when every claim holds
 */
export function stratusCoverage(ruleSet: RuleSet, sources: SourceRegistry, dir: string): StratusReport {
  const claims = new Map<string, string[]>();
  for (const r of [...ruleSet.rules, ...ruleSet.correlations]) {
    for (const t of stratusClaims(r)) claims.set(t, [...(claims.get(t) ?? []), r.id]);
  }
  const titleOf = (id: string) => ruleSet.get(id)?.title ?? id;
  const results: StratusTechniqueResult[] = [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  for (const f of files) {
    const technique = basename(f, '.json');
    // A fresh engine per detonation, so no correlation window spans two of them. Detonation files
    // are not in time order; replay sorts each by time, as correlations need.
    const { fired, skipped } = firedOn([join(dir, f)], ruleSet, { sources, source: 'cloudtrail' });
    if (skipped !== undefined)
      throw new AisocError('AISOC_ERR_VALIDATION', `${f} cannot be read: ${skipped}`, { field: f });
    const claimedBy = claims.get(technique) ?? [];
    results.push({
      technique,
      claimed_by: claimedBy.map(titleOf),
      fired: [...fired]
        .filter((id) => ruleSet.get(id))
        .map(titleOf)
        .sort(),
      covered: claimedBy.some((id) => fired.has(id)),
    });
  }
  const claimed = results.filter((r) => r.claimed_by.length > 0);
  const missedClaims = [...claims.keys()].filter((t) => !results.some((r) => r.technique === t));
  return {
    techniques: results.length,
    claimed: claimed.length,
    covered: claimed.filter((r) => r.covered).length,
    missed: [
      ...claimed.filter((r) => !r.covered).map((r) => r.technique),
      ...missedClaims.map((t) => `${t} (no detonation file)`),
    ],
    unclaimed: results.filter((r) => r.claimed_by.length === 0).map((r) => r.technique),
    results,
  };
}

export interface BenignAlertReport {
  /** Records offered, and the events they normalised to. */
  records: number;
  events: number;
  /** Alerts the rule set raised (detection and correlation rules, every level). */
  alerts: number;
  /** Events at least one alert cites. */
  alerted_events: number;
  /** Alerts per rule title, most first. */
  by_rule: Array<{ rule: string; alerts: number }>;
}

/**
 * The alerts a rule set raises on records the caller declares benign: its
 * false alarms there. Coverage on detonation logs says a claimed rule fires;
 * this says what the same rules cost on normal activity.
 *
 * @example
 * const fa = alertsOnBenign(ruleSet, sources, benignRecords);
 * fa.alerts // false alarms
 */
export function alertsOnBenign(
  ruleSet: RuleSet,
  sources: SourceRegistry,
  records: readonly unknown[],
): BenignAlertReport {
  const engine = new SigmaEngine(ruleSet);
  const run = replaySync([{ name: 'benign records', source: 'cloudtrail', records }], {
    sources,
    detectors: [sigmaReplayDetector(engine)],
  });
  const cited = new Set<string>();
  const byRule = new Map<string, number>();
  let alerts = 0;
  for (const item of run) {
    if (item.kind !== 'alert') continue;
    alerts++;
    for (const e of item.alert.events) cited.add(e.id);
    byRule.set(item.alert.rule.title, (byRule.get(item.alert.rule.title) ?? 0) + 1);
  }
  return {
    records: records.length,
    events: run.counts.events,
    alerts,
    alerted_events: cited.size,
    by_rule: [...byRule]
      .map(([rule, alerts]) => ({ rule, alerts }))
      .sort((a, b) => b.alerts - a.alerts || a.rule.localeCompare(b.rule)),
  };
}
