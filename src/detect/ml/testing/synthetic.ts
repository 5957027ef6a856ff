/**
 * Synthetic classification data with a known structure, for tests: the
 * class is decided by two of the features (the rest is noise), so a model
 * that learns anything must beat the majority-class baseline by far.
 */
import { type Dataset, makeDataset } from '../dataset.ts';
import { Rng } from '../rng.ts';

/**
 * `rows` rows, `noise` extra noise columns, 3 classes:
 * a if x0 < 0.3; b if x0 ≥ 0.3 and x1 < 0.6; c otherwise; `flip` of labels randomised.
 *
 * @example
 * const ds = structured(2000, 5, 0.02, 1);
 */
export function structured(rows: number, noise: number, flip: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const x: number[][] = [];
  const y: string[] = [];
  const groups: string[] = [];
  for (let i = 0; i < rows; i++) {
    const r = [rng.float(), rng.float()];
    for (let k = 0; k < noise; k++) r.push(rng.float() * 100);
    let label = r[0]! < 0.3 ? 'a' : r[1]! < 0.6 ? 'b' : 'c';
    if (rng.float() < flip) label = ['a', 'b', 'c'][rng.int(3)]!;
    x.push(r);
    y.push(label);
    groups.push(`g${i % Math.max(1, Math.floor(rows / 3))}`);
  }
  const names = ['x0', 'x1', ...Array.from({ length: noise }, (_, k) => `n${k}`)];
  return makeDataset(x, y, names, { groups });
}

/** Macro-F1 of always predicting the most frequent class of `train` on `test`. */
export function majorityBaselineF1(train: Dataset, test: Dataset): number {
  const counts = new Array<number>(train.labels.length).fill(0);
  for (const c of train.y) counts[c]!++;
  const major = counts.indexOf(Math.max(...counts));
  let tp = 0;
  let support = 0;
  for (const c of test.y) {
    if (c === major) tp++;
    support++;
  }
  // Only the majority class has a non-zero F1: precision tp/support, recall 1 (when present).
  const precision = support ? tp / support : 0;
  const f1 = tp ? (2 * precision) / (precision + 1) : 0;
  return f1 / test.labels.length;
}
