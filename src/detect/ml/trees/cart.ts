/**
 * Classification trees (CART, Gini impurity) grown on binned features: the
 * building block of the random forest and the `cart` model. Each node scans
 * a class histogram per candidate feature instead of sorting its rows.
 */
import type { BinnedMatrix } from '../binning.ts';
import type { Rng } from '../rng.ts';
import { TreeBuilder } from './builder.ts';
import type { FlatTree } from './ensemble.ts';

export interface CartParams {
  /** Deepest node allowed (root is depth 0); 0 means unlimited. */
  maxDepth: number;
  /** A node with fewer rows is a leaf. */
  minSamplesSplit: number;
  /** Each child must keep at least this many rows. */
  minSamplesLeaf: number;
  /** Non-constant features examined per node (all features for plain CART). */
  maxFeatures: number;
}

export interface CartInput {
  binned: BinnedMatrix;
  y: Int32Array;
  nClasses: number;
  /** Weight of each row (bootstrap multiplicity × class weight); rows with weight 0 are not in the tree. */
  weight: Float64Array;
}

/**
 * Grow one tree. The returned leaves hold class distributions (summing to 1).
 *
 * @example
 * const tree = growCart({ binned, y, nClasses: 3, weight }, { maxDepth: 0, minSamplesSplit: 2, minSamplesLeaf: 1, maxFeatures: 4 }, rng);
 */
export function growCart(input: CartInput, params: CartParams, rng: Rng): FlatTree {
  const { binned, y, nClasses: K, weight } = input;
  const { rows, cols, bins, edges, nBins } = binned;
  let m = 0;
  for (let i = 0; i < rows; i++) if (weight[i]! > 0) m++;
  const idx = new Uint32Array(m);
  for (let i = 0, j = 0; i < rows; i++) if (weight[i]! > 0) idx[j++] = i;

  const tree = new TreeBuilder(256);
  const hist = new Float64Array(256 * K);
  const cnt = new Int32Array(256);
  const left = new Float64Array(K);
  const right = new Float64Array(K);
  const perm = new Int32Array(cols);
  // The node's classes and weights, gathered once per node in row order so that each
  // feature scan reads them sequentially and only the bins at random.
  const ny = new Int32Array(m);
  const nw = new Float64Array(m);
  const maxDepth = params.maxDepth > 0 ? params.maxDepth : Number.MAX_SAFE_INTEGER;
  const msl = Math.max(1, params.minSamplesLeaf);
  const mss = Math.max(2, params.minSamplesSplit, 2 * msl);
  const useCounts = msl > 1;

  interface Pending {
    node: number;
    start: number;
    end: number;
    depth: number;
    totals: Float64Array;
    /** Features already found constant in an ancestor (so constant here too): never scanned again. */
    constant: Uint8Array;
  }
  const rootTotals = new Float64Array(K);
  for (let i = 0; i < m; i++) rootTotals[y[idx[i]!]!]! += weight[idx[i]!]!;
  const rootConstant = new Uint8Array(cols);
  for (let f = 0; f < cols; f++) if (nBins[f]! <= 1) rootConstant[f] = 1;
  const stack: Pending[] = [
    { node: tree.alloc(1), start: 0, end: m, depth: 0, totals: rootTotals, constant: rootConstant },
  ];

  while (stack.length) {
    const p = stack.pop()!;
    const n = p.end - p.start;
    const tot = p.totals;
    let W = 0;
    let totSq = 0;
    let classes = 0;
    for (let c = 0; c < K; c++) {
      W += tot[c]!;
      totSq += tot[c]! * tot[c]!;
      if (tot[c]! > 0) classes++;
    }
    if (n < mss || p.depth >= maxDepth || classes <= 1 || W <= 0) {
      leaf(tree, p.node, tot, W);
      continue;
    }

    // Sub-sample features without replacement; constant ones do not count towards maxFeatures
    // (as scikit-learn), and those known constant from an ancestor are not scanned at all.
    const constant = p.constant.slice();
    let nFree = 0;
    for (let f = 0; f < cols; f++) if (!constant[f]) perm[nFree++] = f;
    for (let i = p.start; i < p.end; i++) {
      const r = idx[i]!;
      ny[i - p.start] = y[r]!;
      nw[i - p.start] = weight[r]!;
    }
    let examined = 0;
    let bestScore = totSq / W + 1e-12 * W;
    let bestF = -1;
    let bestBin = -1;
    for (let k = 0; k < nFree && examined < params.maxFeatures; k++) {
      const j = k + rng.int(nFree - k);
      const f = perm[j]!;
      perm[j] = perm[k]!;
      perm[k] = f;
      const col = f * rows;
      let lo = 255;
      let hi = 0;
      if (useCounts) {
        for (let i = p.start, j = 0; i < p.end; i++, j++) {
          const b = bins[col + idx[i]!]!;
          hist[b * K + ny[j]!]! += nw[j]!;
          cnt[b]!++;
          if (b < lo) lo = b;
          if (b > hi) hi = b;
        }
      } else {
        // One row per child is the only size rule: positive weights on both sides say it, no counts needed.
        for (let i = p.start, j = 0; i < p.end; i++, j++) {
          const b = bins[col + idx[i]!]!;
          hist[b * K + ny[j]!]! += nw[j]!;
          if (b < lo) lo = b;
          if (b > hi) hi = b;
        }
      }
      if (lo === hi) {
        constant[f] = 1;
        clear(hist, cnt, lo, hi, K);
        continue;
      }
      examined++;
      left.fill(0);
      right.set(tot);
      let lSq = 0;
      let rSq = totSq;
      let wl = 0;
      let nl = 0;
      for (let b = lo; b < hi; b++) {
        const nb = useCounts ? cnt[b]! : 1;
        if (nb === 0) continue;
        const o = b * K;
        for (let c = 0; c < K; c++) {
          const h = hist[o + c]!;
          if (h === 0) continue;
          lSq += h * (2 * left[c]! + h);
          rSq += h * (h - 2 * right[c]!);
          left[c]! += h;
          right[c]! -= h;
          wl += h;
        }
        if (useCounts) {
          nl += nb;
          if (nl < msl) continue;
          if (n - nl < msl) break;
        }
        const wr = W - wl;
        if (wl <= 0 || wr <= 0) continue;
        // Maximising Σ L_c²/W_L + Σ R_c²/W_R minimises the weighted Gini impurity of the children.
        const score = lSq / wl + rSq / wr;
        if (score > bestScore) {
          bestScore = score;
          bestF = f;
          bestBin = b;
        }
      }
      clear(hist, cnt, lo, hi, K);
    }
    if (bestF < 0) {
      leaf(tree, p.node, tot, W);
      continue;
    }

    const col = bestF * rows;
    const lt = new Float64Array(K);
    const rt = new Float64Array(K);
    let nextBin = 255;
    let i = p.start;
    let j = p.end - 1;
    while (i <= j) {
      const r = idx[i]!;
      const b = bins[col + r]!;
      if (b <= bestBin) {
        lt[y[r]!]! += weight[r]!;
        i++;
      } else {
        rt[y[r]!]! += weight[r]!;
        if (b < nextBin) nextBin = b;
        idx[i] = idx[j]!;
        idx[j] = r;
        j--;
      }
    }
    // Threshold halfway (in bins) between the last bin on the left and the first on the right,
    // the binned analogue of splitting midway between two observed values.
    const cut = (bestBin + nextBin - 1) >> 1;
    const leftNode = tree.setSplit(p.node, bestF, edges[bestF]![cut]!, cut);
    // Right child pushed first so the left subtree is grown first (depth-first, left to right).
    stack.push({ node: leftNode + 1, start: i, end: p.end, depth: p.depth + 1, totals: rt, constant });
    stack.push({ node: leftNode, start: p.start, end: i, depth: p.depth + 1, totals: lt, constant });
  }
  return tree.finish();
}

function clear(hist: Float64Array, cnt: Int32Array, lo: number, hi: number, K: number): void {
  hist.fill(0, lo * K, (hi + 1) * K);
  cnt.fill(0, lo, hi + 1);
}

function leaf(tree: TreeBuilder, node: number, tot: Float64Array, W: number): void {
  const v = new Float64Array(tot.length);
  if (W > 0) for (let c = 0; c < tot.length; c++) v[c] = tot[c]! / W;
  tree.setLeaf(node, v);
}
