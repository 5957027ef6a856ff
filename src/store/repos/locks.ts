import { AisocError } from '../../errors.ts';
import type { SqlClient } from '../sql.ts';

/** The first key of every advisory lock taken here (the migration lock is 7342001, in the one-key space). */
const LOCK_SPACE = 7342002;

/** Releases a lock taken by {@link LockRepository.trySession}; calling it again does nothing. */
export type ReleaseLock = () => Promise<void>;

/**
 * Named locks held for a process's lifetime, so that something meant to run
 * once per database (the embedded runner) refuses to run twice. On
 * PostgreSQL a lock is a session-level advisory lock held on a connection
 * of its own, released when the holder releases it or its connection ends
 * (a killed process holds nothing). The embedded database is one process's
 * already (its directory lock refuses a second one), so there every lock is
 * granted at once.
 *
 * @example
 * const release = await store.locks.trySession('embedded-runner');
 * if (!release) throw new Error('another process holds it');
 * await release();
 */
export class LockRepository {
  constructor(private readonly client: SqlClient) {}

  /**
   * Take the lock named `name` for this session, or return `undefined` at
   * once if another session holds it. `onLost` is called if the lock's
   * connection drops while held (the lock is gone with it).
   */
  async trySession(
    name: string,
    opts: { onLost?: (err: Error) => void } = {},
  ): Promise<ReleaseLock | undefined> {
    if (this.client.engine === 'pglite') return async () => {};
    if (!this.client.session)
      throw new AisocError('AISOC_ERR_INTERNAL', 'This PostgreSQL client cannot open a session of its own');
    const session = await this.client.session();
    try {
      const r = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
        LOCK_SPACE,
        name,
      ]);
      if (r.rows[0]?.ok !== true) {
        await session.close();
        return undefined;
      }
    } catch (err) {
      await session.close();
      throw err;
    }
    if (opts.onLost) session.onLost(opts.onLost);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      try {
        await session.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_SPACE, name]);
      } catch {
        // Closing the session below releases it anyway.
      } finally {
        await session.close();
      }
    };
  }
}
