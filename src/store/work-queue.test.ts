import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import { openStore, type Store, type WorkClaim } from './index.ts';

const pgReady = await postgresAvailable();

/** Each engine: a database, and a way to open another Store (its own pool, its own sessions) on the same one. */
const engines: Array<{
  name: string;
  enabled: boolean;
  open: () => Promise<{ store: Store; another: () => Promise<Store>; cleanup: () => Promise<void> }>;
}> = [
  {
    name: 'pglite',
    enabled: true,
    open: async () => {
      const store = await openStore({});
      // One process owns an embedded database: "another" worker is another caller on the same store.
      return { store, another: async () => store, cleanup: () => store.close() };
    },
  },
  {
    name: 'postgres',
    enabled: pgReady,
    open: async () => {
      const db = await freshDatabase();
      const opened: Store[] = [];
      const open = async () => {
        const s = await openStore({ databaseUrl: db.url });
        opened.push(s);
        return s;
      };
      const store = await open();
      return {
        store,
        another: open,
        cleanup: async () => {
          for (const s of opened) await s.close();
          await db.drop();
        },
      };
    },
  },
];

const A = { owner: 'worker-a', leaseMs: 60_000 };
const B = { owner: 'worker-b', leaseMs: 60_000 };
/** A lease that has run out by the next statement (its end is the claim's own now()). */
const EXPIRED = { leaseMs: 0 };

for (const engine of engines) {
  describe.runIf(engine.enabled)(`work queue on ${engine.name}`, () => {
    let store: Store;
    let another: () => Promise<Store>;
    let cleanup: () => Promise<void>;
    let n = 0;
    /** A topic of its own for each test. */
    const topic = () => `t${++n}`;

    beforeAll(async () => {
      ({ store, another, cleanup } = await engine.open());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    it('claims an item once: a second claimer gets nothing while the lease lasts, and done removes it', async () => {
      const t = topic();
      await store.work.enqueue(t, 'k1', { n: 1 });
      const [claim] = await store.work.claim(t, 5, A);
      expect(claim).toMatchObject({
        key: 'k1',
        payload: { n: 1 },
        attempts: 0,
        version: 1,
        owner: 'worker-a',
      });
      expect(await store.work.claim(t, 5, B)).toEqual([]);
      expect(await store.work.due(t, 5)).toEqual([]);
      expect(await store.work.count(t)).toBe(1);
      expect(await store.work.done(claim!)).toBe('settled');
      expect(await store.work.count(t)).toBe(0);
    });

    it('makes an item whose lease expired claimable again, as an attempt, and the old claim is lost', async () => {
      const t = topic();
      await store.work.enqueue(t, 'k1', { n: 1 });
      const [first] = await store.work.claim(t, 1, { ...A, ...EXPIRED });
      const [second] = await store.work.claim(t, 1, B);
      expect(second).toMatchObject({ id: first!.id, attempts: 1, owner: 'worker-b' });
      expect(second!.token).toBeGreaterThan(first!.token);
      expect(second!.lastError).toMatch(/lease of worker-a expired/);
      // The first worker comes back: its renewal, completion and retry all find the claim gone.
      expect(await store.work.renew([first!], 60_000)).toEqual(new Set());
      expect(await store.work.done(first!)).toBe('lost');
      expect(await store.work.retryLater(first!, 60_000, 'late')).toBe('lost');
      expect(await store.work.count(t)).toBe(1);
      expect(await store.work.done(second!)).toBe('settled');
      expect(await store.work.count(t)).toBe(0);
    });

    it('renews a lease still held, which keeps other claimers off', async () => {
      const t = topic();
      await store.work.enqueue(t, 'k1', {});
      const [claim] = await store.work.claim(t, 1, { ...A, ...EXPIRED });
      expect(await store.work.renew([claim!], 60_000)).toEqual(new Set([claim!.id]));
      expect(await store.work.claim(t, 1, B)).toEqual([]);
      expect(await store.work.done(claim!)).toBe('settled');
    });

    it('keeps work queued again during a claim: done of the old version leaves the new one due', async () => {
      const t = topic();
      await store.work.enqueue(t, 'k1', { v: 1 });
      const [old] = await store.work.claim(t, 1, A);
      await store.work.enqueue(t, 'k1', { v: 2 });
      expect(await store.work.count(t)).toBe(1);
      expect(await store.work.done(old!)).toBe('requeued');
      const [fresh] = await store.work.claim(t, 1, B);
      expect(fresh).toMatchObject({ id: old!.id, payload: { v: 2 }, version: 2, attempts: 0 });
      expect(await store.work.done(fresh!)).toBe('settled');
      expect(await store.work.count(t)).toBe(0);
    });

    it('never delays newer work with the retry of an old claim, but does delay the same version', async () => {
      const t = topic();
      await store.work.enqueue(t, 'k1', { v: 1 });
      const [old] = await store.work.claim(t, 1, A);
      await store.work.enqueue(t, 'k1', { v: 2 });
      expect(await store.work.retryLater(old!, 3_600_000, 'backend down')).toBe('requeued');
      const [fresh] = await store.work.claim(t, 1, A);
      expect(fresh).toMatchObject({ payload: { v: 2 }, version: 2, attempts: 1, lastError: 'backend down' });
      expect(await store.work.retryLater(fresh!, 3_600_000, 'still down')).toBe('settled');
      expect(await store.work.claim(t, 1, B)).toEqual([]);
      expect(await store.work.count(t)).toBe(1);
    });

    it('gives two concurrent claimers disjoint items, and every item to one of them', async () => {
      const t = topic();
      const other = await another();
      const keys = Array.from({ length: 120 }, (_, i) => `k${i}`);
      for (const k of keys) await store.work.enqueue(t, k, { k });
      const got: Array<{ by: string; claim: WorkClaim }> = [];
      const drain = async (s: Store, owner: string) => {
        for (;;) {
          // Several claims in flight at once per claimer, to make them meet.
          const batches = await Promise.all(
            [0, 1, 2].map(() => s.work.claim(t, 7, { owner, leaseMs: 60_000 })),
          );
          const claims = batches.flat();
          if (claims.length === 0) return;
          for (const claim of claims) got.push({ by: owner, claim });
        }
      };
      await Promise.all([drain(store, 'worker-a'), drain(other, 'worker-b')]);
      const ids = got.map((g) => g.claim.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(got.map((g) => g.claim.key).sort()).toEqual([...keys].sort());
      for (const g of got)
        expect(await (g.by === 'worker-a' ? store : other).work.done(g.claim)).toBe('settled');
      expect(await store.work.count(t)).toBe(0);
    });
  });
}

describe.runIf(pgReady)('work queue leases across two PostgreSQL pools', () => {
  it('hands an expired claim to the other pool, and completes it there exactly once', async () => {
    const db = await freshDatabase();
    const one = await openStore({ databaseUrl: db.url });
    const two = await openStore({ databaseUrl: db.url });
    try {
      await one.work.enqueue('triage', 'alert:1', { type: 'alert', id: '1' });
      const [dead] = await one.work.claim('triage', 1, { owner: 'dies', leaseMs: 0 });
      const [taken] = await two.work.claim('triage', 1, { owner: 'lives', leaseMs: 60_000 });
      expect(taken).toMatchObject({ id: dead!.id, attempts: 1 });
      expect(await one.work.done(dead!)).toBe('lost');
      expect(await two.work.done(taken!)).toBe('settled');
      expect(await one.work.count('triage')).toBe(0);
    } finally {
      await one.close();
      await two.close();
      await db.drop();
    }
  });
});
