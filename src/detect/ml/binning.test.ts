import { describe, expect, it } from 'vitest';
import { applyBins, binColumn, binOf, computeBinEdges, edgesOfColumn } from './binning.ts';
import { Rng } from './rng.ts';

describe('histogram binning', () => {
  it('gives each distinct value its own bin when there are few, with thresholds between them', () => {
    const x = Float32Array.from([3, 1, 2, 2, 1, 3, 5]);
    const { edges, nBins } = computeBinEdges(x, 7, 1, 255);
    expect(nBins[0]).toBe(4);
    const e = edges[0]!;
    expect(e[0]).toBeGreaterThanOrEqual(1);
    expect(e[0]).toBeLessThan(2);
    expect(e[2]).toBeGreaterThanOrEqual(3);
    expect(e[2]).toBeLessThan(5);
    const b = applyBins(x, 7, 1, { edges, nBins });
    expect([...b.bins]).toEqual([2, 0, 1, 1, 0, 2, 3]);
  });

  it('cuts many values into near-equal bins and keeps a dominant value alone', () => {
    const rng = new Rng(1);
    const n = 10_000;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = i < n / 2 ? 0 : rng.float();
    const { edges, nBins } = computeBinEdges(x, n, 1, 32);
    expect(nBins[0]).toBeLessThanOrEqual(32);
    const counts = new Array<number>(nBins[0]!).fill(0);
    for (const v of x) counts[binOf(edges[0]!, v)]!++;
    expect(counts[0]).toBe(n / 2);
    const rest = counts.slice(1);
    // The other half is spread evenly: no bin holds more than twice its share.
    expect(Math.max(...rest)).toBeLessThan((2 * (n / 2)) / rest.length);
  });

  it('marks constant features with one bin (they can never split)', () => {
    const x = Float32Array.from([7, 7, 7, 7]);
    expect(computeBinEdges(x, 4, 1).nBins[0]).toBe(1);
  });
});

describe('radix binning', () => {
  it('gives exactly the edges and bins of sorting and binary search, negatives, zeros and ties included', () => {
    const rng = new Rng(4);
    for (const [n, maxBins] of [
      [1000, 255],
      [5000, 31],
      [7, 4],
    ] as const) {
      const col = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const r = rng.float();
        col[i] = r < 0.2 ? 0 : r < 0.25 ? -0 : r < 0.5 ? -rng.float() * 1e6 : r < 0.6 ? 3 : rng.float() * 1e9;
      }
      const { edges, bins } = binColumn(col.slice(), maxBins);
      const expected = edgesOfColumn(col.slice(), maxBins);
      expect([...edges]).toEqual([...expected]);
      for (let i = 0; i < n; i++) expect(bins[i]).toBe(binOf(expected, col[i]!));
    }
  });
});
