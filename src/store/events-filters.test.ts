import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/helpers/builders.ts';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import { AisocError } from '../errors.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import { type EventFilter, ipFilter, openStore, type Store } from './index.ts';
import { DAY_MS, dayStart, partitionName } from './repos/event-partitions.ts';
import { EVENT_TEXT_SQL, HOSTS_SQL, USER_SQL } from './repos/events.ts';

/* The filters of GET /events in the repository: user, IP, host and free text, on both engines, from indexes. */

const pgReady = await postgresAvailable();
const today = dayStart(Date.now());
const at = (days: number, hours = 12) => new Date(today + days * DAY_MS + hours * 3_600_000).toISOString();

const engines = [
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
        cleanup: async () => {
          await store.close();
          await db.drop();
        },
      };
    },
  },
];

describe('ipFilter', () => {
  it('reads addresses and blocks canonically, IPv4-mapped ones as IPv4', () => {
    expect(ipFilter('203.0.113.45')).toBe('203.0.113.45');
    expect(ipFilter(' 2001:DB8:0:0::1 ')).toBe('2001:db8::1');
    expect(ipFilter('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(ipFilter('::ffff:c633:6407')).toBe('198.51.100.7');
    expect(ipFilter('198.51.100.0/24')).toBe('198.51.100.0/24');
    expect(ipFilter('::ffff:198.51.100.0/120')).toBe('198.51.100.0/24');
    expect(ipFilter('2001:db8::/32')).toBe('2001:db8::/32');
    for (const bad of [
      '',
      'example.com',
      '010.0.0.1',
      '10.0.0.5/24',
      'fe80::1%eth0',
      '1.2.3.4/33',
      "1.2.3.4' OR 1=1",
    ])
      expect(ipFilter(bad), bad).toBeUndefined();
  });
});

for (const engine of engines) {
  describe.runIf(engine.enabled)(`event filters on ${engine.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    const source = 'filt';
    const ev: NormalisedEvent[] = [
      makeEvent({
        source,
        time: at(-1, 8),
        actor: { user: { name: 'Dev-Alice' } },
        src_endpoint: { ip: '203.0.113.45' },
        device: { hostname: 'WEB-01' },
        message: 'Failed password for root from 203.0.113.45 port 22 ssh2',
      }),
      makeEvent({
        source,
        time: at(-1, 9),
        actor: { user: { name: 'bob' } },
        src_endpoint: { ip: '10.0.0.9', hostname: 'bastion.example.com' },
        dst_endpoint: { ip: '2001:DB8::1' },
        message: 'Accepted publickey for bob',
      }),
      makeEvent({
        source,
        time: at(-2),
        actor: { user: { name: 'svc-build' } },
        src_endpoint: { ip: '::ffff:198.51.100.7' },
        dst_endpoint: { hostname: 'db-01' },
        process: { cmd_line: 'powershell.exe -enc SQBFAFgA' },
        message: 'Process created',
      }),
      makeEvent({
        source,
        time: at(-2, 1),
        actor: undefined,
        src_endpoint: { ip: 'fe80::1%eth0' },
        message: "Login by O'Brien; DROP TABLE events; -- done",
      }),
      makeEvent({
        source,
        time: at(-100),
        actor: { user: { name: 'dev-alice' } },
        src_endpoint: undefined,
        message: 'old event',
      }),
    ].map((e) => ({ ...e, observables: [] }));
    const ids = async (f: EventFilter) =>
      (await store.events.list({ source, limit: 100, ...f })).items.map((e) =>
        ev.findIndex((x) => x.id === e.id),
      );

    beforeAll(async () => {
      ({ store, cleanup } = await engine.open());
      await store.events.insert(ev);
      await store.events.insert([makeEvent({ source: 'other', actor: { user: { name: 'bob' } } })]);
    });
    afterAll(async () => {
      await cleanup?.();
    });

    it('filters by user, any case, in day partitions and the catch-all', async () => {
      expect(await ids({ user: 'dev-alice' })).toEqual([0, 4]);
      expect(await ids({ user: 'DEV-ALICE', from: at(-3) })).toEqual([0]);
      expect(await ids({ user: 'alice' })).toEqual([]);
      expect(await ids({ user: 'bob' })).toEqual([1]);
    });

    it('filters by source or destination address, IPv4, IPv6, IPv4-mapped and CIDR blocks', async () => {
      expect(await ids({ ip: '203.0.113.45' })).toEqual([0]);
      expect(await ids({ ip: '2001:db8:0::1' })).toEqual([1]);
      expect(await ids({ ip: '198.51.100.7' })).toEqual([2]);
      expect(await ids({ ip: '::ffff:198.51.100.7' })).toEqual([2]);
      expect(await ids({ ip: '198.51.100.0/24' })).toEqual([2]);
      expect(await ids({ ip: '::ffff:198.51.100.0/120' })).toEqual([2]);
      expect(await ids({ ip: '2001:db8::/32' })).toEqual([1]);
      expect(await ids({ ip: '10.0.0.0/8' })).toEqual([1]);
      expect(await ids({ ip: '0.0.0.0/0' })).toEqual([1, 0, 2]); // newest first
      // A zone id is not an address: the event is stored, its address is not indexed.
      expect(await ids({ ip: 'fe80::1' })).toEqual([]);
      await expect(store.events.list({ ip: 'example.com' })).rejects.toBeInstanceOf(AisocError);
    });

    it('filters by host: the reporting device, source or destination, any case', async () => {
      expect(await ids({ host: 'web-01' })).toEqual([0]);
      expect(await ids({ host: 'BASTION.example.com' })).toEqual([1]);
      expect(await ids({ host: 'db-01' })).toEqual([2]);
      expect(await ids({ host: 'web' })).toEqual([]);
    });

    it('searches the words of the event text: any case, every word, "phrases", or; never a negation', async () => {
      expect(await ids({ q: 'failed password' })).toEqual([0]);
      expect(await ids({ q: 'FAILED' })).toEqual([0]);
      expect(await ids({ q: '"password for root"' })).toEqual([0]);
      expect(await ids({ q: '"root for password"' })).toEqual([]);
      expect(await ids({ q: 'publickey or powershell.exe' })).toEqual([1, 2]);
      // Fields other than the message: a hostname, a user name, an address.
      expect(await ids({ q: 'bastion.example.com' })).toEqual([1]);
      expect(await ids({ q: 'dev-alice' })).toEqual([0, 4]);
      // A leading minus is not a negation: a query that only excludes would read every event's text.
      expect(await ids({ q: '-root password' })).toEqual([0]);
      expect(await ids({ q: '-publickey' })).toEqual([1]);
    });

    it('treats SQL and query syntax in the text as words', async () => {
      expect(await ids({ q: "O'Brien; DROP TABLE events; --" })).toEqual([3]);
      expect(await ids({ q: '!!! & | <-> :*' })).toEqual([]);
      expect(await ids({ q: `${'a '.repeat(2000)}` })).toEqual([]);
      expect(await store.events.count({ source })).toBe(5);
      // Other filters take the same text as a value, never as SQL.
      expect(await ids({ user: "x' OR '1'='1", host: "'; DROP TABLE events; --" })).toEqual([]);
      expect(await store.events.count({ source })).toBe(5);
    });

    it('combines filters with source and time, newest first, with a total', async () => {
      const r = await store.events.list({ source, q: 'for', from: at(-1, 0), to: at(0, 0) });
      expect(r.total).toBe(2);
      expect(r.items.map((e) => e.id)).toEqual([ev[1]!.id, ev[0]!.id]);
      expect(
        await ids({ user: 'bob', ip: '2001:db8::1', host: 'bastion.example.com', q: 'accepted' }),
      ).toEqual([1]);
    });

    it('answers each filter from an index, and a time range only from its days and the catch-all', async () => {
      await store.client.transaction(async (tx) => {
        await tx.query('SET LOCAL enable_seqscan = off');
        const plan = async (where: string, params: unknown[]) =>
          (
            await tx.query<Record<string, string>>(`EXPLAIN SELECT seq FROM events WHERE ${where}`, params)
          ).rows
            .map((row) => Object.values(row)[0])
            .join('\n');
        for (const [where, params] of [
          [`${USER_SQL} = lower($1)`, ['bob']],
          ['(src_ip = $1::inet OR dst_ip = $1::inet)', ['10.0.0.9']],
          ['(src_ip <<= $1::inet OR dst_ip <<= $1::inet)', ['10.0.0.0/8']],
          [`${HOSTS_SQL} @> ARRAY[lower($1)]`, ['db-01']],
          [`${EVENT_TEXT_SQL} @@ websearch_to_tsquery('simple', $1)`, ['password']],
          ['source = $1', ['filt']],
        ] as Array<[string, unknown[]]>)
          expect(await plan(where, params), where).not.toMatch(/Seq Scan/);
        const ranged = await plan(
          "time >= $1::timestamptz AND (part_time >= $1::timestamptz OR part_time = '-infinity') AND time < $2::timestamptz AND part_time < $2::timestamptz",
          [at(-2, 0), at(-1, 0)],
        );
        expect(ranged).toContain(partitionName(today - 2 * DAY_MS));
        expect(ranged).toContain('events_catchall');
        expect(ranged).not.toContain(partitionName(today - DAY_MS));
        expect(ranged).not.toContain(partitionName(today));
      });
    });
  });
}
