import { describe, expect, it } from 'vitest';
import { groupedSplit, recordedSplit, splitRows, timeSplitWithinClass } from './split.ts';

describe('grouped split', () => {
  const groups = Array.from({ length: 5000 }, (_, i) => `flow-${i % 1200}`);

  it('never puts rows of one group on both sides', () => {
    const { train, test } = groupedSplit(groups, 0.2, 7);
    const trainGroups = new Set(train.map((i) => groups[i]));
    for (const i of test) expect(trainGroups.has(groups[i])).toBe(false);
    expect(train.length + test.length).toBe(groups.length);
  });

  it('holds out about the asked share of groups, the same ones for a seed, others for another seed', () => {
    const a = groupedSplit(groups, 0.2, 7);
    const share = new Set(a.test.map((i) => groups[i])).size / 1200;
    expect(share).toBeGreaterThan(0.16);
    expect(share).toBeLessThan(0.24);
    expect(groupedSplit(groups, 0.2, 7).test).toEqual(a.test);
    expect(groupedSplit(groups, 0.2, 8).test).not.toEqual(a.test);
  });
});

describe('split by time within each class', () => {
  // Three classes of our own: 10, 4 and 1 rows, timestamps shuffled so row order says nothing.
  const classes = [0, 1, 0, 0, 2, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0];
  const times = [9, 40, 3, 7, 5, 10, 1, 8, 30, 2, 6, 4, 20, 10, 5];

  it('holds out the latest rows of every class, never an earlier one', () => {
    const { train, test } = timeSplitWithinClass(times, classes, 0.3);
    expect([...train, ...test].sort((a, b) => a - b)).toEqual(classes.map((_, i) => i));
    for (const c of [0, 1]) {
      const latestTrain = Math.max(...train.filter((i) => classes[i] === c).map((i) => times[i]!));
      const earliestTest = Math.min(...test.filter((i) => classes[i] === c).map((i) => times[i]!));
      expect(earliestTest).toBeGreaterThanOrEqual(latestTrain);
    }
    // round(10 × 0.3) = 3 of class 0 (times 9, 10, 8 are its latest); round(4 × 0.3) = 1 of class 1 (time 40).
    expect(test.filter((i) => classes[i] === 0).map((i) => times[i])).toEqual([9, 8, 10]);
    expect(test.filter((i) => classes[i] === 1).map((i) => times[i])).toEqual([40]);
    // A class of one row trains only: there is nothing to learn it from otherwise.
    expect(test.some((i) => classes[i] === 2)).toBe(false);
  });

  it('differs from the hash split, which scatters held-out rows through time', () => {
    const n = 2000;
    const cls = Array.from({ length: n }, (_, i) => i % 2);
    const t = Array.from({ length: n }, (_, i) => i);
    const byTime = timeSplitWithinClass(t, cls, 0.3);
    const byHash = groupedSplit(
      t.map((i) => `flow-${i}`),
      0.3,
      1,
    );
    expect(Math.min(...byTime.test)).toBeGreaterThanOrEqual(1400);
    expect(Math.min(...byHash.test)).toBeLessThan(100);
  });

  it('keeps one row on each side of a two-row class, and breaks ties by row order', () => {
    expect(timeSplitWithinClass([5, 5], [0, 0], 0.1)).toEqual({ train: [0], test: [1] });
    expect(timeSplitWithinClass([5, 5, 5, 5], [0, 0, 0, 0], 0.5)).toEqual({ train: [0, 1], test: [2, 3] });
    expect(timeSplitWithinClass([1, 2, 3], [0, 0, 0], 0).test).toEqual([]);
  });

  it('refuses rows without a valid time, naming the row, and data without times', () => {
    expect(() => timeSplitWithinClass([1, Number.NaN], [0, 0], 0.3)).toThrow(/row 1 has no valid time/);
    expect(() =>
      splitRows({ rows: 2, y: [0, 1] }, { method: 'time-within-class', test_fraction: 0.3, seed: 1 }),
    ).toThrow(/needs a time for every row/);
  });

  it('reads the split a model file records; files without a method were grouped', () => {
    expect(
      recordedSplit({
        split: { method: 'time-within-class', test_fraction: 0.3, seed: 1, time_column: 'Timestamp' },
      }),
    ).toEqual({
      method: 'time-within-class',
      test_fraction: 0.3,
      seed: 1,
      time_column: 'Timestamp',
    });
    expect(recordedSplit({ split: { test_fraction: 0.2, seed: 4, group_column: 'Flow ID' } })).toMatchObject({
      method: 'grouped-hash',
      seed: 4,
    });
    expect(recordedSplit({})).toBeUndefined();
  });
});
