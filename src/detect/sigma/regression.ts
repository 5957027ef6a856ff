import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describeError } from '../../errors.ts';
import type { SourceRegistry } from '../../sources/index.ts';
import { splitJsonValues } from '../../sources/json-values.ts';
import { type ReplayDetector, replaySync } from '../replay.ts';
import { SigmaEngine } from './engine.ts';
import type { CompiledRule, RuleSet } from './ruleset.ts';

/**
 * SigmaHQ regression cases: each `info.yml` names a rule and, per test, the
 * number of matches expected on the events recorded beside it (the EVTX
 * converted to JSON, one or more JSON objects). Events are read through the
 * product's own source (the same normaliser ingestion uses), then offered
 * to the engine. `match_count` (1 when omitted) is the exact number of
 * matches expected: a rule that matches more events than the case says is
 * a failure (`over`), as is one that matches fewer (`under`) or none
 * (`miss`). Counting over-matches as passes would hide a rule — or an
 * engine — that fires on events it should not.
 */
const InfoDoc = z.looseObject({
  id: z.string().optional(),
  rule_metadata: z.array(z.looseObject({ id: z.string(), title: z.string().optional() })).min(1),
  regression_tests_info: z
    .array(
      z.looseObject({
        name: z.string().optional(),
        type: z.string(),
        provider: z.string().optional(),
        match_count: z.number().int().min(0).optional(),
        path: z.string(),
      }),
    )
    .optional(),
});

/** How a case ended: the rule matched exactly, more, fewer (but some), none, or the case could not run. */
export type RegressionOutcome = 'exact' | 'over' | 'under' | 'miss' | 'error';

export interface RegressionFailure {
  rule_id: string;
  expected: number;
  got: number | null;
  outcome: Exclude<RegressionOutcome, 'exact'>;
  reason: string;
  case: string;
}

export interface RegressionReport {
  cases: number;
  /** Cases whose rule matched exactly match_count events (the only passes). */
  passed: number;
  failed: number;
  exact: number;
  /** More matches than match_count: failures. */
  over: number;
  /** Fewer matches than match_count, but at least one. */
  under: number;
  /** No match where match_count expected some. */
  miss: number;
  /** Cases that could not run (unreadable info.yml, rule not loaded, events missing or unreadable). */
  errors: number;
  /** info.yml files without a (non-commented) regression_tests_info: nothing to run. */
  skipped: Array<{ case: string; reason: string }>;
  failures: RegressionFailure[];
}

/** Every info.yml under a directory. */
export function findInfoFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name === 'info.yml' || name === 'info.yaml') out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Source type for a regression test type (`evtx` is Windows event logs). */
function sourceFor(type: string): string {
  return type.toLowerCase() === 'evtx' ? 'windows' : type.toLowerCase();
}

/**
 * Run every regression case under `dir` against the rules of `ruleSet`.
 *
 * @example
 * const report = runRegression(ruleSet, sources, '../shared/data/sigma/regression');
 * report.failed === 0
 */
export function runRegression(ruleSet: RuleSet, sources: SourceRegistry, dir: string): RegressionReport {
  const report: RegressionReport = {
    cases: 0,
    passed: 0,
    failed: 0,
    exact: 0,
    over: 0,
    under: 0,
    miss: 0,
    errors: 0,
    skipped: [],
    failures: [],
  };
  const engine = new SigmaEngine(ruleSet);
  // Each event's matching rules, as they are: no alerting, no correlation (a case counts its rule's matches).
  const matches: ReplayDetector<CompiledRule> = {
    name: 'sigma',
    detect(events) {
      const out: CompiledRule[] = [];
      for (const e of events) engine.matchEvent(e, (r) => out.push(r));
      return out;
    },
  };
  const loadProblems = new Map<string, string>();
  for (const i of ruleSet.issues)
    if (i.kind !== 'warning' && i.rule) loadProblems.set(i.rule, `${i.kind}: ${i.message}`);
  for (const infoFile of findInfoFiles(dir)) {
    const caseDir = dirname(infoFile);
    const caseName = caseDir.slice(dir.length).replace(/^\/+/, '') || basename(caseDir);
    let info: z.infer<typeof InfoDoc>;
    try {
      const parsed = InfoDoc.safeParse(parseYaml(readFileSync(infoFile, 'utf8')));
      if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'invalid');
      info = parsed.data;
    } catch (err) {
      report.cases++;
      report.failed++;
      report.errors++;
      report.failures.push({
        rule_id: '',
        expected: 0,
        got: null,
        outcome: 'error',
        reason: `info.yml: ${describeError(err)}`,
        case: caseName,
      });
      continue;
    }
    const ruleId = info.rule_metadata[0]!.id;
    const tests = info.regression_tests_info ?? [];
    if (tests.length === 0) {
      report.skipped.push({ case: caseName, reason: 'info.yml has no regression_tests_info' });
      continue;
    }
    for (const t of tests) {
      report.cases++;
      const expected = t.match_count ?? 1;
      const fail = (
        reason: string,
        got: number | null = null,
        outcome: RegressionFailure['outcome'] = 'error',
      ) => {
        report.failed++;
        report[outcome === 'error' ? 'errors' : outcome]++;
        report.failures.push({ rule_id: ruleId, expected, got, outcome, reason, case: caseName });
      };
      const rule = ruleSet.get(ruleId);
      if (rule?.kind !== 'detection') {
        fail(
          loadProblems.get(ruleId) ??
            'no rule with this id was loaded (give the rule directories with --rules)',
        );
        continue;
      }
      const stem = basename(t.path).replace(/\.[^.]+$/, '');
      const eventsFile = [
        join(caseDir, `${stem}.json`),
        ...readdirSync(caseDir)
          .filter((f) => f.endsWith('.json'))
          .map((f) => join(caseDir, f)),
      ].find(existsSync);
      if (!eventsFile) {
        fail(`no events file ${stem}.json beside info.yml`);
        continue;
      }
      const values = splitJsonValues(readFileSync(eventsFile, 'utf8'));
      if (!values) {
        fail(`${basename(eventsFile)} is not JSON`);
        continue;
      }
      const sourceType = sourceFor(t.type);
      if (!sources.has(sourceType)) {
        fail(`no ${sourceType} source is registered to read ${t.type} events`);
        continue;
      }
      let got = 0;
      let unreadable: string | undefined;
      for (const item of replaySync([{ name: eventsFile, source: sourceType, records: values }], {
        sources,
        detectors: [matches],
        order: 'input',
      })) {
        if (item.kind === 'document' && item.errors.length > 0) {
          unreadable = item.errors[0]!.message;
          break;
        }
        if (item.kind === 'alert' && item.alert === rule) got++;
      }
      if (unreadable !== undefined) {
        fail(`events do not normalise: ${unreadable}`);
        continue;
      }
      if (got > expected) {
        fail(`${got} matches where the case expects ${expected}`, got, 'over');
        continue;
      }
      if (got < expected) {
        fail(
          got === 0 ? 'no match' : `${got} matches where the case expects ${expected}`,
          got,
          got === 0 ? 'miss' : 'under',
        );
        continue;
      }
      report.passed++;
      report.exact++;
    }
  }
  return report;
}
