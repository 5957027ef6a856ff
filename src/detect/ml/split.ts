/**
 * Train/test splits.
 *
 * - By time within each class (the default for training and the headline
 *   of the benchmarks): each class's rows are sorted by their timestamp and
 *   the latest share is held out, so a model is scored on flows that came
 *   after everything it learned from — as it would be when deployed. A hash
 *   split of CICIDS2017 by `Flow ID` is close to a random row split (most
 *   Flow IDs are one row, and most classes come from one host pair in one
 *   burst), so it scores interpolation inside each burst.
 * - Grouped: every row of a group (a CICFlowMeter `Flow ID`, a CloudTrail
 *   identity-minute) lands on the same side, chosen by a seeded hash of the
 *   group. Kept for data without timestamps and for old model files.
 */
import { AisocError } from '../../errors.ts';

/** FNV-1a over the UTF-16 code units of a string, then a final avalanche; 32 bits. */
export function hash32(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Where a group falls in [0, 1) for a seed. */
export function groupPosition(group: string, seed: number): number {
  return hash32(group, seed) / 4294967296;
}

export interface Split {
  train: number[];
  test: number[];
}

/**
 * Split row indices so that a `testFraction` share of groups (not rows) is held out.
 *
 * @example
 * const { train, test } = groupedSplit(flowIds, 0.2, 1);
 */
export function groupedSplit(groups: readonly string[], testFraction: number, seed: number): Split {
  const train: number[] = [];
  const test: number[] = [];
  const memo = new Map<string, boolean>();
  groups.forEach((g, i) => {
    let isTest = memo.get(g);
    if (isTest === undefined) {
      isTest = groupPosition(g, seed) < testFraction;
      memo.set(g, isTest);
    }
    (isTest ? test : train).push(i);
  });
  return { train, test };
}

/**
 * Hold out the latest `testFraction` of each class's rows by time: within a
 * class, rows sorted by (time, row index) — the index breaks ties so the
 * split is the same on every run — and the last round(n × fraction) go to
 * test. A class with two rows or more keeps at least one row on each side;
 * a class of one row trains only. A time that is not a finite number is an
 * error naming the row: silently placing it would bias the split.
 *
 * @example
 * const { train, test } = timeSplitWithinClass(ds.times!, ds.y, 0.3);
 */
export function timeSplitWithinClass(
  times: ArrayLike<number>,
  classes: ArrayLike<number>,
  testFraction: number,
): Split {
  if (times.length !== classes.length)
    throw new AisocError('AISOC_ERR_VALIDATION', `${times.length} times but ${classes.length} rows`, {
      field: 'times',
    });
  if (!(testFraction >= 0 && testFraction < 1))
    throw new AisocError('AISOC_ERR_VALIDATION', 'The test fraction must be in [0, 1).', {
      field: 'test_fraction',
    });
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < classes.length; i++) {
    if (!Number.isFinite(times[i]))
      throw new AisocError('AISOC_ERR_VALIDATION', `row ${i} has no valid time to split by`, {
        field: `times[${i}]`,
      });
    const c = classes[i]!;
    const list = byClass.get(c);
    if (list) list.push(i);
    else byClass.set(c, [i]);
  }
  const isTest = new Uint8Array(classes.length);
  for (const rows of byClass.values()) {
    rows.sort((a, b) => times[a]! - times[b]! || a - b);
    const n = rows.length;
    let k = Math.round(n * testFraction);
    if (testFraction > 0 && n >= 2) k = Math.min(n - 1, Math.max(1, k));
    else if (n < 2) k = 0;
    for (let j = n - k; j < n; j++) isTest[rows[j]!] = 1;
  }
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < classes.length; i++) (isTest[i] ? test : train).push(i);
  return { train, test };
}

/** How a model's training data was split, as recorded in its file. */
export type SplitMethod = 'time-within-class' | 'grouped-hash';

export interface SplitSpec {
  method: SplitMethod;
  test_fraction: number;
  seed: number;
  /** The CSV column that timed or grouped the rows, when the file records it. */
  time_column?: string;
  group_column?: string;
}

/**
 * The split a spec describes, over a dataset's times (time split) or groups
 * (grouped split), failing with a message that names what is missing.
 *
 * @example
 * const { test } = splitRows(ds, { method: 'time-within-class', test_fraction: 0.3, seed: 1 });
 */
export function splitRows(
  ds: { rows: number; y: ArrayLike<number>; times?: ArrayLike<number>; groups?: readonly string[] },
  spec: SplitSpec,
): Split {
  if (spec.method === 'time-within-class') {
    if (!ds.times)
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        'A split by time needs a time for every row (a Timestamp column, or event times); use --split group for data without one.',
        { field: 'split' },
      );
    return timeSplitWithinClass(ds.times, ds.y, spec.test_fraction);
  }
  const groups = ds.groups ?? Array.from({ length: ds.rows }, (_, i) => `row:${i}`);
  return groupedSplit(groups, spec.test_fraction, spec.seed);
}

/**
 * The split a model file records in `training.split`, or undefined when it
 * records none. Files written before splits by time record no method: theirs
 * was the grouped hash.
 *
 * @example
 * const spec = recordedSplit(model.meta.training);
 */
export function recordedSplit(training: unknown): SplitSpec | undefined {
  const split = (training as { split?: Partial<SplitSpec> } | undefined)?.split;
  if (!split || typeof split.test_fraction !== 'number') return undefined;
  return {
    method: split.method === 'time-within-class' ? 'time-within-class' : 'grouped-hash',
    test_fraction: split.test_fraction,
    seed: typeof split.seed === 'number' ? split.seed : 1,
    ...(typeof split.time_column === 'string' ? { time_column: split.time_column } : {}),
    ...(typeof split.group_column === 'string' ? { group_column: split.group_column } : {}),
  };
}
