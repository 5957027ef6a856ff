import type { Command } from 'commander';
import { AisocError } from '../../errors.ts';
import { readAttackBundle } from '../../knowledge/attack/load.ts';
import { resolveAttackPath } from '../../knowledge/attack/source.ts';
import type { LabelledText } from '../../knowledge/mapper/corpus.ts';
import { readLabelled } from '../../knowledge/mapper/datasets.ts';
import { type EvalSplit, evaluateMapping } from '../../knowledge/mapper/evaluate.ts';
import { action, commandConfig, say } from '../common.ts';

interface Options {
  data: string;
  json?: boolean;
  attack?: string;
  train: string[];
  split: EvalSplit;
  tune?: boolean;
  threshold?: number;
}

/**
 * `aisoc eval attack-mapping`: measure the text→technique mapper on labelled
 * text ({"text", "labels"} per line).
 */
export function registerEvalAttackMapping(evalCommand: Command): void {
  evalCommand
    .command('attack-mapping')
    .description(
      'Map each labelled text to ATT&CK techniques and print {"n","top1","recall_at_5","micro_f1","macro_f1","parent":{…}}',
    )
    .requiredOption(
      '--data <file>',
      'JSONL {"text", "labels": ["T1059.001", …], "doc"?} (or a JSON array; TRAM2 and converted AnnoCTR files read as they are)',
    )
    .option('--json', 'print only the JSON report on one line')
    .option(
      '--attack <file>',
      'ATT&CK STIX bundle (default: knowledge.attack_path, the cache, then ../shared/data)',
    )
    .option(
      '--train <file>',
      'extra labelled text to fit on beside ATT&CK (repeatable); examples from measured documents are dropped',
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option(
      '--split <split>',
      'measure all examples, or only the dev or test split (documents hashed 60/20/20)',
      'all',
    )
    .option('--tune', 'also print the decision threshold that maximises micro-F1 here (use on dev data only)')
    .option('--threshold <x>', 'override the decision threshold', Number.parseFloat)
    .action(
      action(async (opts: Options, cmd: Command) => {
        if (!['all', 'train', 'dev', 'test'].includes(opts.split))
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            `--split must be all, dev or test, not ${opts.split}`,
            {
              field: 'split',
            },
          );
        if (opts.threshold !== undefined && !(opts.threshold >= 0 && opts.threshold <= 1))
          throw new AisocError('AISOC_ERR_VALIDATION', '--threshold must be a number between 0 and 1', {
            field: 'threshold',
          });
        const config = commandConfig(cmd, { log_level: 'silent' });
        const attackPath = opts.attack ?? resolveAttackPath(config.knowledge).path;
        if (!attackPath)
          throw new AisocError(
            'AISOC_ERR_KNOWLEDGE_UNAVAILABLE',
            'No ATT&CK bundle found; pass --attack FILE or run `aisoc kb load`.',
            { field: 'attack' },
          );
        const t0 = performance.now();
        const attack = readAttackBundle(attackPath);
        const data = readLabelled(opts.data);
        const train: LabelledText[] = opts.train.flatMap((f) => readLabelled(f));
        const report = evaluateMapping({
          attack,
          data,
          train,
          split: opts.split,
          tune: opts.tune,
          params: opts.threshold === undefined ? {} : { threshold: opts.threshold },
        });
        const out = {
          ...report,
          data: opts.data,
          train: opts.train,
          seconds: Math.round((performance.now() - t0) / 100) / 10,
        };
        if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`);
        else {
          process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
          if (report.unknown_labels.length)
            say(
              `Labels unknown to ${report.attack} (counted as misses): ${report.unknown_labels.join(', ')}`,
            );
        }
      }),
    );
}
