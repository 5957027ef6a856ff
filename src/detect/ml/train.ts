/**
 * Training from a data file to a model, as `aisoc train`, `npm run models`
 * and the benchmarks do it: load through the feature set, hold out the
 * latest rows of each class by time (or, with `split: 'grouped-hash'`, a
 * hashed share of groups — never rows of one flow on both sides), train,
 * and evaluate on what was held out. The metrics stored in the model are
 * those of the model saved, on data it never saw.
 */
import { basename } from 'node:path';
import { AisocError } from '../../errors.ts';
import { VERSION } from '../../version.ts';
import { classCounts, type Dataset, subset } from './dataset.ts';
import type { FeatureSet } from './features/types.ts';
import { type Loaded, loadData } from './load.ts';
import { type EvalReport, evaluate } from './metrics.ts';
import { type Algorithm, type Model, predictClasses } from './model.ts';
import { defaultThreads } from './pool.ts';
import { groupedSplit, type SplitMethod, splitRows, timeSplitWithinClass } from './split.ts';
import type { TreeEnsemble } from './trees/ensemble.ts';
import { CART_DEFAULTS, FOREST_DEFAULTS, type ForestParams, trainForest } from './trees/forest.ts';
import { GBDT_DEFAULTS, type GbdtParams, trainGbdt } from './trees/gbdt.ts';

export type TrainAlgorithm = Exclude<Algorithm, 'xgboost'>;

export interface TrainRequest {
  featureSet: FeatureSet;
  dataPath: string;
  algorithm: TrainAlgorithm;
  labelColumn?: string;
  /** Rows sharing this column's value stay on one side of every split (CSV). Default `Flow ID` when present. */
  groupColumn?: string;
  /**
   * How to hold out test rows: `time-within-class` holds out the latest
   * rows of each class; `grouped-hash` a hashed share of groups. Default:
   * by time when every row has a time, else grouped.
   */
  split?: SplitMethod;
  /** Column holding each row's time (CSV); default `Timestamp` when present. */
  timeColumn?: string;
  /**
   * Share held out for the test report: of each class's rows by time (default
   * 0.3), or of groups (default 0.2). 0 trains on everything and reports no test metrics.
   */
  testFraction?: number;
  seed?: number;
  threads?: number;
  /** Hyper-parameters over the algorithm's defaults. */
  params?: Partial<ForestParams> & Partial<GbdtParams>;
  onProgress?: (stage: 'load' | 'train', done: number, total?: number, note?: string) => void;
}

export interface TrainReport {
  load: Loaded['report'];
  train_rows: number;
  test_rows: number;
  split: { method: SplitMethod; test_fraction: number };
  /** Wall time of training alone (binning to model), ms. Not stored in the model: files must not vary run to run. */
  train_ms: number;
  rounds?: number;
  test?: EvalReport;
}

/** Inclusive bounds of the numeric hyper-parameters (a fraction of 0 or a negative count means nothing). */
const RANGES: Record<string, [number, number]> = {
  nTrees: [1, 100_000],
  nRounds: [1, 100_000],
  maxDepth: [0, 1000],
  maxLeaves: [0, 1_000_000],
  minSamplesSplit: [2, Number.MAX_SAFE_INTEGER],
  minSamplesLeaf: [1, Number.MAX_SAFE_INTEGER],
  maxBins: [2, 256],
  learningRate: [1e-6, 1],
  lambda: [0, 1e9],
  gamma: [0, 1e9],
  minChildWeight: [0, 1e9],
  subsample: [1e-6, 1],
  colsample: [1e-6, 1],
  gossTop: [0, 1],
  gossOther: [0, 1],
  gossWarmupRounds: [-1, 100_000],
  earlyStoppingRounds: [0, 100_000],
  maxFeatures: [1e-6, 1],
};

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The hyper-parameters an algorithm trains with, after overrides. */
export function resolveParams(
  algorithm: TrainAlgorithm,
  overrides: TrainRequest['params'] = {},
  seed?: number,
): ForestParams | GbdtParams {
  const base = algorithm === 'gbdt' ? GBDT_DEFAULTS : algorithm === 'cart' ? CART_DEFAULTS : FOREST_DEFAULTS;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    if (!(k in base))
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        `${snake(k)} is not a ${algorithm} hyper-parameter; known: ${Object.keys(base).map(snake).join(', ')}`,
        { field: `params.${snake(k)}` },
      );
    const expected = typeof (base as unknown as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== expected && !(expected === 'string' && typeof v === 'number'))
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        `${snake(k)} must be a ${expected}, not ${JSON.stringify(v)}`,
        {
          field: `params.${snake(k)}`,
        },
      );
    if (v !== undefined) out[k] = v;
  }
  if (seed !== undefined) out.seed = seed;
  for (const [k, [lo, hi]] of Object.entries(RANGES)) {
    const v = out[k];
    if (typeof v === 'number' && !(v >= lo && v <= hi))
      throw new AisocError('AISOC_ERR_VALIDATION', `${snake(k)} must be between ${lo} and ${hi}, not ${v}`, {
        field: `params.${snake(k)}`,
      });
  }
  return out as unknown as ForestParams | GbdtParams;
}

/**
 * Train an ensemble on a dataset (no split, no evaluation).
 *
 * @example
 * const { ensemble } = await trainEnsemble(train, 'rf', resolveParams('rf'), 2);
 */
export async function trainEnsemble(
  train: Dataset,
  algorithm: TrainAlgorithm,
  params: ForestParams | GbdtParams,
  threads: number,
  onProgress?: TrainRequest['onProgress'],
  validation: SplitMethod = 'grouped-hash',
): Promise<{ ensemble: TreeEnsemble; rounds?: number }> {
  if (train.rows === 0) throw new AisocError('AISOC_ERR_VALIDATION', 'There are no rows to train on.');
  if (new Set(train.y).size < 2)
    throw new AisocError(
      'AISOC_ERR_VALIDATION',
      'The training rows hold a single class; a classifier needs two.',
    );
  if (algorithm === 'gbdt') {
    const p = params as GbdtParams;
    let fit = train;
    let valid: Dataset | undefined;
    const canValidate = validation === 'time-within-class' ? train.times : train.groups;
    if (p.earlyStoppingRounds > 0 && canValidate) {
      // Early stopping watches a validation split carved from the training rows only, made
      // the way the test split was: the latest 10 % of each class, or a grouped 10 %.
      const vs =
        validation === 'time-within-class'
          ? timeSplitWithinClass(train.times!, train.y, 0.1)
          : groupedSplit(train.groups!, 0.1, p.seed + 1);
      if (vs.test.length > 0 && vs.train.length > 0) {
        fit = subset(train, vs.train);
        valid = subset(train, vs.test);
      }
    }
    const r = await trainGbdt(fit, p, {
      threads,
      valid,
      onProgress: (round, total, loss) =>
        onProgress?.(
          'train',
          round,
          total,
          loss === undefined ? undefined : `validation log-loss ${loss.toFixed(4)}`,
        ),
    });
    return { ensemble: r.model, rounds: r.rounds };
  }
  const p = params as ForestParams;
  const ensemble = await trainForest(train, p, {
    threads,
    onProgress: (done, total) => onProgress?.('train', done, total),
  });
  return { ensemble };
}

/**
 * Load, split, train and evaluate.
 *
 * @example
 * const { model, report } = await trainFromFile({ featureSet: cicflowmeter, dataPath: 'flows.csv', algorithm: 'gbdt' });
 */
export async function trainFromFile(req: TrainRequest): Promise<{ model: Model; report: TrainReport }> {
  const fs = req.featureSet;
  const seed = req.seed ?? 1;
  const params = resolveParams(req.algorithm, req.params, seed);
  if (req.testFraction !== undefined && !(req.testFraction >= 0 && req.testFraction < 1))
    throw new AisocError('AISOC_ERR_VALIDATION', 'The test fraction must be in [0, 1).', {
      field: 'test_fraction',
    });
  const loaded = await loadData(req.dataPath, fs, {
    labelColumn: req.labelColumn,
    groupColumn: req.groupColumn,
    timeColumn: req.timeColumn,
    onProgress: (rows) => req.onProgress?.('load', rows),
  });
  const ds = loaded.dataset;
  const timed = ds.times?.every(Number.isFinite) === true;
  const method: SplitMethod = req.split ?? (timed ? 'time-within-class' : 'grouped-hash');
  const testFraction = req.testFraction ?? (method === 'time-within-class' ? 0.3 : 0.2);
  const split =
    testFraction > 0
      ? splitRows(ds, { method, test_fraction: testFraction, seed })
      : { train: Array.from({ length: ds.rows }, (_, i) => i), test: [] as number[] };
  const train = subset(ds, split.train);
  const test = subset(ds, split.test);
  const t0 = performance.now();
  const { ensemble, rounds } = await trainEnsemble(
    train,
    req.algorithm,
    params,
    req.threads ?? defaultThreads(),
    req.onProgress,
    method,
  );
  const trainMs = performance.now() - t0;
  const model: Model = {
    meta: {
      algorithm: req.algorithm,
      feature_set: { name: fs.name, version: fs.version, columns: [...fs.columns] },
      labels: [...ds.labels],
      negative_label: ds.labels.includes(fs.negativeLabel) ? fs.negativeLabel : null,
      training: {
        software: `aisoc ${VERSION}`,
        data_file: basename(req.dataPath),
        data_fingerprint: `sha256:${loaded.report.fingerprint}`,
        rows_read: loaded.report.rows_read,
        rows_used: loaded.report.rows_used,
        rows_skipped: loaded.report.skipped,
        split: {
          method,
          ...(method === 'time-within-class'
            ? { time_column: loaded.report.time_column }
            : { group_column: loaded.report.group_column }),
          test_fraction: testFraction,
          seed,
          train_rows: train.rows,
          test_rows: test.rows,
        },
        class_counts: Object.fromEntries(ds.labels.map((l, i) => [l, classCounts(ds)[i]!])),
        ...(rounds === undefined ? {} : { rounds }),
      },
      hyperparameters: { ...params },
      metrics: {},
    },
    ensemble,
  };
  let testReport: EvalReport | undefined;
  if (test.rows > 0) {
    testReport = evaluate(test.y, predictClasses(model, test.x, test.rows), ds.labels, fs.negativeLabel);
    model.meta.metrics = { test: testReport };
  }
  return {
    model,
    report: {
      load: loaded.report,
      train_rows: train.rows,
      test_rows: test.rows,
      split: { method, test_fraction: testFraction },
      train_ms: trainMs,
      rounds,
      test: testReport,
    },
  };
}
