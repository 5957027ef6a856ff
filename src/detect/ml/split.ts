/**
 * Grouped train/test splits: every row of a group (a CICFlowMeter `Flow ID`,
 * a CloudTrail identity-minute) lands on the same side, chosen by a seeded
 * hash of the group, so a model is never tested on near-copies of rows it
 * trained on. Random row splits of flow data overstate accuracy.
 */

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
