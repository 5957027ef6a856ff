import type { Command } from 'commander';
import { BUILTIN_RULES_DIR } from '../../detect/sigma/content.ts';
import { loadRuleSet } from '../../detect/sigma/index.ts';
import { runRegression } from '../../detect/sigma/regression.ts';
import { stratusCoverage } from '../../detect/sigma/stratus.ts';
import { AisocError } from '../../errors.ts';
import { SourceRegistry } from '../../sources/index.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { action, commandConfig, say } from '../common.ts';

/**
 * `aisoc eval sigma`: SigmaHQ regression cases; `aisoc eval stratus`: the
 * pack's Stratus Red Team claims checked on detonation logs.
 */
export function registerEvalSigma(evalCommand: Command): void {
  evalCommand
    .command('sigma')
    .description(
      'Run SigmaHQ regression cases (info.yml + events): a case passes only when its rule matches exactly match_count events; prints {"cases","passed","failed","exact","over","under","miss","errors","failures":[{rule_id,expected,got,outcome,reason}]}',
    )
    .requiredOption('--rules <dir...>', 'rule directories (several after one --rules, or --rules repeated)')
    .requiredOption('--regression <dir>', 'directory of regression cases')
    .option('--json', 'print only the JSON report')
    .action(
      action(async (opts: { rules: string[]; regression: string; json?: boolean }, cmd: Command) => {
        const config = commandConfig(cmd);
        const t0 = performance.now();
        const set = loadRuleSet(opts.rules, config.detect.sigma);
        const stats = set.stats();
        const sources = new SourceRegistry(config.sources, silentLogger());
        const report = runRegression(set, sources, opts.regression);
        const out = {
          cases: report.cases,
          passed: report.passed,
          failed: report.failed,
          exact: report.exact,
          over: report.over,
          under: report.under,
          miss: report.miss,
          errors: report.errors,
          failures: report.failures.map(({ rule_id, expected, got, outcome, reason, case: c }) => ({
            rule_id,
            expected,
            got,
            outcome,
            reason,
            case: c,
          })),
          skipped: report.skipped,
        };
        process.stdout.write(`${JSON.stringify(out, null, opts.json ? undefined : 2)}\n`);
        if (!opts.json) {
          say(
            `Rules: ${stats.files} files, ${stats.detection} detection rules loaded, ${stats.invalid} invalid, ${stats.unsupported} unsupported (${Math.round(performance.now() - t0)} ms with the run).`,
          );
          say(
            `Regression: ${report.passed}/${report.cases} cases match exactly; ${report.over} over-match, ${report.under} under-match, ${report.miss} miss, ${report.errors} could not run (over- and under-matches are failures); ${report.skipped.length} without tests.`,
          );
        }
        if (report.failed > 0) process.exitCode = 1;
      }),
    );

  evalCommand
    .command('stratus')
    .description(
      'Check that each Stratus Red Team technique the rule pack claims (aisoc.stratus) fires on its detonation log',
    )
    .requiredOption('--data <dir>', 'directory of detonation logs, one <technique-id>.json per technique')
    .option('--rules <dir...>', 'rule directories (default: the built-in pack)')
    .option('--json', 'print only the JSON report')
    .action(
      action(async (opts: { data: string; rules?: string[]; json?: boolean }, cmd: Command) => {
        const config = commandConfig(cmd);
        const set = loadRuleSet(opts.rules?.length ? opts.rules : [BUILTIN_RULES_DIR], config.detect.sigma);
        const errors = set.issues.filter((i) => i.kind !== 'warning');
        if (errors.length) {
          throw new AisocError(
            'AISOC_ERR_RULE_PARSE',
            `${errors.length} rules do not load; run aisoc rules lint`,
            {
              details: { first: errors[0] },
            },
          );
        }
        const sources = new SourceRegistry(config.sources, silentLogger());
        const report = stratusCoverage(set, sources, opts.data);
        if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else {
          for (const r of report.results) {
            const mark = r.claimed_by.length === 0 ? '  -  ' : r.covered ? ' ok  ' : 'MISS ';
            process.stdout.write(`${mark} ${r.technique.padEnd(62)} ${r.fired.join('; ')}\n`);
          }
          say(
            `Stratus: ${report.covered}/${report.claimed} claimed techniques fire (${report.techniques} detonations, ${report.unclaimed.length} not claimed).`,
          );
          say(
            'The rules were written against these detonation logs: this checks their claims, not detection of unseen attacks. False alarms on normal activity: node --import tsx scripts/eval/stratus.ts',
          );
        }
        if (report.missed.length > 0) process.exitCode = 1;
      }),
    );
}
