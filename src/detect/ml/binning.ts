/**
 * Histogram binning: each feature's values are cut into at most `maxBins`
 * ordered bins (one per distinct value when there are few, quantiles
 * otherwise), so that split search scans a few hundred bins instead of
 * sorting the node's rows. A split "bin ≤ b" is stored as the real-valued
 * threshold `edges[f][b]`, so a trained tree predicts on raw features and
 * serving never bins.
 */

/** Binned training data, column-major (`bins[f * rows + i]`) so one feature's column is contiguous. */
export interface BinnedMatrix {
  readonly rows: number;
  readonly cols: number;
  /** Bin index of each value, column-major. */
  readonly bins: Uint8Array;
  /** Per feature: thresholds between bins; `x ≤ edges[f][b]` ⇔ bin ≤ b. Length nBins[f] - 1. */
  readonly edges: Float32Array[];
  /** Bins used per feature (1 means the feature is constant and can never split). */
  readonly nBins: Uint16Array;
}

export interface BinEdges {
  edges: Float32Array[];
  nBins: Uint16Array;
}

/** Upper limit of bins per feature; bins are stored in one byte. */
export const MAX_BINS = 256;

/**
 * Compute bin edges per feature from row-major float32 data.
 *
 * @example
 * const { edges, nBins } = computeBinEdges(x, rows, cols, 255);
 */
export function computeBinEdges(x: Float32Array, rows: number, cols: number, maxBins = 255): BinEdges {
  const edges: Float32Array[] = [];
  const nBins = new Uint16Array(cols);
  const column = new Float32Array(rows);
  for (let f = 0; f < cols; f++) {
    for (let i = 0; i < rows; i++) column[i] = x[i * cols + f]!;
    const e = edgesOfColumn(column, maxBins);
    edges.push(e);
    nBins[f] = e.length + 1;
  }
  return { edges, nBins };
}

/** Bin edges of one column (sorted in place). */
export function edgesOfColumn(column: Float32Array, maxBins: number): Float32Array {
  if (maxBins < 2 || maxBins > MAX_BINS) throw new RangeError(`maxBins must be in 2…${MAX_BINS}`);
  column.sort();
  return edgesOfSorted(column, maxBins);
}

/**
 * Edges and bins of one column at once: a radix sort of the float32 bit
 * patterns carrying row numbers (linear time, where a comparison sort is
 * n log n), then one walk in sorted order hands out bin numbers — no binary
 * search per value. Gives exactly what {@link edgesOfColumn} and
 * {@link binOf} give.
 *
 * @example
 * const { edges, bins } = binColumn(values, 255);
 */
export function binColumn(column: Float32Array, maxBins: number): { edges: Float32Array; bins: Uint8Array } {
  if (maxBins < 2 || maxBins > MAX_BINS) throw new RangeError(`maxBins must be in 2…${MAX_BINS}`);
  const n = column.length;
  const order = radixOrder(column);
  const sorted = new Float32Array(n);
  for (let i = 0; i < n; i++) sorted[i] = column[order[i]!]!;
  const edges = edgesOfSorted(sorted, maxBins);
  const bins = new Uint8Array(n);
  let b = 0;
  for (let i = 0; i < n; i++) {
    const v = sorted[i]!;
    while (b < edges.length && v > edges[b]!) b++;
    bins[order[i]!] = b;
  }
  return { edges, bins };
}

/** Row order that sorts a float32 column ascending (LSD radix sort, 4 × 8 bits, stable). */
function radixOrder(column: Float32Array): Uint32Array {
  const n = column.length;
  const bits = new Uint32Array(column.buffer, column.byteOffset, n);
  // Map IEEE-754 bit patterns to unsigned keys in the same order as the numbers (−0 sorts before +0,
  // which no threshold can tell apart, so their order does not matter).
  let keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const u = bits[i]!;
    keys[i] = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
  }
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let keys2 = new Uint32Array(n);
  let order2 = new Uint32Array(n);
  const count = new Uint32Array(256);
  for (let shift = 0; shift < 32; shift += 8) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(keys[i]! >>> shift) & 0xff]!++;
    let sum = 0;
    for (let d = 0; d < 256; d++) {
      const c = count[d]!;
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const pos = count[(k >>> shift) & 0xff]!++;
      keys2[pos] = k;
      order2[pos] = order[i]!;
    }
    [keys, keys2] = [keys2, keys];
    [order, order2] = [order2, order];
  }
  return order;
}

/** Thresholds for one sorted column: between distinct values, grouping them into near-equal-count bins. */
function edgesOfSorted(sorted: Float32Array, maxBins: number): Float32Array {
  const n = sorted.length;
  const distinct: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = sorted[i]!;
    if (distinct.length && distinct[distinct.length - 1] === v) counts[counts.length - 1]!++;
    else {
      distinct.push(v);
      counts.push(1);
    }
  }
  const out: number[] = [];
  if (distinct.length <= maxBins) {
    for (let k = 0; k + 1 < distinct.length; k++) out.push(between(distinct[k]!, distinct[k + 1]!));
    return Float32Array.from(out);
  }
  // Greedy quantile cuts: close a bin once it holds its share of the rows still unassigned,
  // so a value holding half the rows gets a bin of its own and the rest share the others fairly.
  let remaining = n;
  let binsLeft = maxBins;
  let acc = 0;
  for (let k = 0; k < distinct.length - 1; k++) {
    acc += counts[k]!;
    const target = remaining / binsLeft;
    if (acc >= target || distinct.length - 1 - k < binsLeft) {
      out.push(between(distinct[k]!, distinct[k + 1]!));
      remaining -= acc;
      acc = 0;
      binsLeft--;
      if (binsLeft === 1) break;
    }
  }
  return Float32Array.from(out);
}

/** A float32 threshold t with a ≤ t < b: the midpoint when it is representable between them, else a. */
function between(a: number, b: number): number {
  const m = Math.fround((a + b) / 2);
  return m >= a && m < b ? m : a;
}

/** The bin of one value: the first b with v ≤ edges[b], else the last bin. */
export function binOf(edges: Float32Array, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v <= edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Bin row-major data with given edges into a column-major matrix.
 *
 * @example
 * const binned = applyBins(x, rows, cols, computeBinEdges(x, rows, cols));
 */
export function applyBins(x: Float32Array, rows: number, cols: number, be: BinEdges): BinnedMatrix {
  const bins = new Uint8Array(new SharedArrayBuffer(Math.max(1, rows * cols)));
  for (let f = 0; f < cols; f++) {
    const e = be.edges[f]!;
    const base = f * rows;
    if (e.length === 0) continue;
    for (let i = 0; i < rows; i++) bins[base + i] = binOf(e, x[i * cols + f]!);
  }
  return { rows, cols, bins, edges: be.edges, nBins: be.nBins };
}
