import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { buildTriageDevSet } from '../../analyst/devset.ts';
import { readTriageCases, scoreTriage } from '../../analyst/eval.ts';
import { AisocError } from '../../errors.ts';
import { openRuntime } from '../../runtime.ts';
import { SourceRegistry } from '../../sources/index.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { action, commandConfig, progress, say } from '../common.ts';

const DEFAULT_SHARED = resolve(dirname(new URL(import.meta.url).pathname), '../../../../shared/data');

/** `aisoc eval triage` and `aisoc eval triage-devset`. */
export function registerEvalTriage(evalCommand: Command): void {
  evalCommand
    .command('triage')
    .description(
      'Triage each labelled alert with the configured analyst and print {"n","accuracy","precision","recall","f1","technique_hit_rate","severity_agreement"}',
    )
    .requiredOption(
      '--data <file>',
      'JSONL: {"alert": <SecurityAlert>, "label": {"is_true_positive", "severity"?, "techniques"?}}',
    )
    .option('--limit <n>', 'only the first n cases', (v) => Number.parseInt(v, 10))
    .option('--json', 'print only the JSON report')
    .action(
      action(async (opts: { data: string; limit?: number; json?: boolean }, cmd: Command) => {
        const config = commandConfig(cmd, { log_level: 'silent' });
        let cases = readTriageCases(opts.data);
        if (opts.limit) cases = cases.slice(0, opts.limit);
        const rt = await openRuntime(config, { inMemory: true, response: true });
        try {
          // Retrieval and the technique mapper need the knowledge base loaded.
          await rt.knowledge
            .ready()
            .catch((err) => say(`Evaluating without the knowledge base: ${(err as Error).message}`));
          const analyst = rt.response?.analyst;
          if (!analyst)
            throw new AisocError('AISOC_ERR_CONFIG', 'The analyst is not available in this runtime', {
              field: 'analyst',
            });
          const bar = progress(!opts.json && process.stderr.isTTY === true);
          const verdicts = [];
          for (const [i, c] of cases.entries()) {
            const out = await analyst.analyzeSecurityAlert(c.alert, { store: false });
            verdicts.push({ response: out.response, fallback: Boolean(out.fallback_reason) });
            bar.update(`${i + 1}/${cases.length} alerts triaged`);
          }
          bar.done();
          const scores = scoreTriage(cases, verdicts);
          const report = { ...scores, analyst: analyst.backendName, data: opts.data };
          if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
          else process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        } finally {
          await rt.close();
        }
      }),
    );

  evalCommand
    .command('triage-devset')
    .description(
      'Build the triage development set from ../shared/data (Wazuh rule tests, Stratus and Invictus CloudTrail, Suricata alerts)',
    )
    .option('--shared <dir>', 'the shared data directory', process.env.AISOC_SHARED_DATA ?? DEFAULT_SHARED)
    .option('--out <file>', 'where to write the JSONL', join('.aisoc', 'devsets', 'triage-dev.jsonl'))
    .action(
      action(async (opts: { shared: string; out: string }, cmd: Command) => {
        const config = commandConfig(cmd, { log_level: 'silent' });
        const rt = await openRuntime(config, { inMemory: true });
        try {
          const sources = new SourceRegistry(config.sources, silentLogger());
          const cases = buildTriageDevSet(
            opts.shared,
            sources,
            rt.detectors.filter((d) => d.name !== 'upstream'),
          );
          if (cases.length === 0)
            throw new AisocError('AISOC_ERR_VALIDATION', `No data found under ${opts.shared}`, {
              field: 'shared',
            });
          mkdirSync(dirname(opts.out), { recursive: true });
          writeFileSync(opts.out, `${cases.map((c) => JSON.stringify(c)).join('\n')}\n`);
          const by: Record<string, { n: number; true_positives: number }> = {};
          for (const c of cases) {
            const key = c.origin ?? 'other';
            const o = by[key] ?? { n: 0, true_positives: 0 };
            by[key] = o;
            o.n++;
            if (c.label.is_true_positive) o.true_positives++;
          }
          say(`Wrote ${cases.length} cases to ${opts.out}`);
          process.stdout.write(`${JSON.stringify({ n: cases.length, by_origin: by, out: opts.out })}\n`);
        } finally {
          await rt.close();
        }
      }),
    );
}
