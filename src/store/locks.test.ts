import { describe, expect, it } from 'vitest';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import { openStore } from './index.ts';

const pgReady = await postgresAvailable();

describe('session locks', () => {
  it('are granted at once on the embedded database, which one process owns already', async () => {
    const store = await openStore({});
    try {
      const first = await store.locks.trySession('runner');
      const second = await store.locks.trySession('runner');
      expect(first).toBeTypeOf('function');
      expect(second).toBeTypeOf('function');
      await first!();
      await second!();
    } finally {
      await store.close();
    }
  });

  describe.runIf(pgReady)('on PostgreSQL', () => {
    it('refuse a second holder on another pool until the first releases, and only that name', async () => {
      const db = await freshDatabase();
      const one = await openStore({ databaseUrl: db.url });
      const two = await openStore({ databaseUrl: db.url });
      try {
        const held = await one.locks.trySession('runner');
        expect(held).toBeTypeOf('function');
        expect(await two.locks.trySession('runner')).toBeUndefined();
        // The same process asking again is refused too: the lock is its session's, not its process's.
        expect(await one.locks.trySession('runner')).toBeUndefined();
        const other = await two.locks.trySession('something-else');
        expect(other).toBeTypeOf('function');
        await other!();
        await held!();
        await held!();
        const taken = await two.locks.trySession('runner');
        expect(taken).toBeTypeOf('function');
        await taken!();
      } finally {
        await one.close();
        await two.close();
        await db.drop();
      }
    });

    it('end with their connection: a terminated session frees the lock and tells its holder', async () => {
      const db = await freshDatabase();
      const one = await openStore({ databaseUrl: db.url });
      const two = await openStore({ databaseUrl: db.url });
      try {
        const lost: Error[] = [];
        const held = await one.locks.trySession('runner', { onLost: (err) => lost.push(err) });
        expect(held).toBeTypeOf('function');
        // What a killed process leaves: its connection ends, and the server drops its locks with it.
        const killed = await two.client.query<{ n: unknown }>(
          `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_locks
            WHERE locktype = 'advisory' AND classid = 7342002 AND granted`,
        );
        expect(Number(killed.rows[0]!.n)).toBe(1);
        const deadline = Date.now() + 30_000;
        let taken = await two.locks.trySession('runner');
        while (!taken && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          taken = await two.locks.trySession('runner');
        }
        expect(taken).toBeTypeOf('function');
        while (lost.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(lost).toHaveLength(1);
        await held!();
        await taken!();
      } finally {
        await one.close();
        await two.close();
        await db.drop();
      }
    });
  });
});
