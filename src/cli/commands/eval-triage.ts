import type { Command } from 'commander';
import { readTriageCases, scoreTriage } from '../../analyst/eval.ts';
import { AisocError } from '../../errors.ts';
import { openRuntime } from '../../runtime.ts';
import { action, commandConfig, progress, say } from '../common.ts';

/**
 * `aisoc eval triage`: score the configured analyst on any labelled alerts.
 * Labelled sets built from public data sets live in evaluation scripts
 * (scripts/eval/), not in the product, which knows no test data set.
 */
export function registerEvalTriage(evalCommand: Command): void {
  evalCommand
    .command('triage')
    .description(
      'Triage each labelled alert with the configured analyst and print {"n","accuracy","precision","recall","f1","technique_hit_rate","severity_agreement"} — agreement with the labels the file carries, whatever made them',
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
}
