import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from './index.ts';

/* The correlate stage's tables: its lock row, the versioned window groups, and the inbox of processed items. */

describe('the correlate stage state in the store', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({});
  });
  afterAll(async () => {
    await store?.close();
  });

  it('saves window groups under a version, returns what changed since a version, and forgets deleted ones when pruned', async () => {
    const group = (key: string, state: unknown, last = 1000) => ({
      detector: 'sigma',
      window: 'w1',
      key,
      last,
      state,
    });
    const head = await store.transaction((tx) => tx.correlation.lock());
    expect(head).toEqual({ version: 0, prunedBelow: 0, watermarks: {} });
    await store.transaction(async (tx) => {
      await tx.correlation.lock();
      await tx.correlation.save(1, [group('a', { n: 1 }, 2000), group('b', { n: 2 }, 1000)], {
        sigma: { w1: 2000 },
      });
    });
    await store.transaction(async (tx) => {
      await tx.correlation.lock();
      await tx.correlation.save(2, [group('a', null), group('c', { quote: 'it\u0000s' }, 3000)]);
    });
    expect(await store.transaction((tx) => tx.correlation.lock())).toEqual({
      version: 2,
      prunedBelow: 0,
      watermarks: { sigma: { w1: 2000 } },
    });
    // A full reload: live groups, least recently updated first.
    expect((await store.correlation.all()).map((g) => [g.key, g.state])).toEqual([
      ['b', { n: 2 }],
      ['c', { quote: 'it\ufffds' }],
    ]);
    // What a process at version 1 must learn: a deleted, c new.
    expect((await store.correlation.changedSince(1)).map((g) => [g.key, g.state])).toEqual([
      ['a', null],
      ['c', { quote: 'it\ufffds' }],
    ]);
    expect(await store.correlation.changedSince(2)).toEqual([]);
    // Deleted groups saved before version 3 are forgotten; a process before it must reload all.
    expect(await store.transaction((tx) => tx.correlation.pruneDeleted(3, 100))).toBe(1);
    expect((await store.correlation.changedSince(1)).map((g) => g.key)).toEqual(['c']);
    expect((await store.transaction((tx) => tx.correlation.lock())).prunedBelow).toBe(3);
    expect(await store.correlation.count()).toBe(2);
  });

  it('keeps the keys a stage processed, and forgets them by age counted from its newest key', async () => {
    const stage = 'test-stage';
    await store.inbox.record(stage, ['k1', 'k2'], '2026-01-01T00:00:00Z');
    await store.inbox.record(stage, ['k3'], '2026-01-01T12:00:00Z');
    await store.inbox.record(stage, ['k1'], '2026-01-02T00:00:00Z');
    expect([...(await store.inbox.seen(stage, ['k1', 'k3', 'k9']))].sort()).toEqual(['k1', 'k3']);
    expect(await store.inbox.seen('other-stage', ['k1'])).toEqual(new Set());
    // A day after the newest key (k3, noon), nothing is old enough: the clock says years, but no key came since.
    expect(await store.inbox.prune(stage, 24 * 3_600_000, 100)).toBe(0);
    // Six hours: k1 and k2, recorded twelve hours before k3, go; one at a time with a limit of 1.
    expect(await store.inbox.prune(stage, 6 * 3_600_000, 1)).toBe(1);
    expect(await store.inbox.prune(stage, 6 * 3_600_000, 100)).toBe(1);
    expect([...(await store.inbox.seen(stage, ['k1', 'k2', 'k3']))]).toEqual(['k3']);
    expect(await store.inbox.count(stage)).toBe(1);
  });
});
