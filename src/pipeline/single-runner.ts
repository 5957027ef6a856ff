import type { Logger } from 'pino';
import { AisocError, describeError } from '../errors.ts';
import type { ReleaseLock, Store } from '../store/index.ts';

/** The name of the lock one embedded runner holds on its database. */
export const EMBEDDED_RUNNER_LOCK = 'embedded-runner';

/**
 * Take the database's embedded-runner lock, or refuse to start. The
 * embedded runner reads the events its own process accepted and keeps one
 * checkpoint: a second one on the same PostgreSQL database would never see
 * the events sent to the first and would share its checkpoint, so it stops
 * here with what to do instead. On the embedded database the directory lock
 * already keeps out a second process, and this costs nothing.
 *
 * @example
 * const release = await lockEmbeddedRunner(store, logger);
 * // … run …
 * await release();
 */
export async function lockEmbeddedRunner(store: Store, logger: Logger): Promise<ReleaseLock> {
  const release = await store.locks.trySession(EMBEDDED_RUNNER_LOCK, {
    onLost: (err) =>
      logger.error(
        { err: describeError(err) },
        'The connection holding the embedded runner lock dropped, so another process could now start a second embedded runner on this database; restart this one.',
      ),
  });
  if (release) return release;
  throw new AisocError(
    'AISOC_ERR_CONFIG',
    'Another process already runs the embedded pipeline on this database, and two would split the events between them. Stop the other process, or run every process with pipeline.runner: nats to share the work.',
    { field: 'pipeline.runner', details: { lock: EMBEDDED_RUNNER_LOCK } },
  );
}
