import type { Command } from 'commander';
import { subset } from '../../detect/ml/dataset.ts';
import { featureSet } from '../../detect/ml/features/index.ts';
import { loadData } from '../../detect/ml/load.ts';
import { openModel } from '../../detect/ml/load-model.ts';
import { evaluate, formatReport } from '../../detect/ml/metrics.ts';
import { predictClasses } from '../../detect/ml/model.ts';
import { recordedSplit, splitRows } from '../../detect/ml/split.ts';
import { AisocError } from '../../errors.ts';
import { action, say } from '../common.ts';

interface EvalModelOptions {
  model: string;
  data: string;
  features?: string;
  labelColumn?: string;
  labels?: string;
  allRows?: boolean;
  json?: boolean;
}

/**
 * `aisoc eval model --model M --data FILE [--json]`: macro-F1, accuracy,
 * per-class precision/recall/F1, confusion matrix and false-positive rate.
 * Given the very file the model was trained on, only the rows it held out
 * (by the split its file records) are scored (unless --all-rows): scoring training rows would flatter it.
 */
export function registerEvalModel(evalCommand: Command): void {
  evalCommand
    .command('model')
    .description(
      'Evaluate a model on labelled data: macro-F1 first, per class, confusion, false-positive rate',
    )
    .requiredOption('--model <file>', 'model file (.aisoc-model, or XGBoost JSON)')
    .requiredOption('--data <file>', 'labelled data: CSV or JSON lines from `aisoc label`')
    .option('--features <name>', 'feature set, for a model that does not record one (XGBoost)')
    .option('--labels <list>', 'comma-separated class names in index order, for an XGBoost model')
    .option('--label-column <name>', 'CSV column holding the class (default Label)')
    .option('--all-rows', "score every row even when the file is the model's own training data")
    .option('--json', 'print the report as JSON on stdout')
    .action(
      action(async (opts: EvalModelOptions) => {
        const model = openModel(opts.model, {
          featureSet: opts.features,
          labels: opts.labels?.split(',').map((s) => s.trim()),
        });
        const fsName = model.meta.feature_set?.name ?? opts.features;
        if (!fsName)
          throw new AisocError(
            'AISOC_ERR_VALIDATION',
            `${opts.model} records no feature set; say which with --features.`,
            { field: 'features' },
          );
        const fs = featureSet(fsName);
        const spec = recordedSplit(model.meta.training);
        const read = (columns: { timeColumn?: string; groupColumn?: string } = {}) =>
          loadData(opts.data, fs, { labelColumn: opts.labelColumn, classes: model.meta.labels, ...columns });
        let { dataset, report: load } = await read();
        const training = model.meta.training as { data_fingerprint?: string };
        const ownData = training.data_fingerprint === `sha256:${load.fingerprint}`;
        if (
          ownData &&
          spec &&
          ((spec.time_column && load.time_column !== spec.time_column && spec.time_column !== 'eventTime') ||
            (spec.group_column && load.group_column !== spec.group_column))
        )
          // The model's own file, split by columns other than the defaults: read it as training did.
          ({ dataset, report: load } = await read({
            timeColumn: spec.time_column,
            groupColumn: spec.group_column,
          }));
        let ds = dataset;
        let scope = 'every row';
        if (!opts.allRows && ownData && spec) {
          ds = subset(ds, splitRows(ds, spec).test);
          scope = `the ${ds.rows} rows held out when the model was trained (same file; --all-rows to score all)`;
        }
        const unknown = ds.labels.slice(model.meta.labels.length);
        const report = evaluate(
          ds.y,
          predictClasses(model, ds.x, ds.rows),
          ds.labels,
          model.meta.negative_label ?? fs.negativeLabel,
        );
        const skipped = Object.values(load.skipped).reduce((a, b) => a + b, 0);
        if (unknown.length)
          say(
            `warning: the data has labels the model never learned (${unknown.join(', ')}); their rows count as errors.`,
          );
        if (skipped) say(`Skipped ${skipped} bad rows: ${JSON.stringify(load.skipped)}.`);
        say(`Scored ${scope}.`);
        if (opts.json) {
          const { labels, ...rest } = report;
          process.stdout.write(
            `${JSON.stringify({ ...rest, labels, unknown_labels: unknown, skipped_rows: load.skipped, scope })}\n`,
          );
        } else process.stdout.write(`${formatReport(report)}\n`);
      }),
    );
}
