import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/runtime.ts';
import { openPglite } from './pglite.ts';

describe('the embedded database', () => {
  it('creates a new directory in a process of its own, then opens it with the configured page cache', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pg = join(dir, 'pg');
      const db = await openPglite(pg, { sharedBuffersMb: 16 });
      expect(existsSync(join(pg, 'PG_VERSION'))).toBe(true);
      const r = await db.query<{ shared_buffers: string }>('SHOW shared_buffers');
      expect(r.rows[0]!.shared_buffers).toBe('16MB');
      await db.exec('CREATE TABLE t (v int)');
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (1), (2)');
      });
      await db.close();
      const again = await openPglite(pg);
      expect((await again.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]!.n).toBe(2);
      await again.close();
    } finally {
      cleanup();
    }
  }, 120_000);

  it('lets I/O in between statements that were queued together', async () => {
    const db = await openPglite();
    try {
      // Statements queued at once used to run back to back in promise callbacks; a timer due meanwhile waited.
      const order: string[] = [];
      const timer = new Promise<void>((r) =>
        setImmediate(() => {
          order.push('turn');
          r();
        }),
      );
      const queries = Array.from({ length: 20 }, (_, i) =>
        db.query('SELECT pg_sleep(0.001)').then(() => order.push(`q${i}`)),
      );
      await Promise.all([timer, ...queries]);
      expect(order.indexOf('turn')).toBeLessThan(order.indexOf('q19'));
      expect(order.indexOf('turn')).toBeLessThan(order.indexOf('q1'));
    } finally {
      await db.close();
    }
  }, 120_000);
});
