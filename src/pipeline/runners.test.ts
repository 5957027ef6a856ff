import { describe, expect, it } from 'vitest';
import { AisocError } from '../errors.ts';
import { openStore } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { PipelineConfig } from './config.ts';
import { createRunner, RUNNERS } from './runners.ts';
import { describeRunnerConformance } from './testing/runner-conformance.ts';

// Every registered runner passes the shared suite, built through the registry as the runtime builds it
// (the embedded runner's run is in embedded.test.ts, where it also checks log order).
for (const type of Object.keys(RUNNERS).filter((t) => t !== 'embedded')) describeRunnerConformance({ type });

describe('the runner registry', () => {
  it('names each runner by its type, and refuses an unknown type naming pipeline.runner', async () => {
    for (const [key, factory] of Object.entries(RUNNERS)) expect(factory.type).toBe(key);
    const store = await openStore({});
    try {
      const ctx = {
        store,
        logger: silentLogger(),
        metrics: createMetrics({ defaultMetrics: false }),
        config: PipelineConfig.parse({}),
        stages: [],
      };
      let caught: unknown;
      try {
        createRunner('nats', ctx);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AisocError);
      expect((caught as AisocError).field).toBe('pipeline.runner');
      expect((caught as AisocError).message).toContain('known: embedded');
    } finally {
      await store.close();
    }
  });
});
