import { describe, expect, it } from 'vitest';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import { isAisocError } from '../errors.ts';
import { openStore, type Store } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { PipelineConfig } from './config.ts';
import { EmbeddedRunner } from './embedded.ts';
import { collector } from './testing/runner-conformance.ts';

const pgReady = await postgresAvailable();

function runner(store: Store) {
  return new EmbeddedRunner({
    store,
    logger: silentLogger(),
    metrics: createMetrics({ defaultMetrics: false }),
    config: PipelineConfig.parse({}),
    stages: [collector()],
  });
}

describe.runIf(pgReady)('one embedded runner per PostgreSQL database', () => {
  it('refuses a second runner with what to do instead, and lets it start once the first stops', async () => {
    const db = await freshDatabase();
    // Two processes: each its own pool on the same database.
    const one = await openStore({ databaseUrl: db.url });
    const two = await openStore({ databaseUrl: db.url });
    const first = runner(one);
    const second = runner(two);
    try {
      await first.start();
      const refused = await second.start().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isAisocError(refused) && refused.code).toBe('AISOC_ERR_CONFIG');
      expect((refused as Error).message).toMatch(
        /Stop the other process, or run every process with pipeline.runner: nats/,
      );
      // A refused runner holds nothing and stops cleanly.
      await second.stop();
      await first.stop();
      await second.start();
      await expect(runner(one).start()).rejects.toThrow(/already runs the embedded pipeline/);
    } finally {
      await first.stop();
      await second.stop();
      await one.close();
      await two.close();
      await db.drop();
    }
  });
});
