import { resolve } from 'node:path';
import type { Command } from 'commander';
import { BUILTIN_RULES_DIR } from '../../detect/sigma/content.ts';
import { loadRuleSet } from '../../detect/sigma/index.ts';
import { formatIssue, type SigmaIssue } from '../../detect/sigma/issues.ts';
import { packConventions } from '../../detect/sigma/lint.ts';
import { runSamples } from '../../detect/sigma/samples.ts';
import { SourceRegistry } from '../../sources/index.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { action, commandConfig, say } from '../common.ts';

function isPack(paths: readonly string[]): boolean {
  return paths.some((p) => resolve(p).startsWith(BUILTIN_RULES_DIR));
}

export function registerRules(program: Command): void {
  const rules = program.command('rules').description('Check and test Sigma rules');

  rules
    .command('lint')
    .description(
      'Check rule files and report every problem in one run (file:line: kind: message); the built-in pack is also held to its conventions (ids, ATT&CK tags, samples)',
    )
    .argument('[paths...]', 'rule files or directories', [BUILTIN_RULES_DIR])
    .option('--conventions', 'apply the pack conventions to these paths too')
    .option('--strict', 'fail on warnings too')
    .option('--json', 'print issues and counts as JSON')
    .action(
      action(
        async (
          paths: string[],
          opts: { conventions?: boolean; strict?: boolean; json?: boolean },
          cmd: Command,
        ) => {
          const config = commandConfig(cmd).detect.sigma;
          const set = loadRuleSet(paths, config);
          const issues: SigmaIssue[] = [...set.issues];
          if (opts.conventions || isPack(paths)) issues.push(...packConventions(set));
          issues.sort((a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0));
          const stats = set.stats();
          const errors = issues.filter((i) => i.kind !== 'warning').length;
          const warnings = issues.length - errors;
          if (opts.json) {
            process.stdout.write(`${JSON.stringify({ stats, errors, warnings, issues })}\n`);
          } else {
            for (const i of issues) process.stdout.write(`${formatIssue(i)}\n`);
            say(
              `${stats.files} files, ${stats.detection} detection rules, ${stats.correlation} correlations, ${stats.filter} filters loaded; ${stats.invalid} invalid, ${stats.unsupported} unsupported; ${errors} errors, ${warnings} warnings.`,
            );
          }
          if (errors > 0 || (opts.strict && warnings > 0)) process.exitCode = 1;
        },
      ),
    );

  rules
    .command('test')
    .description(
      'Run each rule against its match and no_match samples (<rule>.samples.yml) through the real source',
    )
    .argument('[paths...]', 'rule files or directories', [BUILTIN_RULES_DIR])
    .option('--json', 'print the results as JSON')
    .action(
      action(async (paths: string[], opts: { json?: boolean }, cmd: Command) => {
        const appConfig = commandConfig(cmd);
        const set = loadRuleSet(paths, appConfig.detect.sigma);
        const sources = new SourceRegistry(appConfig.sources, silentLogger());
        const { results, issues } = runSamples(set, sources);
        const loadErrors = [...set.issues, ...issues].filter((i) => i.kind !== 'warning');
        const failed = results.filter((r) => !r.ok);
        if (opts.json) {
          process.stdout.write(
            `${JSON.stringify({ cases: results.length, passed: results.length - failed.length, failed: failed.length, failures: failed, load_errors: loadErrors })}\n`,
          );
        } else {
          for (const e of loadErrors) process.stdout.write(`${formatIssue(e)}\n`);
          for (const f of failed) {
            process.stdout.write(
              `${f.file}:${f.line}: FAIL ${f.expect} "${f.case}" [${f.rules.join(', ')}]: ${f.detail}\n`,
            );
          }
          say(
            `${results.length} sample cases for ${new Set(results.map((r) => r.file)).size} rule files: ${results.length - failed.length} passed, ${failed.length} failed.`,
          );
        }
        if (failed.length > 0 || loadErrors.length > 0) process.exitCode = 1;
      }),
    );
}
