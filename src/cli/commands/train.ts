import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { featureSet } from '../../detect/ml/features/index.ts';
import { formatReport } from '../../detect/ml/metrics.ts';
import { encodeModel } from '../../detect/ml/model-file.ts';
import { defaultThreads } from '../../detect/ml/pool.ts';
import { type TrainAlgorithm, trainFromFile } from '../../detect/ml/train.ts';
import { AisocError } from '../../errors.ts';
import { action, progress, say } from '../common.ts';

interface TrainOptions {
  features: string;
  data: string;
  model: string;
  out: string;
  labelColumn?: string;
  groupColumn?: string;
  timeColumn?: string;
  split?: string;
  testFraction?: string;
  seed: string;
  threads?: string;
  params?: string;
  json?: boolean;
}

function num(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new AisocError('AISOC_ERR_VALIDATION', `${flag} must be a number, not ${v}`);
  return n;
}

/** camelCase for snake_case keys, so `--params '{"n_trees": 50}'` and `{"nTrees": 50}` both work. */
function camel(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), v]),
  );
}

/**
 * `aisoc train --features NAME --data FILE --model rf|gbdt|cart --out MODEL`:
 * hold out the latest rows of each class by time (or a grouped share with
 * `--split group`), train, print the held-out report (macro-F1 first) and
 * write the model file.
 */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description(
      'Train a model on a feature set (holds out the latest rows of each class by time; prints macro-F1 first)',
    )
    .requiredOption(
      '--features <name>',
      'feature set: cicflowmeter, flow-portable, cloudtrail18, cloudtrail-behavioral',
    )
    .requiredOption('--data <file>', 'training data: a CSV (flows) or labelled JSON lines from `aisoc label`')
    .option('--model <kind>', 'rf (random forest), gbdt (boosted trees) or cart (one tree)', 'rf')
    .requiredOption('--out <file>', 'model file to write (.aisoc-model)')
    .option('--label-column <name>', 'CSV column holding the class (default Label)')
    .option(
      '--split <how>',
      'time: hold out the latest rows of each class; group: a hashed share of groups (default: time when every row has a time, else group)',
    )
    .option('--time-column <name>', 'CSV column holding each row time (default Timestamp when present)')
    .option(
      '--group-column <name>',
      'CSV column grouping rows for --split group (default Flow ID when present)',
    )
    .option(
      '--test-fraction <f>',
      'share held out for the report: of each class by time (default 0.3) or of groups (default 0.2); 0: none',
    )
    .option('--seed <n>', 'random seed: the same seed gives the same model file', '1')
    .option('--threads <n>', 'training threads (default: every core)')
    .option(
      '--params <json>',
      'hyper-parameters, e.g. \'{"n_trees":200,"max_depth":12}\' or \'{"n_rounds":60}\'',
    )
    .option('--json', 'print the report as JSON on stdout')
    .action(
      action(async (opts: TrainOptions) => {
        if (!['rf', 'gbdt', 'cart'].includes(opts.model))
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            `--model must be rf, gbdt or cart, not ${opts.model}`,
            {
              field: 'model',
            },
          );
        if (opts.split !== undefined && !['time', 'group'].includes(opts.split))
          throw new AisocError('AISOC_ERR_VALIDATION', `--split must be time or group, not ${opts.split}`, {
            field: 'split',
          });
        let params: Record<string, unknown> = {};
        if (opts.params) {
          try {
            params = camel(JSON.parse(opts.params) as Record<string, unknown>);
          } catch {
            throw new AisocError('AISOC_ERR_VALIDATION', '--params must be a JSON object', {
              field: 'params',
            });
          }
        }
        const fs = featureSet(opts.features);
        const bar = progress();
        const threads = opts.threads ? num(opts.threads, '--threads') : defaultThreads();
        say(
          `Training ${opts.model} on ${opts.data} with feature set ${fs.name} v${fs.version} (${threads} threads).`,
        );
        const { model, report } = await trainFromFile({
          featureSet: fs,
          dataPath: opts.data,
          algorithm: opts.model as TrainAlgorithm,
          labelColumn: opts.labelColumn,
          groupColumn: opts.groupColumn,
          timeColumn: opts.timeColumn,
          ...(opts.split === undefined
            ? {}
            : { split: opts.split === 'group' ? ('grouped-hash' as const) : ('time-within-class' as const) }),
          ...(opts.testFraction === undefined
            ? {}
            : { testFraction: num(opts.testFraction, '--test-fraction') }),
          seed: num(opts.seed, '--seed'),
          threads,
          params,
          onProgress: (stage, done, total, note) =>
            bar.update(
              stage === 'load'
                ? `reading: ${done} rows`
                : `training: ${done}${total ? `/${total}` : ''}${note ? ` — ${note}` : ''}`,
            ),
        });
        bar.done();
        writeFileSync(opts.out, encodeModel(model));
        const skipped = Object.entries(report.load.skipped);
        say(
          `Read ${report.load.rows_read} rows, used ${report.load.rows_used}${skipped.length ? `, skipped ${skipped.map(([r, n]) => `${n} (${r})`).join(', ')}` : ''}.`,
        );
        for (const e of report.load.examples) say(`  skipped ${e}`);
        const splitBy =
          report.split.method === 'grouped-hash'
            ? `groups of ${report.load.group_column ?? 'one row'}`
            : `time within each class (${report.load.time_column}; the latest rows held out)`;
        say(
          `Split by ${splitBy}: ${report.train_rows} training rows, ${report.test_rows} held-out rows. Trained in ${(report.train_ms / 1000).toFixed(2)} s${report.rounds ? ` (${report.rounds} rounds)` : ''}.`,
        );
        if (report.test) say(`\nHeld-out evaluation:\n${formatReport(report.test)}\n`);
        else say('No held-out evaluation (--test-fraction 0): the model has no test metrics.');
        say(`Wrote ${opts.out}.`);
        if (opts.json) process.stdout.write(`${JSON.stringify({ out: opts.out, ...report })}\n`);
      }),
    );
}
