import { describe, expect, it } from 'vitest';
import { type AuditFetch, newestId, readBackwards } from './b-audit.ts';
import type { AuditEntry } from './types.ts';

/** GET /audit as src/store/repos/audit.ts answers it: filters, `id > after_id`, ascending, `limit`. */
function route(entries: AuditEntry[]) {
  const calls: Array<{ after_id: number; limit: number }> = [];
  const fetch: AuditFetch = async (q) => {
    calls.push({ after_id: q.after_id, limit: q.limit });
    expect(q.limit).toBeGreaterThanOrEqual(1);
    expect(q.limit).toBeLessThanOrEqual(10_000);
    const items = entries
      .filter((e) => (!q.action || e.action === q.action) && e.id > q.after_id)
      .sort((a, b) => a.id - b.id)
      .slice(0, q.limit);
    return { items, next_after_id: items.length === q.limit ? (items.at(-1)?.id ?? null) : null };
  };
  return { fetch, calls };
}

function entry(id: number, action = 'verdict', actor = 'system'): AuditEntry {
  return {
    id,
    at: new Date(id * 1000).toISOString(),
    actor,
    action,
    target_type: 'alert',
    target_id: `a${id}`,
    details: {},
  };
}

describe('reading the audit log newest first', () => {
  it('finds the newest id with few requests, through gaps', async () => {
    for (const ids of [[1], [1, 2, 3], [5, 900, 1024, 1025], [3, 70_000, 1_000_003]]) {
      const { fetch, calls } = route(ids.map((i) => entry(i)));
      expect(await newestId(fetch, {})).toBe(ids.at(-1));
      expect(calls.length).toBeLessThan(50);
    }
    expect(await newestId(route([]).fetch, {})).toBe(0);
  });

  it('returns every matching entry exactly once, newest first, page after page', async () => {
    // 5 000 entries with gaps (deleted sequence values), one action in 40 a rare one.
    const all: AuditEntry[] = [];
    for (let i = 1, id = 1; i <= 5000; i++, id += 1 + (i % 7 === 0 ? 3 : 0))
      all.push(entry(id, i % 40 === 0 ? 'case.update' : 'verdict', i % 3 === 0 ? 'alice' : 'system'));
    for (const [filters, keep] of [
      [{}, undefined],
      [{ action: 'case.update' }, undefined],
      [{}, (e: AuditEntry) => e.actor === 'alice'],
    ] as const) {
      const { fetch } = route(all);
      const seen: number[] = [];
      let from: number | undefined;
      for (let pages = 0; pages < 200; pages++) {
        const slice = await readBackwards(fetch, filters, { from, want: 100, keep });
        seen.push(...slice.items.map((e) => e.id));
        if (slice.below === 0) break;
        from = slice.below;
      }
      const expected = all
        .filter((e) => (!('action' in filters) || e.action === filters.action) && (!keep || keep(e)))
        .map((e) => e.id)
        .sort((a, b) => b - a);
      expect(seen).toEqual(expected);
    }
  });

  it('reads the newest page in one window when the log is dense', async () => {
    const { fetch, calls } = route(Array.from({ length: 3000 }, (_, i) => entry(i + 1)));
    const first = await readBackwards(fetch, {}, { want: 100 });
    expect(first.items[0]!.id).toBe(3000);
    expect(first.items.length).toBeGreaterThanOrEqual(100);
    const windows = calls.filter((c) => c.limit > 1);
    expect(windows).toHaveLength(1);
  });
});
