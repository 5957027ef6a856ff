import { appendFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { labelCloudTrailFiles } from '../../detect/ml/label.ts';
import { AisocError } from '../../errors.ts';
import { action, say } from '../common.ts';

interface LabelOptions {
  out: string;
  attack?: boolean;
  append?: boolean;
  labeller: string;
}

/**
 * `aisoc label cloudtrail FILE… --out FILE.jsonl`: one JSON line per record,
 * `{label, labeller, reason, source_file, record}`.
 */
export function registerLabel(program: Command): void {
  const label = program
    .command('label')
    .description('Label records for training, recording which labeller decided');
  label
    .command('cloudtrail')
    .description('Label CloudTrail records attack/benign (heuristics; the analyst once one is configured)')
    .argument('<files...>', 'CloudTrail files or directories ({"Records": […]}, arrays, NDJSON, .gz, .zip)')
    .requiredOption('--out <file>', 'JSON lines to write')
    .option('--attack', 'the files are attack detonation logs: label every record attack')
    .option('--append', 'append to --out instead of replacing it')
    .option(
      '--labeller <name>',
      'heuristic (the only labeller until the LLM analyst is configured)',
      'heuristic',
    )
    .action(
      action(async (files: string[], opts: LabelOptions) => {
        if (opts.labeller !== 'heuristic')
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            `--labeller ${opts.labeller} is not available; this build labels with heuristics only.`,
            { field: 'labeller' },
          );
        const r = await labelCloudTrailFiles(files, { declaredAttack: opts.attack === true });
        const text = r.lines.length ? `${r.lines.join('\n')}\n` : '';
        if (opts.append) appendFileSync(opts.out, text);
        else writeFileSync(opts.out, text);
        for (const u of r.unreadable) say(`skipped ${u.file}: ${u.reason}`);
        for (const [k, n] of Object.entries(r.counts).sort()) say(`  ${String(n).padStart(6)}  ${k}`);
        say(
          `Wrote ${opts.out}${r.unreadable.length ? ` (${r.unreadable.length} unreadable documents skipped)` : ''}.`,
        );
      }),
    );
}
