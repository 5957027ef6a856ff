/**
 * Gradient-boosted trees with histogram binning (the LightGBM / XGBoost
 * `hist` recipe): binned features, depth-wise or leaf-wise growth,
 * shrinkage, row and column sub-sampling, early stopping on a validation
 * set. Multi-class uses one tree per class per round (softmax); two classes
 * use one tree per round (logistic). The trees of one round are grown in
 * parallel on worker threads.
 */
import { AisocError } from '../../../errors.ts';
import { applyBins } from '../binning.ts';
import { classCounts, classWeights, type Dataset } from '../dataset.ts';
import { TreePool, threadsFor } from '../pool.ts';
import type { SharedData } from '../tasks.ts';
import type { BoostTreeParams } from './boost-tree.ts';
import { type FlatTree, joinTrees, type TreeEnsemble } from './ensemble.ts';

export interface GbdtParams {
  /** Boosting rounds at most (early stopping may use fewer). */
  nRounds: number;
  learningRate: number;
  maxDepth: number;
  maxLeaves: number;
  growPolicy: 'depthwise' | 'lossguide';
  lambda: number;
  gamma: number;
  minChildWeight: number;
  /** Fraction of rows per tree. */
  subsample: number;
  /** Fraction of features per tree. */
  colsample: number;
  /** GOSS: share of rows with the largest gradients always kept (0: off; then `subsample` applies). */
  gossTop: number;
  /** GOSS: share of all rows sampled from the rest. */
  gossOther: number;
  /** Rounds fitted on every row before GOSS starts; -1: LightGBM's rule, ⌊1 / learning rate⌋. */
  gossWarmupRounds: number;
  maxBins: number;
  /** Stop when the validation loss has not improved for this many rounds (0: never; needs a validation set). */
  earlyStoppingRounds: number;
  classWeight: 'none' | 'balanced';
  seed: number;
}

export const GBDT_DEFAULTS: GbdtParams = {
  nRounds: 100,
  learningRate: 0.3,
  maxDepth: 6,
  maxLeaves: 0,
  growPolicy: 'depthwise',
  lambda: 1,
  gamma: 0,
  minChildWeight: 1,
  subsample: 1,
  colsample: 1,
  gossTop: 0,
  gossOther: 0.1,
  gossWarmupRounds: -1,
  maxBins: 255,
  earlyStoppingRounds: 10,
  classWeight: 'none',
  seed: 1,
};

export interface GbdtResult {
  model: TreeEnsemble;
  /** Rounds kept (the best round by validation loss, when early stopping ran). */
  rounds: number;
  /** Validation log-loss per round (empty without a validation set). */
  validLoss: number[];
}

/**
 * Train a boosted ensemble.
 *
 * @example
 * const { model } = await trainGbdt(train, { ...GBDT_DEFAULTS, nRounds: 50 }, { threads: 2, valid });
 */
export async function trainGbdt(
  ds: Dataset,
  params: GbdtParams,
  options: {
    threads: number;
    /** Start the threads even for small jobs (tests of thread-independence). */
    forceThreads?: boolean;
    valid?: Dataset;
    onProgress?: (round: number, total: number, validLoss?: number) => void;
  },
): Promise<GbdtResult> {
  const K = ds.labels.length;
  if (K < 2) throw new AisocError('AISOC_ERR_VALIDATION', 'Boosting needs at least two classes in the data.');
  if (params.maxDepth <= 0 && params.maxLeaves <= 0)
    throw new AisocError(
      'AISOC_ERR_VALIDATION',
      'Set max_depth or max_leaves: trees cannot be unlimited both ways.',
    );
  const groups = K === 2 ? 1 : K;
  const n = ds.rows;
  const pool = TreePool.open(
    threadsFor(
      Math.min(options.threads, groups),
      n * ds.cols * groups * params.nRounds,
      options.forceThreads,
    ),
  );
  try {
    return await boost(pool, ds, params, options, K, groups);
  } finally {
    await pool.close();
  }
}

async function boost(
  pool: TreePool,
  ds: Dataset,
  params: GbdtParams,
  options: Parameters<typeof trainGbdt>[2],
  K: number,
  groups: number,
): Promise<GbdtResult> {
  const n = ds.rows;
  const binned = await pool.bin(ds.x, n, ds.cols, params.maxBins);
  const edges = { edges: binned.edges, nBins: binned.nBins };
  const valid = options.valid;
  const vn = valid?.rows ?? 0;
  const shared = <T extends Float32Array | Float64Array>(
    Ctor: new (b: SharedArrayBuffer) => T,
    len: number,
    bytes: number,
  ): T => new Ctor(new SharedArrayBuffer(Math.max(bytes, len * bytes)));
  const grad = shared(Float32Array, groups * n, 4);
  const hess = shared(Float32Array, groups * n, 4);
  const margins = shared(Float64Array, groups * n, 8);
  const vMargins = shared(Float64Array, groups * Math.max(1, vn), 8);
  const cw = classWeights(ds, params.classWeight);

  // Start from the (weighted) class prior rather than 0, so early rounds fit structure, not base rates.
  const counts = classCounts(ds);
  const prior = counts.map((c, k) => c * cw[k]!);
  const total = prior.reduce((a, b) => a + b, 0);
  const base: number[] = [];
  if (groups === 1) {
    const p1 = Math.min(1 - 1e-6, Math.max(1e-6, prior[1]! / total));
    base.push(Math.log(p1 / (1 - p1)));
  } else for (let k = 0; k < K; k++) base.push(Math.log(Math.max(1e-6, prior[k]! / total)));
  for (let g = 0; g < groups; g++) {
    margins.fill(base[g]!, g * n, (g + 1) * n);
    vMargins.fill(base[g]!, g * vn, (g + 1) * vn);
  }

  // Shared, so the workers computing gradients read the labels without a copy.
  const y = new Int32Array(new SharedArrayBuffer(Math.max(4, n * 4)), 0, n);
  y.set(ds.y);
  const data: SharedData = {
    binned,
    y,
    nClasses: K,
    classWeight: cw,
    grad,
    hess,
    margins,
    valid: valid ? { binned: applyBins(valid.x, vn, valid.cols, edges), margins: vMargins } : undefined,
  };
  pool.share(data);
  const treeParams: BoostTreeParams = {
    maxDepth: params.maxDepth,
    maxLeaves: params.maxLeaves,
    growPolicy: params.growPolicy,
    lambda: params.lambda,
    gamma: params.gamma,
    minChildWeight: params.minChildWeight,
    learningRate: params.learningRate,
  };
  const trees: FlatTree[] = [];
  const validLoss: number[] = [];
  let best = Number.POSITIVE_INFINITY;
  let bestRound = -1;
  const warmup = params.gossWarmupRounds >= 0 ? params.gossWarmupRounds : Math.floor(1 / params.learningRate);
  for (let round = 0; round < params.nRounds; round++) {
    await pool.gradients(n, groups);
    const grown = await Promise.all(
      Array.from({ length: groups }, (_, g) =>
        pool.tree({
          kind: 'boost-tree',
          group: g,
          round,
          seed: params.seed,
          subsample: params.subsample,
          colsample: params.colsample,
          // As LightGBM by default: no GOSS for the first 1/learning-rate rounds, while every gradient is large.
          gossTop: round >= warmup ? params.gossTop : 0,
          gossOther: params.gossOther,
          params: treeParams,
        }),
      ),
    );
    trees.push(...grown);
    let loss: number | undefined;
    if (valid) {
      loss = logLoss(valid.y, vMargins, vn, groups);
      validLoss.push(loss);
      if (loss < best - 1e-9) {
        best = loss;
        bestRound = round;
      } else if (params.earlyStoppingRounds > 0 && round - bestRound >= params.earlyStoppingRounds) {
        options.onProgress?.(round + 1, params.nRounds, loss);
        break;
      }
    }
    options.onProgress?.(round + 1, params.nRounds, loss);
  }
  const rounds = valid && params.earlyStoppingRounds > 0 ? bestRound + 1 : trees.length / groups;
  const kept = trees.slice(0, rounds * groups);
  const model = joinTrees(kept, {
    transform: groups === 1 ? 'sigmoid' : 'softmax',
    nFeatures: ds.cols,
    nClasses: K,
    treeGroup: kept.map((_, i) => i % groups),
    baseScore: base,
  });
  return { model, rounds, validLoss };
}

/** Mean log-loss of margins (group-major) against labels. */
function logLoss(y: Int32Array, margins: Float64Array, n: number, groups: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (groups === 1) {
      const p = 1 / (1 + Math.exp(-margins[i]!));
      total -= Math.log(Math.max(1e-15, y[i] === 1 ? p : 1 - p));
      continue;
    }
    let max = Number.NEGATIVE_INFINITY;
    for (let g = 0; g < groups; g++) max = Math.max(max, margins[g * n + i]!);
    let sum = 0;
    for (let g = 0; g < groups; g++) sum += Math.exp(margins[g * n + i]! - max);
    total -= margins[y[i]! * n + i]! - max - Math.log(sum);
  }
  return n ? total / n : 0;
}
