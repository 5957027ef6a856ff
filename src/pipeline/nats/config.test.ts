import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../app-config.ts';
import { AisocError } from '../../errors.ts';
import { openRuntime } from '../../runtime.ts';
import { openStore } from '../../store/index.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import { PipelineConfig } from '../config.ts';
import { createRunner } from '../runners.ts';
import { collector } from '../testing/runner-conformance.ts';
import { isNatsServerUrl, NatsRunnerConfig } from './config.ts';
import { layoutOf } from './layout.ts';

/** The error a call fails with (fails the test when it succeeds). */
async function failure(fn: () => unknown): Promise<AisocError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AisocError);
    return err as AisocError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('pipeline.nats', () => {
  it('is a section of pipeline with working defaults', () => {
    const c = PipelineConfig.parse({ runner: 'nats' });
    expect(c.runner).toBe('nats');
    expect(c.nats).toMatchObject({
      servers: ['nats://127.0.0.1:4222'],
      prefix: 'aisoc',
      replicas: 1,
      storage: 'file',
    });
    expect(c.nats.max_deliver).toBeGreaterThan(c.nats.backoff_ms.length + 1);
  });

  it('takes its servers from AISOC_NATS_URL, comma-separated', () => {
    const c = loadConfig({
      env: { AISOC_NATS_URL: 'nats://a.example:4222, tls://b.example:4443,c.example:4222' },
    });
    expect(c.pipeline.nats.servers).toEqual([
      'nats://a.example:4222',
      'tls://b.example:4443',
      'c.example:4222',
    ]);
  });

  it('takes credentials from the environment, one way at a time, user and password together', async () => {
    const c = loadConfig({
      env: { AISOC_NATS_USER: 'aisoc', AISOC_NATS_PASSWORD: 'pw', AISOC_NATS_CA_FILE: '/etc/ca.pem' },
    });
    expect(c.pipeline.nats).toMatchObject({ user: 'aisoc', password: 'pw', tls_ca_file: '/etc/ca.pem' });
    expect(loadConfig({ env: { AISOC_NATS_TOKEN: 't0k' } }).pipeline.nats.token).toBe('t0k');
    const alone = await failure(() => loadConfig({ env: { AISOC_NATS_USER: 'aisoc' } }));
    expect(alone.field).toBe('pipeline.nats.password');
    expect(alone.message).toMatch(/user and password go together/);
    const two = await failure(() =>
      loadConfig({ env: { AISOC_NATS_TOKEN: 't', AISOC_NATS_CREDS_FILE: '/x.creds' } }),
    );
    expect(two.field).toBe('pipeline.nats.creds_file');
    expect(two.message).toMatch(/one way to authenticate at a time: token and creds_file/);
  });

  it('takes the runner from AISOC_PIPELINE_RUNNER, checked against the registry', async () => {
    const c = loadConfig({ env: { AISOC_PIPELINE_RUNNER: 'nats', AISOC_NATS_URL: 'nats://n.example:4222' } });
    expect(c.pipeline.runner).toBe('nats');
    expect(c.pipeline.nats.servers).toEqual(['nats://n.example:4222']);
    const err = await failure(() => loadConfig({ env: { AISOC_PIPELINE_RUNNER: 'kafka' } }));
    expect(err.code).toBe('AISOC_ERR_CONFIG');
    expect(err.field).toBe('pipeline.runner');
  });

  it('refuses a server address it cannot dial, naming pipeline.nats.servers', async () => {
    for (const bad of [
      'http://nats.example:4222',
      'nats://',
      'nats://host:4222/path',
      'not a url',
      'nats://h:99999',
    ]) {
      expect(isNatsServerUrl(bad)).toBe(false);
      const err = await failure(() => loadConfig({ env: { AISOC_NATS_URL: bad } }));
      expect(err.code).toBe('AISOC_ERR_CONFIG');
      expect(err.field).toBe('pipeline.nats.servers.0');
      expect(err.message).toContain('pipeline.nats.servers.0');
    }
    const empty = await failure(() =>
      loadConfig({ overrides: { pipeline: { nats: { servers: [] } } }, env: {} }),
    );
    expect(empty.field).toBe('pipeline.nats.servers');
  });

  it('refuses more waits than deliveries, and names that could not form subjects', async () => {
    const deliver = await failure(() =>
      loadConfig({
        overrides: { pipeline: { nats: { backoff_ms: [1000, 2000, 3000], max_deliver: 4 } } },
        env: {},
      }),
    );
    expect(deliver.field).toBe('pipeline.nats.max_deliver');
    expect(deliver.message).toContain('5 or more');
    for (const prefix of ['a.b', 'a b', '', 'x>']) {
      const err = await failure(() => loadConfig({ overrides: { pipeline: { nats: { prefix } } }, env: {} }));
      expect(err.field).toBe('pipeline.nats.prefix');
    }
    expect(NatsRunnerConfig.safeParse({ surprise: 1 }).success).toBe(false);
  });

  it('names subjects, streams and consumers from the prefix and the stage names', () => {
    const layout = layoutOf({ prefix: 'soc' }, [collector('detect'), collector('correlate.v2')]);
    expect(layout.eventSubject('cloudtrail')).toBe('soc.events.cloudtrail');
    expect(layout.eventSubject('a.b*c >')).toBe('soc.events.a_b_c__');
    expect(layout.stages.map((s) => [s.stream, s.subjects, s.durable, s.deadSubject])).toEqual([
      ['soc_events', ['soc.events.>'], 'soc-detect', 'soc.dead.detect'],
      ['soc_stage_correlate_v2', ['soc.stage.correlate_v2'], 'soc-correlate_v2', 'soc.dead.correlate_v2'],
    ]);
    expect(layout.stageSubject(1)).toBe('soc.stage.correlate_v2');
    // Two stages that would share a consumer are refused.
    expect(() => layoutOf({ prefix: 'soc' }, [collector('a.b'), collector('a_b')])).toThrow(
      /share the NATS consumer/,
    );
  });
});

describe('the nats runner needs PostgreSQL', () => {
  it('is refused over the embedded store, saying to set AISOC_DATABASE_URL', async () => {
    const store = await openStore({});
    try {
      const err = await failure(() =>
        createRunner('nats', {
          store,
          logger: silentLogger(),
          metrics: createMetrics({ defaultMetrics: false }),
          config: PipelineConfig.parse({ runner: 'nats' }),
          stages: [collector()],
        }),
      );
      expect(err.code).toBe('AISOC_ERR_CONFIG');
      expect(err.field).toBe('pipeline.runner');
      expect(err.message).toContain('AISOC_DATABASE_URL');
    } finally {
      await store.close();
    }
  });

  it('is refused by the runtime before any store is opened', async () => {
    const config = loadConfig({ overrides: { pipeline: { runner: 'nats' } }, env: {} });
    for (const options of [{ inMemory: true }, {}]) {
      const err = await failure(() =>
        openRuntime({ ...config, data_dir: '/nonexistent/never-created' }, options),
      );
      expect(err.code).toBe('AISOC_ERR_CONFIG');
      expect(err.field).toBe('pipeline.runner');
      expect(err.message).toContain('AISOC_DATABASE_URL');
    }
  });
});
