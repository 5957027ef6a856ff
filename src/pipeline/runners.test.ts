import { describe, expect, it } from 'vitest';
import { AisocError } from '../errors.ts';
import { openStore } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { PipelineConfig } from './config.ts';
import { createRunner, RUNNERS, type RunnerFactory } from './runners.ts';
import { describeRunnerConformance } from './testing/runner-conformance.ts';

// Every registered runner passes the shared suite, built through the registry as the runtime builds it
// (the embedded runner's run is in embedded.test.ts, where it also checks log order; a runner that needs
// servers runs it beside its code, where it starts them: nats in src/pipeline/nats/runner.test.ts).
for (const [type, factory] of Object.entries(RUNNERS)) {
  const f: RunnerFactory<unknown> = factory;
  if (type !== 'embedded' && !f.requiresPostgres) describeRunnerConformance({ type });
}

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
        createRunner('kafka', ctx);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AisocError);
      expect((caught as AisocError).field).toBe('pipeline.runner');
      expect((caught as AisocError).message).toContain('known: embedded, nats');
    } finally {
      await store.close();
    }
  });

  it('refuses a role its runner does not run in: the embedded runner is one process', async () => {
    const store = await openStore({});
    try {
      const ctx = {
        store,
        logger: silentLogger(),
        metrics: createMetrics({ defaultMetrics: false }),
        config: PipelineConfig.parse({}),
        stages: [],
      };
      for (const role of ['api', 'worker'] as const) {
        let caught: unknown;
        try {
          createRunner('embedded', { ...ctx, role });
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(AisocError);
        expect((caught as AisocError).code).toBe('AISOC_ERR_CONFIG');
        expect((caught as AisocError).field).toBe('pipeline.runner');
        expect((caught as AisocError).message).toContain(`not as ${role}`);
      }
      expect(createRunner('embedded', { ...ctx, role: 'all' }).kind).toBe('embedded');
    } finally {
      await store.close();
    }
  });
});
