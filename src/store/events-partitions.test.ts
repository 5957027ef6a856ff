import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/helpers/builders.ts';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import { uuidv7 } from '../ids.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import { openStore, Store } from './index.ts';
import { DAY_MS, dayStart, partitionName } from './repos/event-partitions.ts';

/*
 * The events table partitioned by day (docs/ARCHITECTURE.md, Storage): where
 * rows go, dedupe across partitions, the log order, and retention dropping
 * whole partitions. Times are relative to now: which days get a partition
 * depends on the present.
 */

const pgReady = await postgresAvailable();

const engines: Array<{
  name: string;
  enabled: boolean;
  open: () => Promise<{ store: Store; url?: string; cleanup: () => Promise<void> }>;
}> = [
  {
    name: 'pglite',
    enabled: true,
    open: async () => {
      const store = await openStore({});
      return { store, cleanup: () => store.close() };
    },
  },
  {
    name: 'postgres',
    enabled: pgReady,
    open: async () => {
      const db = await freshDatabase();
      const store = await openStore({ databaseUrl: db.url });
      return {
        store,
        url: db.url,
        cleanup: async () => {
          await store.close();
          await db.drop();
        },
      };
    },
  },
];

const today = dayStart(Date.now());
const at = (days: number, hours = 12) => new Date(today + days * DAY_MS + hours * 3_600_000).toISOString();

/** The table each event's row is in, by event id. */
async function tablesOf(store: Store, ids: string[]): Promise<Record<string, string>> {
  const r = await store.client.query<{ id: string; t: string }>(
    'SELECT id::text AS id, tableoid::regclass::text AS t FROM events WHERE id = ANY($1::uuid[])',
    [ids],
  );
  return Object.fromEntries(r.rows.map((row) => [row.id, row.t]));
}

for (const engine of engines) {
  describe.runIf(engine.enabled)(`events partitioned by day on ${engine.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ store, cleanup } = await engine.open());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    it('stores events of recent days in their day partition and others in the catch-all, and stores nothing twice', async () => {
      const events = [
        makeEvent({ source: 'part-a', time: at(0) }),
        makeEvent({ source: 'part-a', time: at(-10) }),
        makeEvent({ source: 'part-a', time: at(-100) }),
        makeEvent({ source: 'part-a', time: at(10) }),
        makeEvent({ source: 'part-a', time: '1969-07-20T20:17:40.000Z' }),
      ];
      const first = await store.events.insert(events);
      expect(first.duplicates).toBe(0);
      const names = await store.events.partitionNames();
      expect(names).toEqual(
        expect.arrayContaining([
          'events_catchall',
          partitionName(today),
          partitionName(today + DAY_MS),
          partitionName(today - 10 * DAY_MS),
        ]),
      );
      expect(names).not.toContain(partitionName(today - 100 * DAY_MS));
      expect(names).not.toContain(partitionName(today + 10 * DAY_MS));
      expect(
        await tablesOf(
          store,
          events.map((e) => e.id),
        ),
      ).toEqual({
        [events[0]!.id]: partitionName(today),
        [events[1]!.id]: partitionName(today - 10 * DAY_MS),
        [events[2]!.id]: 'events_catchall',
        [events[3]!.id]: 'events_catchall',
        [events[4]!.id]: 'events_catchall',
      });
      // Re-ingesting the same events (same ids, same times) stores nothing, in any partition.
      const again = await store.events.insert(events);
      expect(again).toEqual({ stored: [], duplicates: 5 });
      expect(await store.events.count({ source: 'part-a' })).toBe(5);
      for (const e of events) expect(await store.events.get(e.id)).toEqual(e);
    });

    it('keeps one row per event when its day gained or lost a partition between two ingestions', async () => {
      // The same database seen from 60 days on: today's events are then too old for a day partition.
      const later = new Store(store.client, { now: () => Date.now() + 60 * DAY_MS });
      const viaCatchall = makeEvent({ source: 'part-b', time: at(-3) });
      expect((await later.events.insert([viaCatchall])).stored).toHaveLength(1);
      expect((await tablesOf(store, [viaCatchall.id]))[viaCatchall.id]).toBe('events_catchall');
      // Now its day has a partition: the copy in the catch-all is found.
      expect(await store.events.insert([viaCatchall])).toEqual({ stored: [], duplicates: 1 });
      const viaDay = makeEvent({ source: 'part-b', time: at(-4) });
      expect((await store.events.insert([viaDay])).stored).toHaveLength(1);
      expect((await tablesOf(store, [viaDay.id]))[viaDay.id]).toBe(partitionName(today - 4 * DAY_MS));
      expect(await later.events.insert([viaDay])).toEqual({ stored: [], duplicates: 1 });
      expect(await store.events.count({ source: 'part-b' })).toBe(2);
    });

    it("writes a batch of today's events straight into today's partition, in order, stored once", async () => {
      const seen: string[] = [];
      const client = store.client;
      const spy = new Store({
        ...client,
        engine: client.engine,
        query: (text, params) => {
          seen.push(text);
          return client.query(text, params);
        },
        transaction: (fn) => client.transaction(fn),
        exec: (text) => client.exec(text),
        close: async () => {},
      });
      const batch = [3, 1, 2, 5].map((h) => makeEvent({ source: 'part-direct', time: at(0, h) }));
      // One of them was stored in the catch-all before, seen from a time when today had no partition.
      const later = new Store(client, { now: () => Date.now() + 60 * DAY_MS });
      await later.events.insert([batch[2]!]);
      const r = await spy.events.insert(batch);
      expect(seen.some((t) => t.includes(`INSERT INTO "${partitionName(today)}"`))).toBe(true);
      expect(r.stored.map((x) => x.id)).toEqual([batch[0]!.id, batch[1]!.id, batch[3]!.id]);
      expect(r.duplicates).toBe(1);
      for (let i = 1; i < r.stored.length; i++)
        expect(r.stored[i]!.seq).toBeGreaterThan(r.stored[i - 1]!.seq);
      expect(Object.values(await tablesOf(store, [batch[0]!.id, batch[3]!.id]))).toEqual([
        partitionName(today),
        partitionName(today),
      ]);
      expect(await spy.events.insert(batch)).toEqual({ stored: [], duplicates: 4 });
    });

    it('keeps the log order across partitions: afterSeq, maxSeq, countAfter and seqsOf', async () => {
      const start = await store.events.maxSeq();
      const batch = [at(-20), at(0), at(-200), at(-1), at(1)].map((time) =>
        makeEvent({ source: 'part-c', time }),
      );
      const { stored } = await store.events.insert(batch);
      expect(stored.map((s) => s.id)).toEqual(batch.map((e) => e.id));
      for (let i = 1; i < stored.length; i++) expect(stored[i]!.seq).toBeGreaterThan(stored[i - 1]!.seq);
      expect(await store.events.maxSeq()).toBe(stored[4]!.seq);
      expect(await store.events.countAfter(start)).toBe(5);
      expect(await store.events.countAfter(stored[2]!.seq)).toBe(2);
      const replay = await store.events.afterSeq(start, 3);
      expect(replay.map((r) => r.event.id)).toEqual(batch.slice(0, 3).map((e) => e.id));
      const bounded = await store.events.afterSeq(stored[1]!.seq, 10, stored[3]!.seq);
      expect(bounded.map((r) => r.seq)).toEqual([stored[2]!.seq, stored[3]!.seq]);
      // seqsOf: in event-time order.
      const byTime = [...batch].sort((a, b) => a.time.localeCompare(b.time));
      const seqs = await store.events.seqsOf(batch.map((e) => e.id));
      const seqOf = new Map(stored.map((s) => [s.id, s.seq]));
      expect(seqs).toEqual(byTime.map((e) => seqOf.get(e.id)));
      expect((await store.events.getMany(batch.map((e) => e.id))).map((e) => e.id)).toEqual(
        byTime.map((e) => e.id),
      );
    });

    it('answers the log queries from indexes', async () => {
      await store.client.transaction(async (tx) => {
        await tx.query('SET LOCAL enable_seqscan = off');
        for (const sql of [
          'SELECT seq, doc, raw FROM events WHERE seq > 5 ORDER BY seq LIMIT 10',
          'SELECT count(*) FROM events WHERE seq > 5',
          'SELECT coalesce(max(seq), 0) FROM events',
          'SELECT seq FROM events WHERE seq = ANY(ARRAY[1, 2]::bigint[])',
          `SELECT seq FROM events WHERE id = '${uuidv7()}'`,
        ]) {
          const r = await tx.query<Record<string, string>>(`EXPLAIN ${sql}`);
          expect(r.rows.map((row) => Object.values(row)[0]).join('\n'), sql).not.toMatch(/Seq Scan/);
        }
      });
    });

    it(`keeps a row of a few KiB ${engine.name === 'pglite' ? 'inline and uncompressed' : 'as the server does (compressed out of line)'}, in a day partition and in the catch-all`, async () => {
      // Text that compresses well, so the server's default (pglz past ~2 KiB) visibly moves it to the TOAST table.
      const raw = { message: 'x'.repeat(5000) };
      const events = [
        makeEvent({ source: 'part-toast', time: at(0, 2), raw }),
        makeEvent({ source: 'part-toast', time: '1971-01-01T00:00:00.000Z', raw }),
      ];
      await store.events.insert(events);
      for (const [id, table] of Object.entries(
        await tablesOf(
          store,
          events.map((e) => e.id),
        ),
      )) {
        const r = await store.client.query<{ inline: boolean; compressed: boolean }>(
          `SELECT pg_column_size(raw) >= 5000 AS inline, pg_column_compression(raw) IS NOT NULL AS compressed
           FROM "${table}" WHERE id = $1`,
          [id],
        );
        expect(r.rows[0], table).toEqual(
          engine.name === 'pglite'
            ? { inline: true, compressed: false }
            : { inline: false, compressed: true },
        );
      }
      expect((await store.events.get(events[1]!.id))?.raw).toEqual(raw);
    });

    it('inserts again into a day whose partition retention dropped', async () => {
      const e = makeEvent({ source: 'part-d', time: at(-25), ingested_at: at(-25) });
      const { stored } = await store.events.insert([e]);
      const r = await store.events.purge(at(-20), stored[0]!.seq);
      expect(r.partitionsDropped).toBeGreaterThanOrEqual(1);
      expect(await store.events.partitionNames()).not.toContain(partitionName(today - 25 * DAY_MS));
      const late = makeEvent({ source: 'part-d', time: at(-25, 13) });
      expect((await store.events.insert([late])).stored).toHaveLength(1);
      expect((await tablesOf(store, [late.id]))[late.id]).toBe(partitionName(today - 25 * DAY_MS));
    });
  });

  describe.runIf(engine.enabled)(`retention by partition on ${engine.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ store, cleanup } = await engine.open());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    const day = (n: number, source: string, count: number, overrides: Partial<NormalisedEvent> = {}) =>
      Array.from({ length: count }, (_, i) =>
        makeEvent({ source, time: at(n, i % 24), ingested_at: at(n, i % 24), ...overrides }),
      );

    it('drops day partitions entirely expired and processed, and deletes rows elsewhere only when expired and processed', async () => {
      const whole = day(-14, 'ret', 30); // expired and processed: dropped whole
      const unprocessed = day(-13, 'ret', 4); // its last two events are not processed at first
      const late = day(-11, 'ret', 3); // with an event ingested today into the same day
      const lateOne = makeEvent({ source: 'ret', time: at(-11, 5), ingested_at: new Date().toISOString() });
      const old = day(-80, 'ret', 5); // in the catch-all
      const recent = day(-2, 'ret', 6); // not expired
      await store.events.insert([...whole, ...late, lateOne, ...old, ...recent]);
      const { stored } = await store.events.insert(unprocessed);
      const processed = stored[1]!.seq;
      const remaining = async () =>
        (await store.events.list({ source: 'ret', limit: 1000 })).items.map((e) => e.id).sort();
      const ids = (events: NormalisedEvent[]) => events.map((e) => e.id);
      const cutoff = at(-10, 0);

      // -14 goes whole; -13 is more than a day past the cutoff, so its processed rows go one by one; -11 is not
      // entirely expired and waits; the catch-all loses its expired rows.
      expect(await store.events.purge(cutoff, processed)).toEqual({
        deleted: 30 + 2 + 5,
        partitionsDropped: 1,
      });
      let names = await store.events.partitionNames();
      expect(names).not.toContain(partitionName(today - 14 * DAY_MS));
      for (const n of [-13, -11, -2]) expect(names).toContain(partitionName(today + n * DAY_MS));
      expect(await remaining()).toEqual(
        [...ids(unprocessed.slice(2)), ...ids(late), lateOne.id, ...ids(recent)].sort(),
      );

      // Once processed, what is left of -13 is dropped whole.
      const all = await store.events.maxSeq();
      expect(await store.events.purge(cutoff, all)).toEqual({ deleted: 2, partitionsDropped: 1 });
      names = await store.events.partitionNames();
      expect(names).not.toContain(partitionName(today - 13 * DAY_MS));

      // Two days on, -11 (still holding the late event) loses its expired rows one by one, and stays.
      expect(await store.events.purge(at(-8, 0), all)).toEqual({ deleted: 3, partitionsDropped: 0 });
      expect(await store.events.partitionNames()).toContain(partitionName(today - 11 * DAY_MS));
      expect(await remaining()).toEqual([lateOne.id, ...ids(recent)].sort());
    });
  });
}

describe.runIf(pgReady)('event partitions made by several processes at once on postgres', () => {
  let db: { url: string; drop: () => Promise<void> };
  let a: Store;
  let b: Store;

  beforeAll(async () => {
    db = await freshDatabase();
    a = await openStore({ databaseUrl: db.url });
    b = await openStore({ databaseUrl: db.url });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('lets two stores insert into new days at once, each day made once, every row in its day', async () => {
    const days = [-3, -5, -6, -7, -8, -9];
    const batches = (source: string) =>
      Array.from({ length: 6 }, (_, i) =>
        days.flatMap((d, j) => [makeEvent({ source, time: at(d, (i + j) % 24) })]),
      );
    const inserts = [
      ...batches('conc-a').map((batch) => a.transaction((tx) => tx.events.insert(batch))),
      ...batches('conc-b').map((batch) => b.events.insert(batch)),
    ];
    const results = await Promise.all(inserts);
    expect(results.reduce((n, r) => n + r.stored.length, 0)).toBe(2 * 6 * days.length);
    const r = await a.client.query<{ t: string; n: unknown }>(
      `SELECT tableoid::regclass::text AS t, count(*) AS n FROM events GROUP BY 1 ORDER BY 1`,
    );
    expect(r.rows.map((row) => [row.t, Number(row.n)])).toEqual(
      days
        .map((d) => partitionName(today + d * DAY_MS))
        .sort()
        .map((t) => [t, 12]),
    );
  });

  it('makes a partition while another transaction holds the table, and that transaction then inserts into it', async () => {
    const d1 = makeEvent({ source: 'conc-c', time: at(-15) });
    const d2 = makeEvent({ source: 'conc-c', time: at(-16) });
    const d2b = makeEvent({ source: 'conc-c', time: at(-16, 3) });
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let inserted = () => {};
    const first = new Promise<void>((r) => {
      inserted = r;
    });
    const tx = a.transaction(async (t) => {
      await t.events.insert([d1]);
      inserted();
      await held;
      // Its day's partition was attached by the other store after this transaction locked the table.
      return t.events.insert([d2b]);
    });
    await first;
    // The other store makes day -16 and commits while the transaction above is still open.
    expect((await b.events.insert([d2])).stored).toHaveLength(1);
    release();
    expect((await tx).stored).toHaveLength(1);
    expect(await tablesOf(a, [d1.id, d2.id, d2b.id])).toEqual({
      [d1.id]: partitionName(today - 15 * DAY_MS),
      [d2.id]: partitionName(today - 16 * DAY_MS),
      [d2b.id]: partitionName(today - 16 * DAY_MS),
    });
  });

  it('sees a day dropped by the other store and puts its late events in a new partition', async () => {
    const e = makeEvent({ source: 'conc-d', time: at(-20), ingested_at: at(-20) });
    const { stored } = await a.events.insert([e]);
    expect((await b.events.purge(at(-18), stored[0]!.seq)).partitionsDropped).toBe(1);
    const late = makeEvent({ source: 'conc-d', time: at(-20, 2) });
    expect((await a.events.insert([late])).stored).toHaveLength(1);
    expect((await tablesOf(a, [late.id]))[late.id]).toBe(partitionName(today - 20 * DAY_MS));
  });
});
