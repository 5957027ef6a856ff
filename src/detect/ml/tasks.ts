/**
 * The work a training thread does, as plain functions of shared data and a
 * task description, so the same code runs in a worker thread or inline (and
 * gives the same trees either way: every random draw comes from a seed
 * derived from the task, never from which thread runs it).
 */
import { type BinnedMatrix, binColumn } from './binning.ts';
import { deriveSeed, Rng } from './rng.ts';
import { addTreeOutput, type BoostTreeParams, growBoostTree } from './trees/boost-tree.ts';
import { type CartParams, growCart } from './trees/cart.ts';
import type { FlatTree } from './trees/ensemble.ts';

/** Data every task reads; typed arrays on SharedArrayBuffers are shared with workers, not copied. */
export interface SharedData {
  binned: BinnedMatrix;
  y: Int32Array;
  nClasses: number;
  /** Weight per class, applied to every row of that class. */
  classWeight: Float64Array;
  /** Boosting only: gradients and hessians, group-major (group g's rows at g·rows). */
  grad?: Float32Array;
  hess?: Float32Array;
  /** Boosting only: running margins of the training rows, group-major; tasks add their tree's output. */
  margins?: Float64Array;
  /** Boosting only: validation rows, binned with the training edges, and their margins. */
  valid?: { binned: BinnedMatrix; margins: Float64Array };
}

export interface ForestTreeTask {
  kind: 'forest-tree';
  tree: number;
  seed: number;
  bootstrap: boolean;
  /** Re-weight classes within each bootstrap sample (scikit-learn's `balanced_subsample`). */
  balancedSubsample: boolean;
  params: CartParams;
}

export interface BoostTreeTask {
  kind: 'boost-tree';
  group: number;
  round: number;
  seed: number;
  /** Fraction of rows each tree is fitted on. */
  subsample: number;
  /** Fraction of features each tree may split on. */
  colsample: number;
  /**
   * Gradient-based one-side sampling (LightGBM's GOSS): keep the `top` share
   * of rows with the largest gradients, sample `other` of the rest and
   * up-weight them; 0 disables.
   */
  gossTop: number;
  gossOther: number;
  params: BoostTreeParams;
}

/**
 * Bin some features of a shared row-major matrix into a shared column-major
 * one (features are independent, so threads split them).
 */
export interface BinTask {
  kind: 'bin';
  x: Float32Array;
  rows: number;
  cols: number;
  features: number[];
  maxBins: number;
  /** Output, column-major rows × cols, on a SharedArrayBuffer. */
  bins: Uint8Array;
}

/** Boosting: softmax or logistic gradients of rows [start, end), from the shared margins. */
export interface GradientTask {
  kind: 'gradients';
  start: number;
  end: number;
  groups: number;
}

export type Task = ForestTreeTask | BoostTreeTask | BinTask | GradientTask;
export type TaskResult = { tree: FlatTree } | { edges: Float32Array[] } | { done: true };

/**
 * Run one task.
 *
 * @example
 * const { tree } = runTask(shared, { kind: 'forest-tree', tree: 0, seed: 1, bootstrap: true, balancedSubsample: false, params });
 */
export function runTask(data: SharedData | undefined, task: Task): TaskResult {
  if (task.kind === 'bin') return { edges: binFeatures(task) };
  if (!data) throw new Error('A tree task arrived before the training data.');
  if (task.kind === 'gradients') {
    gradients(data, task.start, task.end, task.groups);
    return { done: true };
  }
  return { tree: task.kind === 'forest-tree' ? forestTree(data, task) : boostTree(data, task) };
}

function binFeatures(t: BinTask): Float32Array[] {
  const { x, rows, cols, bins } = t;
  const column = new Float32Array(rows);
  const out: Float32Array[] = [];
  for (const f of t.features) {
    for (let i = 0; i < rows; i++) column[i] = x[i * cols + f]!;
    const { edges, bins: b } = binColumn(column, t.maxBins);
    bins.set(b, f * rows);
    out.push(edges);
  }
  return out;
}

function forestTree(data: SharedData, task: ForestTreeTask): FlatTree {
  const { binned, y, nClasses, classWeight } = data;
  const n = binned.rows;
  const rng = new Rng(deriveSeed(task.seed, task.tree));
  const weight = new Float64Array(n);
  if (task.bootstrap) for (let i = 0; i < n; i++) weight[rng.int(n)]!++;
  else weight.fill(1);
  const cw = task.balancedSubsample ? subsampleWeights(weight, y, nClasses) : classWeight;
  for (let i = 0; i < n; i++) if (weight[i]! > 0) weight[i]! *= cw[y[i]!]!;
  return growCart({ binned, y, nClasses, weight }, task.params, rng);
}

function subsampleWeights(weight: Float64Array, y: Int32Array, k: number): Float64Array {
  const counts = new Float64Array(k);
  let total = 0;
  for (let i = 0; i < weight.length; i++) {
    counts[y[i]!]! += weight[i]!;
    total += weight[i]!;
  }
  const w = new Float64Array(k);
  for (let c = 0; c < k; c++) w[c] = counts[c]! > 0 ? total / (k * counts[c]!) : 0;
  return w;
}

function boostTree(data: SharedData, task: BoostTreeTask): FlatTree {
  const { binned } = data;
  const n = binned.rows;
  const rng = new Rng(deriveSeed(task.seed, task.round, task.group));
  const off = task.group * n;
  let grad = data.grad!.subarray(off, off + n);
  let hess = data.hess!.subarray(off, off + n);
  let rows: Uint32Array;
  if (task.gossTop > 0 && task.gossTop + task.gossOther < 1) {
    ({ rows, grad, hess } = goss(grad, hess, task.gossTop, task.gossOther, rng));
  } else if (task.subsample < 1) {
    const picked: number[] = [];
    for (let i = 0; i < n; i++) if (rng.float() < task.subsample) picked.push(i);
    rows = Uint32Array.from(picked);
  } else {
    rows = new Uint32Array(n);
    for (let i = 0; i < n; i++) rows[i] = i;
  }
  const usable: number[] = [];
  for (let f = 0; f < binned.cols; f++) if (binned.nBins[f]! > 1) usable.push(f);
  let features = Int32Array.from(usable);
  if (task.colsample < 1 && usable.length > 1) {
    const take = Math.max(1, Math.round(usable.length * task.colsample));
    for (let k = 0; k < take; k++) {
      const j = k + rng.int(usable.length - k);
      [usable[k], usable[j]] = [usable[j]!, usable[k]!];
    }
    features = Int32Array.from(usable.slice(0, take).sort((a, b) => a - b));
  }
  const tree = growBoostTree({ binned, grad, hess, rows, features }, task.params);
  addTreeOutput(tree, binned, data.margins!, off);
  if (data.valid)
    addTreeOutput(tree, data.valid.binned, data.valid.margins, task.group * data.valid.binned.rows);
  return { nodes: tree.nodes, leafValues: tree.leafValues };
}

/**
 * GOSS: rows whose gradient is among the `top` largest in magnitude are all
 * kept; of the others a random `other` share (of all rows) is kept, with
 * gradient and hessian scaled by (1 − top) / other so sums stay unbiased.
 */
function goss(
  grad: Float32Array,
  hess: Float32Array,
  top: number,
  other: number,
  rng: Rng,
): { rows: Uint32Array; grad: Float32Array; hess: Float32Array } {
  const n = grad.length;
  const mag = new Float32Array(n);
  for (let i = 0; i < n; i++) mag[i] = Math.abs(grad[i]!);
  const nTop = Math.max(1, Math.floor(top * n));
  const threshold = kthLargest(mag, nTop);
  // Exactly nTop rows count as large: ties at the threshold (rows sharing a leaf path share their
  // gradient, so ties are common) are taken in row order until the quota is met.
  let ties = nTop;
  for (let i = 0; i < n; i++) if (Math.abs(grad[i]!) > threshold) ties--;
  const g = grad.slice();
  const h = hess.slice();
  const keepProb = Math.min(1, other / (1 - top));
  const scale = 1 / keepProb;
  const logSkip = Math.log(1 - keepProb);
  const picked = new Uint32Array(n);
  let m = 0;
  // The rest is sampled by geometric skips: one random draw per kept row, not one per row.
  let nextSmall = keepProb >= 1 ? 0 : Math.floor(Math.log(1 - rng.float()) / logSkip);
  let small = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(grad[i]!);
    if (a > threshold || (a === threshold && ties-- > 0)) {
      picked[m++] = i;
      continue;
    }
    if (small++ === nextSmall) {
      g[i]! *= scale;
      h[i]! *= scale;
      picked[m++] = i;
      nextSmall = keepProb >= 1 ? small : small + Math.floor(Math.log(1 - rng.float()) / logSkip);
    }
  }
  return { rows: picked.slice(0, m), grad: g, hess: h };
}

/** The k-th largest value (1-based) by quickselect; reorders `a`. */
function kthLargest(a: Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! > pivot) i++;
      while (a[j]! < pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target]!;
}

/**
 * Gradients and hessians of the log-loss for rows [start, end), weighted per
 * class: softmax for several groups, logistic for one.
 */
export function gradients(data: SharedData, start: number, end: number, groups: number): void {
  const { y, classWeight: cw } = data;
  const margins = data.margins!;
  const grad = data.grad!;
  const hess = data.hess!;
  const n = data.binned.rows;
  if (groups === 1) {
    for (let i = start; i < end; i++) {
      const p = 1 / (1 + Math.exp(-margins[i]!));
      const w = cw[y[i]!]!;
      grad[i] = (p - (y[i] === 1 ? 1 : 0)) * w;
      hess[i] = Math.max(p * (1 - p), 1e-16) * w;
    }
    return;
  }
  const p = new Float64Array(groups);
  for (let i = start; i < end; i++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let g = 0; g < groups; g++) max = Math.max(max, margins[g * n + i]!);
    let sum = 0;
    for (let g = 0; g < groups; g++) {
      p[g] = Math.exp(margins[g * n + i]! - max);
      sum += p[g]!;
    }
    const w = cw[y[i]!]!;
    for (let g = 0; g < groups; g++) {
      const pg = p[g]! / sum;
      grad[g * n + i] = (pg - (y[i] === g ? 1 : 0)) * w;
      // The factor 2 is XGBoost's upper bound on the softmax hessian's diagonal.
      hess[g * n + i] = Math.max(2 * pg * (1 - pg), 1e-16) * w;
    }
  }
}
