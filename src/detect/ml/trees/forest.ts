/**
 * Random forest and single-tree (CART) training: bootstrap samples, feature
 * sub-sampling per node, optional class weights; trees are grown in
 * parallel on worker threads and averaged (soft voting, as scikit-learn).
 */
import { classWeights, type Dataset } from '../dataset.ts';
import { TreePool, threadsFor } from '../pool.ts';
import { type FlatTree, joinTrees, type TreeEnsemble } from './ensemble.ts';

export interface ForestParams {
  /** Trees in the forest. */
  nTrees: number;
  /** 0: unlimited. */
  maxDepth: number;
  minSamplesSplit: number;
  minSamplesLeaf: number;
  /** Features examined per node: `sqrt` and `log2` of the feature count, `all`, or a fraction in (0, 1]. */
  maxFeatures: 'sqrt' | 'log2' | 'all' | number;
  bootstrap: boolean;
  classWeight: 'none' | 'balanced' | 'balanced_subsample';
  maxBins: number;
  seed: number;
}

export const FOREST_DEFAULTS: ForestParams = {
  nTrees: 100,
  maxDepth: 0,
  minSamplesSplit: 2,
  minSamplesLeaf: 1,
  maxFeatures: 'sqrt',
  bootstrap: true,
  classWeight: 'none',
  maxBins: 255,
  seed: 1,
};

/** The CART defaults: one tree on all rows and all features. */
export const CART_DEFAULTS: ForestParams = {
  ...FOREST_DEFAULTS,
  nTrees: 1,
  maxFeatures: 'all',
  bootstrap: false,
};

export interface TrainOptions {
  /** Worker threads (0: train on this thread). */
  threads: number;
  /** Start the threads even for small jobs (tests of thread-independence). */
  forceThreads?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Features examined per node for a given setting and feature count. */
export function featuresPerNode(setting: ForestParams['maxFeatures'], cols: number): number {
  if (setting === 'sqrt') return Math.max(1, Math.floor(Math.sqrt(cols)));
  if (setting === 'log2') return Math.max(1, Math.floor(Math.log2(cols)));
  if (setting === 'all') return cols;
  return Math.max(1, Math.min(cols, Math.round(setting * cols)));
}

/**
 * Train a random forest (or, with {@link CART_DEFAULTS}, one CART tree).
 *
 * @example
 * const model = await trainForest(ds, { ...FOREST_DEFAULTS, nTrees: 50, seed: 7 }, { threads: 2 });
 */
export async function trainForest(
  ds: Dataset,
  params: ForestParams,
  options: TrainOptions,
): Promise<TreeEnsemble> {
  const threads = threadsFor(
    Math.min(options.threads, params.nTrees > 1 ? params.nTrees : 0),
    ds.rows * ds.cols * params.nTrees,
    options.forceThreads,
  );
  const pool = TreePool.open(threads);
  try {
    const binned = await pool.bin(ds.x, ds.rows, ds.cols, params.maxBins);
    const y = new Int32Array(new SharedArrayBuffer(Math.max(4, ds.rows * 4)), 0, ds.rows);
    y.set(ds.y);
    pool.share({
      binned,
      y,
      nClasses: ds.labels.length,
      classWeight: classWeights(ds, params.classWeight === 'balanced' ? 'balanced' : 'none'),
    });
    return await growForest(pool, ds, params, options);
  } finally {
    await pool.close();
  }
}

async function growForest(
  pool: TreePool,
  ds: Dataset,
  params: ForestParams,
  options: TrainOptions,
): Promise<TreeEnsemble> {
  const cartParams = {
    maxDepth: params.maxDepth,
    minSamplesSplit: params.minSamplesSplit,
    minSamplesLeaf: params.minSamplesLeaf,
    maxFeatures: featuresPerNode(params.maxFeatures, ds.cols),
  };
  let done = 0;
  const trees: FlatTree[] = await Promise.all(
    Array.from({ length: params.nTrees }, (_, t) =>
      pool
        .tree({
          kind: 'forest-tree',
          tree: t,
          seed: params.seed,
          bootstrap: params.bootstrap,
          balancedSubsample: params.classWeight === 'balanced_subsample',
          params: cartParams,
        })
        .then((tree) => {
          options.onProgress?.(++done, params.nTrees);
          return tree;
        }),
    ),
  );
  return joinTrees(trees, { transform: 'average', nFeatures: ds.cols, nClasses: ds.labels.length });
}
