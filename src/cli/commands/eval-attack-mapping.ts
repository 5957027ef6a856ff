import type { Command } from 'commander';
import { createLlmBackend } from '../../analyst/llm/index.ts';
import { selectReportTechniques } from '../../analyst/report-mapping.ts';
import { AisocError } from '../../errors.ts';
import { readAttackDomains } from '../../knowledge/attack/merge.ts';
import { resolveAttackBundles, resolveAttackPath } from '../../knowledge/attack/source.ts';
import type { LabelledText } from '../../knowledge/mapper/corpus.ts';
import { readLabelled } from '../../knowledge/mapper/datasets.ts';
import { type EvalSplit, evaluateMapping } from '../../knowledge/mapper/evaluate.ts';
import { evaluateReports, type ReportMethod } from '../../knowledge/mapper/report-eval.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { action, commandConfig, say } from '../common.ts';
import { parseDomains } from './kb.ts';

interface Options {
  data: string;
  json?: boolean;
  attack?: string;
  train: string[];
  split: EvalSplit;
  tune?: boolean;
  threshold?: number;
  reports?: boolean;
  method: string;
  domains?: string;
  llm?: boolean;
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
      'measure all examples, or only the train, dev or test split (documents hashed 60/20/20)',
      'all',
    )
    .option('--tune', 'also print the decision threshold that maximises micro-F1 here (use on dev data only)')
    .option('--threshold <x>', 'override the decision threshold', Number.parseFloat)
    .option(
      '--reports',
      "measure whole reports: a document's texts form one report, labelled with their union (a .tsv file is CTI-ATE: each description a report); prints report-level micro, macro and per-report F1",
    )
    .option(
      '--method <m>',
      'with --reports: sentences (map each sentence, aggregate with the calibrated report thresholds) or whole (the whole report as one text, as before)',
      'sentences',
    )
    .option(
      '--domains <list>',
      'ATT&CK domains to load and map to (default knowledge.attack_domains: enterprise, mobile, ics; Mobile and ICS bundles are read from beside the Enterprise one)',
    )
    .option(
      '--llm',
      'with --reports: the configured analyst LLM backend chooses among the mapper candidates of each report (analyst.backend)',
    )
    .action(
      action(async (opts: Options, cmd: Command) => {
        if (!['all', 'train', 'dev', 'test'].includes(opts.split))
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            `--split must be all, train, dev or test, not ${opts.split}`,
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
        if (!['sentences', 'whole'].includes(opts.method))
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            `--method must be sentences or whole, not ${opts.method}`,
            {
              field: 'method',
            },
          );
        if (opts.llm && !opts.reports)
          throw new AisocError('AISOC_ERR_VALIDATION', '--llm needs --reports', { field: 'llm' });
        const domains = opts.domains ? parseDomains(opts.domains) : config.knowledge.attack_domains;
        const t0 = performance.now();
        const found = resolveAttackBundles({ attack_path: attackPath, attack_domains: domains });
        for (const m of found.missing)
          say(
            `No ${m.domain} ATT&CK bundle beside ${attackPath} (${m.tried.join(', ')}); measuring without it.`,
          );
        const attack = readAttackDomains(found.bundles);
        const data = readLabelled(opts.data);
        const train: LabelledText[] = opts.train.flatMap((f) => readLabelled(f));
        if (opts.reports) {
          const llm = opts.llm ? createLlmBackend(config.analyst, { logger: silentLogger() }) : undefined;
          if (opts.llm && !llm)
            throw new AisocError(
              'AISOC_ERR_CONFIG',
              '--llm needs an LLM backend: set analyst.backend (and its section) in the configuration',
              { field: 'analyst.backend' },
            );
          const evaluation = await evaluateReports({
            attack,
            data,
            train,
            split: opts.split,
            tune: opts.tune,
            method: opts.method as ReportMethod,
            domains: found.bundles.map((b) => b.domain),
            params: opts.threshold === undefined ? {} : { threshold: opts.threshold },
            ...(llm ? { select: (text, mapping) => selectReportTechniques(llm, text, mapping) } : {}),
          });
          const out = {
            ...evaluation,
            ...(llm ? { llm: `${llm.name}:${llm.model}` } : {}),
            data: opts.data,
            train: opts.train,
            seconds: Math.round((performance.now() - t0) / 100) / 10,
          };
          process.stdout.write(`${JSON.stringify(out, null, opts.json ? undefined : 2)}\n`);
          if (!opts.json && evaluation.unknown_labels.length)
            say(
              `Labels unknown to the loaded ATT&CK (counted as misses): ${evaluation.unknown_labels.join(', ')}`,
            );
          return;
        }
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
