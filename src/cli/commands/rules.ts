import { resolve } from 'node:path';
import type { Command } from 'commander';
import { BUILTIN_RULES_DIR } from '../../detect/sigma/content.ts';
import { loadRuleSet } from '../../detect/sigma/index.ts';
import { formatIssue, type SigmaIssue } from '../../detect/sigma/issues.ts';
import { packConventions } from '../../detect/sigma/lint.ts';
import { runSamples } from '../../detect/sigma/samples.ts';
import { installedRulesDir, updateSigmaHq } from '../../detect/sigma/update.ts';
import { SourceRegistry } from '../../sources/index.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { action, commandConfig, say } from '../common.ts';

function isPack(paths: readonly string[]): boolean {
  return paths.some((p) => resolve(p).startsWith(BUILTIN_RULES_DIR));
}

export function registerRules(program: Command): void {
  const rules = program
    .command('rules')
    .description('Check and test Sigma rules; fetch and enable the SigmaHQ release');

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

  rules
    .command('update')
    .description(
      'Fetch the SigmaHQ release (detect.sigma.sigmahq.url, or --from: an https:// or file:// URL or a path, to a release zip or a rule tree), verify it against a pinned SHA-256 or a checksum file, and install the rules of the enabled statuses and levels under <data_dir>/sigmahq/rules, which serve and detect load',
    )
    .option('--from <url-or-path>', 'the release to fetch instead of detect.sigma.sigmahq.url')
    .option('--sha256 <hex>', 'the SHA-256 it must have (of a tree: its tree digest)')
    .option(
      '--checksum <url-or-path>',
      'a checksum file ("<sha256>  <file>" lines) to verify the zip against',
    )
    .option('--allow-unverified', 'install a release nothing verifies (a mismatch is refused all the same)')
    .option('--status <list>', 'statuses enabled, comma-separated (default detect.sigma.sigmahq.statuses)')
    .option('--min-level <level>', 'least level enabled (default detect.sigma.sigmahq.min_level)')
    .option('--json', 'print the manifest as JSON')
    .action(
      action(
        async (
          opts: {
            from?: string;
            sha256?: string;
            checksum?: string;
            allowUnverified?: boolean;
            status?: string;
            minLevel?: string;
            json?: boolean;
          },
          cmd: Command,
        ) => {
          const overrides: Record<string, unknown> = {};
          if (opts.status) overrides.statuses = opts.status.split(',').map((x) => x.trim());
          if (opts.minLevel) overrides.min_level = opts.minLevel;
          const appConfig = commandConfig(cmd, { detect: { sigma: { sigmahq: overrides } } });
          const manifest = await updateSigmaHq({
            dataDir: appConfig.data_dir,
            config: appConfig.detect.sigma.sigmahq,
            ...(opts.from ? { from: opts.from } : {}),
            ...(opts.sha256 ? { sha256: opts.sha256 } : {}),
            ...(opts.checksum ? { checksum: opts.checksum } : {}),
            ...(opts.allowUnverified ? { allowUnverified: true } : {}),
          });
          // Load what was installed, as serve will, to report what runs.
          const set = loadRuleSet([installedRulesDir(appConfig.data_dir)], appConfig.detect.sigma);
          const stats = set.stats();
          if (opts.json) {
            process.stdout.write(`${JSON.stringify({ ...manifest, loaded: stats })}\n`);
            return;
          }
          const out = manifest.left_out;
          say(
            `${manifest.verified_by === 'unverified' ? 'Installed WITHOUT verification' : `Verified (${manifest.verified_by === 'sha256' ? 'pinned SHA-256' : 'checksum file'})`} ${manifest.source}: SHA-256 ${manifest.sha256}.`,
          );
          say(
            `Enabled ${manifest.files_enabled} of ${manifest.files_seen} rule files (${manifest.rules_enabled} rules; ${manifest.statuses.join(', ')}; level ${manifest.min_level} and above) in ${installedRulesDir(appConfig.data_dir)}. Left out: ${out.status} by status, ${out.level} by level, ${out.deprecated} deprecated, ${out.unreadable} unreadable.`,
          );
          say(
            `They load as ${stats.detection} detection rules and ${stats.correlation} correlations (${stats.runnable} run on our sources; ${stats.invalid} invalid, ${stats.unsupported} unsupported). Restart serve to use them${appConfig.detect.sigma.sigmahq.load ? '' : ' (detect.sigma.sigmahq.load is false: they are not loaded)'}.`,
          );
        },
      ),
    );
}
