/**
 * Reciprocal rank fusion: each ranked list gives a document
 * `weight / (k + rank)`; the sums are divided by the most a document could
 * get (first in every list), so the fused similarity is in [0, 1]: 1 for a
 * document every retriever ranks first, 0.5 for one only the lexical (or
 * only the dense) list ranks first when both weigh the same.
 */

export interface RankedList {
  weight: number;
  ids: readonly string[];
}

export interface FusedHit {
  id: string;
  similarity: number;
  /** 1-based rank in each input list, or null when absent from it. */
  ranks: Array<number | null>;
}

/**
 * @example
 * fuseRanks([{ weight: 1, ids: ['a', 'b'] }, { weight: 1, ids: ['b', 'c'] }], 60)[0]?.id // 'b'
 */
export function fuseRanks(lists: readonly RankedList[], k = 60): FusedHit[] {
  const max = lists.reduce((s, l) => s + l.weight / (k + 1), 0);
  const acc = new Map<string, { score: number; ranks: Array<number | null> }>();
  lists.forEach((list, li) => {
    list.ids.forEach((id, i) => {
      let e = acc.get(id);
      if (!e) {
        e = { score: 0, ranks: lists.map(() => null) };
        acc.set(id, e);
      }
      if (e.ranks[li] !== null) return; // a list naming a document twice counts it once
      e.ranks[li] = i + 1;
      e.score += list.weight / (k + i + 1);
    });
  });
  return [...acc.entries()]
    .map(([id, e]) => ({ id, similarity: max > 0 ? e.score / max : 0, ranks: e.ranks }))
    .sort((a, b) => b.similarity - a.similarity || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
