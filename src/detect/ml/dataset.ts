/**
 * The in-memory training table: a row-major float32 feature matrix, class
 * indices and their names. float32 because that is what the trees compare
 * (and what XGBoost compares), so training and serving agree to the bit.
 */
import { AisocError } from '../../errors.ts';

export interface Dataset {
  readonly rows: number;
  readonly cols: number;
  /** Row-major features, rows × cols. */
  readonly x: Float32Array;
  /** Class index of each row, into `labels`. */
  readonly y: Int32Array;
  readonly labels: readonly string[];
  readonly featureNames: readonly string[];
  /** Group of each row (e.g. the Flow ID), so that splits never separate one group's rows. */
  readonly groups?: readonly string[];
  /** Time of each row (ms since the epoch; a CSV `Timestamp`, an event's time), for splits by time. */
  readonly times?: Float64Array;
}

/**
 * Build a dataset from row arrays, checking shapes and finiteness.
 *
 * @example
 * const ds = makeDataset([[0, 1], [1, 0]], ['a', 'b'], ['f0', 'f1']);
 */
export function makeDataset(
  rows: ArrayLike<number>[],
  labels: readonly string[],
  featureNames: readonly string[],
  options: { classes?: readonly string[]; groups?: readonly string[]; times?: ArrayLike<number> } = {},
): Dataset {
  const cols = featureNames.length;
  if (rows.length !== labels.length)
    throw new AisocError('AISOC_ERR_VALIDATION', `${rows.length} rows but ${labels.length} labels`);
  const classes = options.classes ?? [...new Set(labels)].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const x = new Float32Array(rows.length * cols);
  const y = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    if (r.length !== cols)
      throw new AisocError('AISOC_ERR_VALIDATION', `row ${i} has ${r.length} features; expected ${cols}`, {
        field: `rows[${i}]`,
      });
    for (let f = 0; f < cols; f++) {
      const v = r[f]!;
      if (!Number.isFinite(v))
        throw new AisocError('AISOC_ERR_VALIDATION', `row ${i}, feature ${featureNames[f]} is ${v}`, {
          field: `rows[${i}].${featureNames[f]}`,
        });
      x[i * cols + f] = v;
    }
    const c = index.get(labels[i]!);
    if (c === undefined)
      throw new AisocError('AISOC_ERR_VALIDATION', `row ${i} has the unknown label ${labels[i]}`, {
        field: `labels[${i}]`,
      });
    y[i] = c;
  });
  if (options.times && options.times.length !== rows.length)
    throw new AisocError('AISOC_ERR_VALIDATION', `${rows.length} rows but ${options.times.length} times`, {
      field: 'times',
    });
  const times = options.times ? Float64Array.from(options.times) : undefined;
  return { rows: rows.length, cols, x, y, labels: classes, featureNames, groups: options.groups, times };
}

/** The rows of `ds` at `indices`, in that order. */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const n = indices.length;
  const x = new Float32Array(n * ds.cols);
  const y = new Int32Array(n);
  const groups = ds.groups ? new Array<string>(n) : undefined;
  const times = ds.times ? new Float64Array(n) : undefined;
  for (let k = 0; k < n; k++) {
    const i = indices[k]!;
    x.set(ds.x.subarray(i * ds.cols, (i + 1) * ds.cols), k * ds.cols);
    y[k] = ds.y[i]!;
    if (groups) groups[k] = ds.groups![i]!;
    if (times) times[k] = ds.times![i]!;
  }
  return { rows: n, cols: ds.cols, x, y, labels: ds.labels, featureNames: ds.featureNames, groups, times };
}

/**
 * The same rows without some feature columns (e.g. `Dst Port`, to measure
 * how much a model leans on it); unknown names are an error naming them.
 *
 * @example
 * const noPort = dropColumns(ds, ['Dst Port']);
 */
export function dropColumns(ds: Dataset, names: readonly string[]): Dataset {
  const unknown = names.filter((n) => !ds.featureNames.includes(n));
  if (unknown.length)
    throw new AisocError('AISOC_ERR_VALIDATION', `No feature named ${unknown.join(', ')}`, {
      field: unknown[0],
    });
  const keep = ds.featureNames.flatMap((n, i) => (names.includes(n) ? [] : [i]));
  const x = new Float32Array(ds.rows * keep.length);
  for (let r = 0; r < ds.rows; r++)
    for (let k = 0; k < keep.length; k++) x[r * keep.length + k] = ds.x[r * ds.cols + keep[k]!]!;
  return { ...ds, cols: keep.length, x, featureNames: keep.map((i) => ds.featureNames[i]!) };
}

/** Rows per class. */
export function classCounts(ds: Pick<Dataset, 'y' | 'labels'>): number[] {
  const counts = new Array<number>(ds.labels.length).fill(0);
  for (let i = 0; i < ds.y.length; i++) counts[ds.y[i]!]!++;
  return counts;
}

/**
 * Per-class weights: `balanced` gives each class the same total weight
 * (n / (k · n_c), as scikit-learn does); `none` weighs every row 1.
 */
export function classWeights(ds: Pick<Dataset, 'y' | 'labels'>, mode: 'none' | 'balanced'): Float64Array {
  const k = ds.labels.length;
  const w = new Float64Array(k).fill(1);
  if (mode === 'none') return w;
  const counts = classCounts(ds);
  const n = ds.y.length;
  for (let c = 0; c < k; c++) w[c] = counts[c]! > 0 ? n / (k * counts[c]!) : 0;
  return w;
}
