/**
 * The one in-memory form every model takes for inference — our CART, random
 * forest and GBDT, and XGBoost's JSON trees — so there is one predictor to
 * make fast and to test.
 *
 * Nodes are interleaved in one buffer, three 32-bit words per node, so that
 * a visit touches one cache line:
 *   word 0: split feature (bit 30 set: a missing value goes left), or -1 for a leaf
 *   word 1: split → threshold as float32 (go left when x ≤ threshold);
 *           leaf of a forest → class + 1 when the leaf is pure, else 0 (see markPureLeaves)
 *   word 2: split → index of the left child (the right child follows it); leaf → offset into `leafValues`
 */

export const NODE_STRIDE = 3;
export const DEFAULT_LEFT = 1 << 30;
const FEATURE_MASK = DEFAULT_LEFT - 1;

/** How tree outputs become class probabilities. */
export type OutputTransform = 'average' | 'softmax' | 'sigmoid';

export interface TreeEnsemble {
  /** `average`: each leaf holds a class distribution (forests, CART); others: each leaf holds one margin. */
  readonly transform: OutputTransform;
  readonly nFeatures: number;
  /** Number of classes of the probabilities returned. */
  readonly nClasses: number;
  /** Interleaved nodes (see the module comment). */
  readonly nodes: Int32Array;
  /** Float view of `nodes`, for thresholds. */
  readonly thresholds: Float32Array;
  /** Index of each tree's root node; length = number of trees. */
  readonly roots: Int32Array;
  /** Boosted: the margin each tree adds to (0 for binary). Forests: unused (empty). */
  readonly treeGroup: Int32Array;
  readonly leafValues: Float32Array;
  /** Boosted: margin each group starts from. */
  readonly baseScore: Float64Array;
  /** Whether any split sends missing values left (XGBoost models); without, NaN checks are skipped. */
  missingLeft: boolean;
}

/** A tree under construction, in the same node layout, before it joins an ensemble. */
export interface FlatTree {
  nodes: Int32Array;
  leafValues: Float32Array;
}

/**
 * Concatenate trees into an ensemble, rebasing child and leaf offsets.
 *
 * @example
 * const model = joinTrees(trees, { transform: 'average', nFeatures: 4, nClasses: 3 });
 */
export function joinTrees(
  trees: FlatTree[],
  options: {
    transform: OutputTransform;
    nFeatures: number;
    nClasses: number;
    treeGroup?: number[];
    baseScore?: number[];
  },
): TreeEnsemble {
  let nodeWords = 0;
  let leafLen = 0;
  for (const t of trees) {
    nodeWords += t.nodes.length;
    leafLen += t.leafValues.length;
  }
  const buffer = new ArrayBuffer(nodeWords * 4);
  const nodes = new Int32Array(buffer);
  const leafValues = new Float32Array(leafLen);
  const roots = new Int32Array(trees.length);
  let nodeBase = 0;
  let leafBase = 0;
  trees.forEach((t, k) => {
    roots[k] = nodeBase;
    const n = t.nodes.length / NODE_STRIDE;
    for (let i = 0; i < n; i++) {
      const o = i * NODE_STRIDE;
      const d = (nodeBase + i) * NODE_STRIDE;
      const f = t.nodes[o]!;
      nodes[d] = f;
      nodes[d + 1] = t.nodes[o + 1]!;
      nodes[d + 2] = f < 0 ? t.nodes[o + 2]! + leafBase : t.nodes[o + 2]! + nodeBase;
    }
    leafValues.set(t.leafValues, leafBase);
    nodeBase += n;
    leafBase += t.leafValues.length;
  });
  const ensemble: TreeEnsemble = {
    transform: options.transform,
    nFeatures: options.nFeatures,
    nClasses: options.nClasses,
    nodes,
    thresholds: new Float32Array(buffer),
    roots,
    treeGroup: Int32Array.from(options.treeGroup ?? []),
    leafValues,
    baseScore: Float64Array.from(options.baseScore ?? []),
    missingLeft: false,
  };
  markPureLeaves(ensemble);
  return ensemble;
}

/** Number of trees. */
export function treeCount(m: TreeEnsemble): number {
  return m.roots.length;
}

/** Number of margins a boosted model sums into (1 for binary logistic). */
function groups(m: TreeEnsemble): number {
  return m.transform === 'sigmoid' ? 1 : m.nClasses;
}

/**
 * Class probabilities for one row, written into `out` (length nClasses).
 *
 * @example
 * const p = new Float64Array(model.nClasses);
 * predictRow(model, features, p);
 */
export function predictRow(m: TreeEnsemble, x: Float32Array, out: Float64Array): Float64Array {
  predictRows(m, x, 1, out);
  return out;
}

/**
 * Class probabilities for `rows` rows of row-major `x`, into `out` (rows × nClasses).
 * Trees are the outer loop over blocks of rows, so one tree stays in cache while
 * a block of rows walks it; four rows walk a tree at once, so the processor can
 * overlap their (otherwise serial) chains of node loads.
 */
export function predictRows(m: TreeEnsemble, x: Float32Array, rows: number, out: Float64Array): void {
  const { roots, nFeatures: nf, nClasses: k } = m;
  const nTrees = roots.length;
  const g = groups(m);
  const average = m.transform === 'average';
  const acc = average ? out : new Float64Array(rows * g);
  if (average) out.fill(0, 0, rows * k);
  else for (let r = 0; r < rows; r++) for (let c = 0; c < g; c++) acc[r * g + c] = m.baseScore[c] ?? 0;
  const leaves = new Int32Array(4);
  const block = 64;
  for (let r0 = 0; r0 < rows; r0 += block) {
    const r1 = Math.min(rows, r0 + block);
    for (let t = 0; t < nTrees; t++) {
      const root = roots[t]!;
      let r = r0;
      for (; r + 4 <= r1; r += 4) {
        if (m.missingLeft) leaves4(m, root, x, r * nf, nf, leaves);
        else leaves4Fast(m, root, x, r * nf, nf, leaves);
        for (let j = 0; j < 4; j++) addLeaf(m, leaves[j]!, acc, r + j, t, average, k, g);
      }
      for (; r < r1; r++) addLeaf(m, leafNode(m, root, x, r * nf), acc, r, t, average, k, g);
    }
  }
  finish(m, acc, rows, out);
}

/** Add the leaf at node word offset `n` to row r's accumulator. */
function addLeaf(
  m: TreeEnsemble,
  n: number,
  acc: Float64Array,
  r: number,
  t: number,
  average: boolean,
  k: number,
  g: number,
): void {
  const nodes = m.nodes;
  const off = nodes[n + 2]!;
  if (!average) {
    acc[r * g + m.treeGroup[t]!]! += m.leafValues[off]!;
    return;
  }
  // Most forest leaves are pure: one class with probability 1, marked in the leaf's spare word.
  const pure = nodes[n + 1]!;
  if (pure > 0) {
    acc[r * k + pure - 1]! += 1;
    return;
  }
  const lv = m.leafValues;
  const o = r * k;
  for (let c = 0; c < k; c++) acc[o + c]! += lv[off + c]!;
}

/** Word offset of the leaf one row reaches from `root`. */
function leafNode(m: TreeEnsemble, root: number, x: Float32Array, xBase: number): number {
  const { nodes, thresholds: thr } = m;
  let n = root * NODE_STRIDE;
  let f = nodes[n]!;
  while (f >= 0) {
    const v = x[xBase + (f & FEATURE_MASK)]!;
    const left = v <= thr[n + 1]! || ((f & DEFAULT_LEFT) !== 0 && Number.isNaN(v));
    n = (left ? nodes[n + 2]! : nodes[n + 2]! + 1) * NODE_STRIDE;
    f = nodes[n]!;
  }
  return n;
}

/** The leaves four consecutive rows reach, walked in lock-step. */
function leaves4(
  m: TreeEnsemble,
  root: number,
  x: Float32Array,
  xa: number,
  nf: number,
  out: Int32Array,
): void {
  const { nodes, thresholds: thr } = m;
  const xb = xa + nf;
  const xc = xb + nf;
  const xd = xc + nf;
  let a = root * NODE_STRIDE;
  let b = a;
  let c = a;
  let d = a;
  let fa = nodes[a]!;
  let fb = fa;
  let fc = fa;
  let fd = fa;
  // The bitwise AND of the words is negative only when all four are leaves (-1).
  while ((fa & fb & fc & fd) >= 0) {
    if (fa >= 0) {
      const v = x[xa + (fa & FEATURE_MASK)]!;
      const left = v <= thr[a + 1]! || ((fa & DEFAULT_LEFT) !== 0 && Number.isNaN(v));
      a = (left ? nodes[a + 2]! : nodes[a + 2]! + 1) * NODE_STRIDE;
      fa = nodes[a]!;
    }
    if (fb >= 0) {
      const v = x[xb + (fb & FEATURE_MASK)]!;
      const left = v <= thr[b + 1]! || ((fb & DEFAULT_LEFT) !== 0 && Number.isNaN(v));
      b = (left ? nodes[b + 2]! : nodes[b + 2]! + 1) * NODE_STRIDE;
      fb = nodes[b]!;
    }
    if (fc >= 0) {
      const v = x[xc + (fc & FEATURE_MASK)]!;
      const left = v <= thr[c + 1]! || ((fc & DEFAULT_LEFT) !== 0 && Number.isNaN(v));
      c = (left ? nodes[c + 2]! : nodes[c + 2]! + 1) * NODE_STRIDE;
      fc = nodes[c]!;
    }
    if (fd >= 0) {
      const v = x[xd + (fd & FEATURE_MASK)]!;
      const left = v <= thr[d + 1]! || ((fd & DEFAULT_LEFT) !== 0 && Number.isNaN(v));
      d = (left ? nodes[d + 2]! : nodes[d + 2]! + 1) * NODE_STRIDE;
      fd = nodes[d]!;
    }
  }
  out[0] = a;
  out[1] = b;
  out[2] = c;
  out[3] = d;
}

/**
 * {@link leaves4} for ensembles where no split sends missing values left: one
 * comparison per step, turned into the child offset arithmetically (no branch
 * to mispredict); `!(v <= t)` sends NaN right, as every other walk does.
 */
function leaves4Fast(
  m: TreeEnsemble,
  root: number,
  x: Float32Array,
  xa: number,
  nf: number,
  out: Int32Array,
): void {
  const { nodes, thresholds: thr } = m;
  const xb = xa + nf;
  const xc = xb + nf;
  const xd = xc + nf;
  let a = root * NODE_STRIDE;
  let b = a;
  let c = a;
  let d = a;
  let fa = nodes[a]!;
  let fb = fa;
  let fc = fa;
  let fd = fa;
  // The bitwise AND of the words is negative only when all four are leaves (-1).
  while ((fa & fb & fc & fd) >= 0) {
    if (fa >= 0) {
      const v = x[xa + (fa & FEATURE_MASK)]!;
      a = (nodes[a + 2]! + +!(v <= thr[a + 1]!)) * NODE_STRIDE;
      fa = nodes[a]!;
    }
    if (fb >= 0) {
      const v = x[xb + (fb & FEATURE_MASK)]!;
      b = (nodes[b + 2]! + +!(v <= thr[b + 1]!)) * NODE_STRIDE;
      fb = nodes[b]!;
    }
    if (fc >= 0) {
      const v = x[xc + (fc & FEATURE_MASK)]!;
      c = (nodes[c + 2]! + +!(v <= thr[c + 1]!)) * NODE_STRIDE;
      fc = nodes[c]!;
    }
    if (fd >= 0) {
      const v = x[xd + (fd & FEATURE_MASK)]!;
      d = (nodes[d + 2]! + +!(v <= thr[d + 1]!)) * NODE_STRIDE;
      fd = nodes[d]!;
    }
  }
  out[0] = a;
  out[1] = b;
  out[2] = c;
  out[3] = d;
}

/**
 * Mark pure leaves of a forest (a distribution with one class at 1) in the
 * leaf's spare word as class + 1, so prediction adds 1 instead of K values,
 * and note whether any split routes missing values left. Derived from the
 * trees, never trusted from a file.
 */
export function markPureLeaves(m: TreeEnsemble): void {
  const { nodes, leafValues: lv, nClasses: k } = m;
  m.missingLeft = false;
  for (let o = 0; o < nodes.length; o += NODE_STRIDE) {
    if (nodes[o]! >= 0) {
      if ((nodes[o]! & DEFAULT_LEFT) !== 0) m.missingLeft = true;
      continue;
    }
    nodes[o + 1] = 0;
    if (m.transform !== 'average') continue;
    const off = nodes[o + 2]!;
    let one = -1;
    let others = 0;
    for (let c = 0; c < k; c++) {
      const v = lv[off + c]!;
      if (v === 1) one = c;
      else if (v !== 0) others++;
    }
    if (one >= 0 && others === 0) nodes[o + 1] = one + 1;
  }
}

function finish(m: TreeEnsemble, acc: Float64Array, rows: number, out: Float64Array): void {
  const k = m.nClasses;
  if (m.transform === 'average') {
    const inv = 1 / m.roots.length;
    for (let i = 0; i < rows * k; i++) out[i]! *= inv;
    return;
  }
  if (m.transform === 'sigmoid') {
    for (let r = 0; r < rows; r++) {
      const p = 1 / (1 + Math.exp(-acc[r]!));
      out[r * 2] = 1 - p;
      out[r * 2 + 1] = p;
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * k;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < k; c++) if (acc[o + c]! > max) max = acc[o + c]!;
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp(acc[o + c]! - max);
      out[o + c] = e;
      sum += e;
    }
    for (let c = 0; c < k; c++) out[o + c]! /= sum;
  }
}

/** Index of the largest probability (the first on ties). */
export function argmax(p: ArrayLike<number>, offset = 0, k = p.length): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (p[offset + c]! > p[offset + best]!) best = c;
  return best;
}
