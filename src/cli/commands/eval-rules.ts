import type { Command } from 'commander';
import { alertsPerRule, type RuleAlertReport } from '../../detect/rule-alerts.ts';
import { buildSigma } from '../../detect/sigma/index.ts';
import { formatIssue } from '../../detect/sigma/issues.ts';
import { AisocError } from '../../errors.ts';
import { SEVERITY_ORDER, type SeverityName } from '../../schema/common.ts';
import { SourceRegistry } from '../../sources/index.ts';
import { expandInputs } from '../../sources/inputs.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { action, commandConfig, say } from '../common.ts';

const n = (x: number) => x.toLocaleString('en-US');

/** The report as a Markdown table (what docs/sigma.md quotes), rules of the scanned sources only unless `all`. */
function markdown(report: RuleAlertReport, all: boolean): string {
  const scanned = new Set(Object.keys(report.events));
  const rows = report.rules.filter((r) => all || r.sources.some((s) => scanned.has(s)));
  const lines = ['| sources | rule | level | alerts | events cited |', '|---|---|---|---:|---:|'];
  for (const r of rows)
    lines.push(`| ${r.sources.join(', ')} | ${r.title} | ${r.level} | ${n(r.alerts)} | ${n(r.events)} |`);
  for (const [source, count] of Object.entries(report.upstream))
    lines.push(`| ${source} | (the product's own verdicts, upstream) | — | ${n(count)} | ${n(count)} |`);
  return `${lines.join('\n')}\n`;
}

/** `aisoc eval rules`: alerts per rule of the pack (and the upstream verdicts) on files. */
export function registerEvalRules(evalCommand: Command): void {
  evalCommand
    .command('rules')
    .description(
      'Alerts per rule on files: the built-in pack (plus --rules) and, unless --no-upstream, the products’ own verdicts, with every rule of the scanned sources listed (0 when it never fired); no server, no database',
    )
    .argument('<files...>', 'files, directories or glob patterns (.json, NDJSON, logs, .gz, .zip)')
    .option(
      '-r, --rules <dir>',
      'more rule files or directories (repeatable)',
      (v, prev: string[]) => [...prev, v],
      [],
    )
    .option('--no-builtin', 'do not load the built-in rule pack')
    .option('--no-sigmahq', 'do not load the SigmaHQ rules aisoc rules update installed')
    .option('--no-upstream', 'do not count the verdicts of the source products')
    .option('-s, --source <type>', 'source type of every file (default: detected per file)')
    .option(
      '--min-level <level>',
      'least level counted (default: detect.sigma.min_level for rules, detect.upstream_min_severity for verdicts, as serve)',
    )
    .option('--all', 'list every alerting rule, not only those of the sources scanned')
    .option('--format <format>', 'table, markdown or json', 'table')
    .action(
      action(
        async (
          files: string[],
          opts: {
            rules: string[];
            builtin: boolean;
            sigmahq: boolean;
            upstream: boolean;
            source?: string;
            minLevel?: string;
            all?: boolean;
            format: string;
          },
          cmd: Command,
        ) => {
          if (!['table', 'markdown', 'json'].includes(opts.format))
            throw new AisocError('AISOC_ERR_VALIDATION', '--format must be table, markdown or json', {
              field: 'format',
            });
          const config = commandConfig(cmd);
          const minLevel = (opts.minLevel ?? config.detect.sigma.min_level) as SeverityName;
          if (!SEVERITY_ORDER.includes(minLevel))
            throw new AisocError(
              'AISOC_ERR_VALIDATION',
              `--min-level must be one of ${SEVERITY_ORDER.join(', ')}`,
              { field: 'min-level' },
            );
          const sources = new SourceRegistry(config.sources, silentLogger());
          if (opts.source) sources.get(opts.source);
          const { ruleSet } = buildSigma(config.detect.sigma, {
            ruleDirs: opts.rules,
            builtin: opts.builtin,
            ...(opts.sigmahq ? { dataDir: config.data_dir } : {}),
          });
          for (const i of ruleSet.issues.filter((x) => x.kind !== 'warning').slice(0, 20))
            say(`rules: ${formatIssue(i)}`);
          const report = await alertsPerRule(await expandInputs(files), ruleSet, {
            sources,
            minLevel,
            upstream: opts.upstream,
            upstreamMinLevel: (opts.minLevel ?? config.detect.upstream_min_severity) as SeverityName,
            ...(opts.source ? { source: opts.source } : {}),
          });
          const scanned = new Set(Object.keys(report.events));
          if (opts.format === 'json') {
            process.stdout.write(`${JSON.stringify(report)}\n`);
          } else if (opts.format === 'markdown') {
            process.stdout.write(markdown(report, opts.all === true));
          } else {
            const rows = report.rules.filter((r) => opts.all || r.sources.some((s) => scanned.has(s)));
            process.stdout.write(
              `${'ALERTS'.padStart(7)}  ${'LEVEL'.padEnd(13)}  ${'SOURCES'.padEnd(18)}  RULE\n`,
            );
            for (const r of rows)
              process.stdout.write(
                `${n(r.alerts).padStart(7)}  ${r.level.padEnd(13)}  ${r.sources.join(',').padEnd(18)}  ${r.title}\n`,
              );
            for (const [source, count] of Object.entries(report.upstream))
              process.stdout.write(
                `${n(count).padStart(7)}  ${'-'.padEnd(13)}  ${source.padEnd(18)}  (the product's own verdicts, upstream)\n`,
              );
          }
          const total = report.rules.reduce((s, r) => s + r.alerts, 0);
          const fired = report.rules.filter((r) => r.alerts > 0).length;
          const considered = report.rules.filter((r) => r.sources.some((s) => scanned.has(s))).length;
          const upstream = Object.values(report.upstream).reduce((s, x) => s + x, 0);
          say(
            `Scanned ${n(report.files)} files (${n(report.documents)} documents) in ${report.seconds.toFixed(1)} s: ${Object.entries(
              report.events,
            )
              .map(([s, c]) => `${s} ${n(c)} events`)
              .join(', ')}; ${n(report.badRecords)} bad records, ${n(report.skippedCount)} inputs not read.`,
          );
          say(
            `${n(total)} alerts from ${fired} of the ${considered} rules that read these sources${opts.upstream ? `, and ${n(upstream)} upstream verdicts` : ''} (rules at ${minLevel} and above${opts.upstream ? `, verdicts at ${opts.minLevel ?? config.detect.upstream_min_severity} and above` : ''}).`,
          );
          const unread = [...scanned].filter((s) => !report.rules.some((r) => r.sources.includes(s)));
          if (unread.length) say(`No rule reads ${unread.join(', ')}.`);
        },
      ),
    );
}
