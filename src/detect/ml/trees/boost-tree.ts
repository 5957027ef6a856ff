/**
 * One gradient-boosting regression tree on binned features, fitted to
 * first- and second-order gradients (the Newton step of XGBoost and
 * LightGBM): gain = G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ), leaf = −G/(H+λ).
 * Histograms are built for the smaller child only; the larger child's is
 * the parent's minus the smaller's.
 */
import type { BinnedMatrix } from '../binning.ts';
import { TreeBuilder } from './builder.ts';
import { type FlatTree, NODE_STRIDE } from './ensemble.ts';

export interface BoostTreeParams {
  /** Deepest split level (root is depth 0); 0 means unlimited (then maxLeaves must be set). */
  maxDepth: number;
  /** Most leaves; 0 means unlimited (then maxDepth must be set). */
  maxLeaves: number;
  /** `depthwise` splits every splittable leaf level by level; `lossguide` always splits the best leaf (LightGBM). */
  growPolicy: 'depthwise' | 'lossguide';
  /** L2 regularisation of leaf weights. */
  lambda: number;
  /** Least gain for a split. */
  gamma: number;
  /** Least hessian sum in a child. */
  minChildWeight: number;
  /** Shrinkage applied to leaf values. */
  learningRate: number;
}

export interface BoostTreeInput {
  binned: BinnedMatrix;
  grad: Float32Array;
  hess: Float32Array;
  /** Rows the tree is fitted on (after row sub-sampling). */
  rows: Uint32Array;
  /** Features the tree may split on (after column sub-sampling). */
  features: Int32Array;
}

interface Best {
  gain: number;
  slot: number;
  bin: number;
  gl: number;
  hl: number;
}

interface Leaf {
  node: number;
  start: number;
  end: number;
  g: number;
  h: number;
  depth: number;
  hist: Float64Array | undefined;
  best: Best | undefined;
}

/** Histogram buffers are reused across trees (a worker grows thousands of them). */
const spare: Float64Array[] = [];
function takeHist(size: number): Float64Array {
  const h = spare.pop();
  if (h && h.length === size) {
    h.fill(0);
    return h;
  }
  return new Float64Array(size);
}
function giveHist(h: Float64Array | undefined): void {
  if (h && spare.length < 256) spare.push(h);
}

/**
 * Grow one tree. Leaf values already include the learning rate.
 *
 * @example
 * const tree = growBoostTree({ binned, grad, hess, rows, features }, params);
 */
export function growBoostTree(
  input: BoostTreeInput,
  p: BoostTreeParams,
): FlatTree & { binSplit: Int32Array } {
  const { binned, grad, hess, features } = input;
  const { rows: nRows, bins, edges, nBins } = binned;
  const idx = Uint32Array.from(input.rows);
  const nf = features.length;
  const histSize = nf * 512;
  const og = new Float64Array(idx.length);
  const oh = new Float64Array(idx.length);
  const tree = new TreeBuilder(64);
  const lambda = p.lambda;
  const maxDepth = p.maxDepth > 0 ? p.maxDepth : Number.MAX_SAFE_INTEGER;
  const maxLeaves = p.maxLeaves > 0 ? p.maxLeaves : Number.MAX_SAFE_INTEGER;

  const build = (leaf: Leaf): Float64Array => {
    const hist = takeHist(histSize);
    buildHistogram(hist, idx, leaf.start, leaf.end, grad, hess, og, oh, bins, nRows, features);
    return hist;
  };
  const findBest = (leaf: Leaf): Best | undefined =>
    leaf.h < 2 * p.minChildWeight ? undefined : bestSplit(leaf.hist!, leaf.g, leaf.h, features, nBins, p);

  let g0 = 0;
  let h0 = 0;
  for (let i = 0; i < idx.length; i++) {
    g0 += grad[idx[i]!]!;
    h0 += hess[idx[i]!]!;
  }
  const root: Leaf = {
    node: tree.alloc(1),
    start: 0,
    end: idx.length,
    g: g0,
    h: h0,
    depth: 0,
    hist: undefined,
    best: undefined,
  };
  const open: Leaf[] = [];
  const done: Leaf[] = [];
  if (maxDepth > 0 && maxLeaves > 1 && idx.length > 1) {
    root.hist = build(root);
    root.best = findBest(root);
  }
  if (root.best) open.push(root);
  else done.push(root);
  let leaves = 1;

  while (open.length) {
    let k = 0;
    if (p.growPolicy === 'lossguide')
      for (let i = 1; i < open.length; i++) if (open[i]!.best!.gain > open[k]!.best!.gain) k = i;
    const leaf = open.splice(k, 1)[0]!;
    if (leaves >= maxLeaves) {
      done.push(leaf);
      continue;
    }
    const best = leaf.best!;
    const f = features[best.slot]!;
    const col = f * nRows;
    let i = leaf.start;
    let j = leaf.end - 1;
    let nextBin = nBins[f]! - 1;
    while (i <= j) {
      const r = idx[i]!;
      const b = bins[col + r]!;
      if (b <= best.bin) i++;
      else {
        if (b < nextBin) nextBin = b;
        idx[i] = idx[j]!;
        idx[j] = r;
        j--;
      }
    }
    const cut = (best.bin + nextBin - 1) >> 1;
    const leftNode = tree.setSplit(leaf.node, f, edges[f]![cut]!, cut);
    leaves++;
    const depth = leaf.depth + 1;
    const l: Leaf = {
      node: leftNode,
      start: leaf.start,
      end: i,
      g: best.gl,
      h: best.hl,
      depth,
      hist: undefined,
      best: undefined,
    };
    const r: Leaf = {
      node: leftNode + 1,
      start: i,
      end: leaf.end,
      g: leaf.g - best.gl,
      h: leaf.h - best.hl,
      depth,
      hist: undefined,
      best: undefined,
    };
    if (depth < maxDepth && leaves < maxLeaves) {
      const [small, large] = l.end - l.start <= r.end - r.start ? [l, r] : [r, l];
      small.hist = build(small);
      const parent = leaf.hist!;
      subtractInto(parent, small.hist);
      large.hist = parent;
      leaf.hist = undefined;
      for (const c of [l, r]) {
        c.best = findBest(c);
        if (c.best) open.push(c);
        else {
          giveHist(c.hist);
          c.hist = undefined;
          done.push(c);
        }
      }
    } else {
      giveHist(leaf.hist);
      leaf.hist = undefined;
      done.push(l, r);
    }
  }
  for (const leaf of done) {
    giveHist(leaf.hist);
    tree.setLeaf(leaf.node, [(-leaf.g / (leaf.h + lambda)) * p.learningRate]);
  }
  const flat = tree.finish();
  return { ...flat, binSplit: tree.binSplit.slice(0, flat.nodes.length / NODE_STRIDE) };
}

/** Sum gradients and hessians per (feature, bin) over the rows idx[start, end). */
function buildHistogram(
  hist: Float64Array,
  idx: Uint32Array,
  start: number,
  end: number,
  grad: Float32Array,
  hess: Float32Array,
  og: Float64Array,
  oh: Float64Array,
  bins: Uint8Array,
  nRows: number,
  features: Int32Array,
): void {
  // Gather the node's gradients once, contiguously, instead of once per feature.
  const m = end - start;
  for (let i = 0; i < m; i++) {
    const r = idx[start + i]!;
    og[i] = grad[r]!;
    oh[i] = hess[r]!;
  }
  const nf = features.length;
  let s = 0;
  // Four features per pass over the rows: the row index and gradients are loaded once for four histograms.
  for (; s + 4 <= nf; s += 4) {
    const c0 = features[s]! * nRows;
    const c1 = features[s + 1]! * nRows;
    const c2 = features[s + 2]! * nRows;
    const c3 = features[s + 3]! * nRows;
    const o0 = s << 9;
    const o1 = o0 + 512;
    const o2 = o0 + 1024;
    const o3 = o0 + 1536;
    for (let i = 0; i < m; i++) {
      const r = idx[start + i]!;
      const g = og[i]!;
      const h = oh[i]!;
      const b0 = o0 + (bins[c0 + r]! << 1);
      const b1 = o1 + (bins[c1 + r]! << 1);
      const b2 = o2 + (bins[c2 + r]! << 1);
      const b3 = o3 + (bins[c3 + r]! << 1);
      hist[b0]! += g;
      hist[b0 + 1]! += h;
      hist[b1]! += g;
      hist[b1 + 1]! += h;
      hist[b2]! += g;
      hist[b2 + 1]! += h;
      hist[b3]! += g;
      hist[b3 + 1]! += h;
    }
  }
  for (; s < nf; s++) {
    const col = features[s]! * nRows;
    const o = s << 9;
    for (let i = 0; i < m; i++) {
      const b = o + (bins[col + idx[start + i]!]! << 1);
      hist[b]! += og[i]!;
      hist[b + 1]! += oh[i]!;
    }
  }
}

/** The split of largest gain over every feature and bin of a node's histogram, if any beats gamma. */
function bestSplit(
  hist: Float64Array,
  G: number,
  H: number,
  features: Int32Array,
  nBins: Uint16Array,
  p: BoostTreeParams,
): Best | undefined {
  const lambda = p.lambda;
  const mcw = p.minChildWeight;
  const parentScore = (G * G) / (H + lambda);
  let bestGain = p.gamma;
  let bestSlot = -1;
  let bestBin = -1;
  let bestGl = 0;
  let bestHl = 0;
  const nf = features.length;
  for (let s = 0; s < nf; s++) {
    const nb = nBins[features[s]!]!;
    if (nb <= 1) continue;
    const o = s << 9;
    let gl = 0;
    let hl = 0;
    for (let b = 0; b < nb - 1; b++) {
      const hb = hist[o + (b << 1) + 1]!;
      if (hb === 0) continue;
      gl += hist[o + (b << 1)]!;
      hl += hb;
      if (hl < mcw) continue;
      const hr = H - hl;
      if (hr < mcw) break;
      const gr = G - gl;
      const gain = (gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda) - parentScore;
      if (gain > bestGain) {
        bestGain = gain;
        bestSlot = s;
        bestBin = b;
        bestGl = gl;
        bestHl = hl;
      }
    }
  }
  return bestSlot < 0 ? undefined : { gain: bestGain, slot: bestSlot, bin: bestBin, gl: bestGl, hl: bestHl };
}

/** parent −= child, element-wise: the larger child's histogram from the parent's and the smaller's. */
function subtractInto(parent: Float64Array, child: Float64Array): void {
  for (let q = 0; q < parent.length; q++) parent[q]! -= child[q]!;
}

/**
 * Add a tree's output for every row of a binned matrix to `margins[offset + i]`,
 * walking the tree on bins (the same decisions as on raw values).
 */
export function addTreeOutput(
  tree: FlatTree & { binSplit: Int32Array },
  binned: BinnedMatrix,
  margins: Float64Array,
  offset: number,
): void {
  const { nodes, leafValues, binSplit } = tree;
  const { rows, bins } = binned;
  for (let i = 0; i < rows; i++) {
    let n = 0;
    let f = nodes[0]!;
    while (f >= 0) {
      const left = bins[f * rows + i]! <= binSplit[n]!;
      n = left ? nodes[n * NODE_STRIDE + 2]! : nodes[n * NODE_STRIDE + 2]! + 1;
      f = nodes[n * NODE_STRIDE]!;
    }
    margins[offset + i]! += leafValues[nodes[n * NODE_STRIDE + 2]!]!;
  }
}
