import { describe, expect, it } from 'vitest';
import { groupedSplit } from './split.ts';

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
