import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers/runtime.ts';
import { LLM_BACKENDS, type LlmBackendType } from './analyst/llm/index.ts';
import { AppConfig, loadConfig } from './app-config.ts';
import { DETECTOR_FACTORIES } from './detect/index.ts';
import { AisocError } from './errors.ts';
import { EMBEDDING_BACKENDS } from './knowledge/embeddings/index.ts';
import { RUNNERS } from './pipeline/runners.ts';
import { RECEIVER_FACTORIES } from './receivers/index.ts';
import { ACTION_FACTORIES } from './respond/actions/index.ts';
import { SOURCE_FACTORIES } from './sources/index.ts';

describe('configuration', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('has working defaults', () => {
    const c = loadConfig({ env: {} });
    expect(c.data_dir).toBe('./.aisoc');
    expect(c.server.port).toBe(8080);
    expect(c.pipeline.queue_capacity).toBeGreaterThan(0);
    expect(c.database_url).toBeUndefined();
  });

  it('layers file, then environment, then flags', () => {
    const file = join(dir, 'aisoc.yaml');
    writeFileSync(file, 'data_dir: /from/file\nserver:\n  port: 9001\n  host: 0.0.0.0\nlog_level: debug\n');
    const c = loadConfig({
      file,
      env: { AISOC_DATA_DIR: '/from/env' },
      overrides: { server: { port: 9002 } },
    });
    expect(c.data_dir).toBe('/from/env');
    expect(c.server.port).toBe(9002);
    expect(c.server.host).toBe('0.0.0.0');
    expect(c.log_level).toBe('debug');
    expect(loadConfig({ env: { AISOC_DATABASE_URL: 'postgres://x/y' } }).database_url).toBe('postgres://x/y');
  });

  it('refuses unknown keys and bad values, naming every field', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server:\n  port: 70000\n  prot: 1\npipeline:\n  batch_size: -1\n');
    let err: unknown;
    try {
      loadConfig({ file, env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AisocError);
    const e = err as AisocError;
    expect(e.code).toBe('AISOC_ERR_CONFIG');
    expect(e.message).toContain('server.port');
    expect(e.message).toContain('prot');
    expect(e.message).toContain('pipeline.batch_size');
  });

  it('explains a missing or malformed file', () => {
    expect(() => loadConfig({ file: join(dir, 'nope.yaml'), env: {} })).toThrow(
      /Cannot read the config file/,
    );
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'server: [unclosed');
    expect(() => loadConfig({ file, env: {} })).toThrow(/not valid YAML/);
    writeFileSync(file, '- a list\n- not a mapping\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/mapping at the top level/);
  });
});

/** The error `loadConfig` throws for these overrides (fails the test when there is none). */
function configErrorOf(overrides: Record<string, unknown>): AisocError {
  try {
    loadConfig({ env: {}, overrides });
  } catch (err) {
    expect(err).toBeInstanceOf(AisocError);
    return err as AisocError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(overrides)}`);
}

/**
 * `overrides` put the key `no_such_setting` in the section at `path`: one of
 * the error's issues names both (the first issue, which gives `field`, may be
 * a setting the section requires).
 */
function expectUnknownSetting(overrides: Record<string, unknown>, path: string): void {
  const e = configErrorOf(overrides);
  expect(e.details?.issues).toContain(`${path}: Unrecognized key: "no_such_setting"`);
  expect(e.message).toContain(`${path}: Unrecognized key: "no_such_setting"`);
}

describe('the configuration assembled from the registries', () => {
  it('has one analyst section per registered LLM backend, its own schema, and names them as backends', () => {
    const analyst = AppConfig.shape.analyst.unwrap();
    expect(analyst.shape.backend.unwrap().options).toEqual(['builtin', ...Object.keys(LLM_BACKENDS)]);
    for (const [type, factory] of Object.entries(LLM_BACKENDS)) {
      expect(analyst.shape[type as LlmBackendType].unwrap(), type).toBe(factory.configSchema);
      expect(loadConfig({ env: {} }).analyst[type as LlmBackendType]).toEqual(factory.configSchema.parse({}));
      expectUnknownSetting({ analyst: { backend: type, [type]: { no_such_setting: 1 } } }, `analyst.${type}`);
    }
  });

  it('has one receivers section per registered receiver, its own schema', () => {
    const receivers = AppConfig.shape.receivers.unwrap();
    expect(Object.keys(receivers.shape)).toEqual(Object.keys(RECEIVER_FACTORIES));
    for (const [type, factory] of Object.entries(RECEIVER_FACTORIES)) {
      expect(receivers.shape[type as keyof typeof RECEIVER_FACTORIES].unwrap(), type).toBe(
        factory.configSchema,
      );
      expectUnknownSetting({ receivers: { [type]: { no_such_setting: 1 } } }, `receivers.${type}`);
    }
  });

  it('checks each sources entry against its registered source, and names the field of an unknown one', () => {
    for (const factory of SOURCE_FACTORIES) {
      expect(loadConfig({ env: {}, overrides: { sources: { [factory.type]: {} } } }).sources).toEqual({
        [factory.type]: {},
      });
      expectUnknownSetting(
        { sources: { [factory.type]: { no_such_setting: 1 } } },
        `sources.${factory.type}`,
      );
    }
    const e = configErrorOf({ sources: { no_such_source: {} } });
    expect(e.field).toBe('sources.no_such_source');
    expect(e.message).toContain('sources.no_such_source: no source of type no_such_source exists');
  });

  it('checks each respond.actions entry against its registered action, and names the field of an unknown one', () => {
    for (const factory of ACTION_FACTORIES) {
      // The configuration accepts an empty section exactly when the action itself does (some need settings).
      const ownVerdict = factory.configSchema.safeParse({}).success;
      let accepted = true;
      try {
        loadConfig({ env: {}, overrides: { respond: { actions: { [factory.type]: null } } } });
      } catch {
        accepted = false;
      }
      expect(accepted, factory.type).toBe(ownVerdict);
      expectUnknownSetting(
        { respond: { actions: { [factory.type]: { no_such_setting: 1 } } } },
        `respond.actions.${factory.type}`,
      );
    }
    const e = configErrorOf({ respond: { actions: { 'aws.iam.delete_user': {} } } });
    expect(e.field).toBe('respond.actions.aws.iam.delete_user');
    expect(e.message).toContain('no action of that type exists (known: aws.iam.disable_access_key');
  });

  it('names the registered embeddings backends as the choices of knowledge.embeddings.backend', () => {
    const embeddings = AppConfig.shape.knowledge.unwrap().shape.embeddings.unwrap();
    expect(embeddings.shape.backend.unwrap().options).toEqual(['none', ...Object.keys(EMBEDDING_BACKENDS)]);
    expect(configErrorOf({ knowledge: { embeddings: { backend: 'no_such_backend' } } }).field).toBe(
      'knowledge.embeddings.backend',
    );
  });

  it('has one detect section per registered detector that declares a schema, beside upstream_min_severity, level_overrides and noise', () => {
    const detect = AppConfig.shape.detect.unwrap();
    const declared = Object.entries(DETECTOR_FACTORIES).filter(([, f]) => 'configSchema' in f);
    expect(declared.map(([type]) => type)).toEqual(['sigma', 'resource_policy']);
    expect(Object.keys(detect.shape)).toEqual([
      'upstream_min_severity',
      'level_overrides',
      'noise',
      ...declared.map(([type]) => type),
    ]);
    for (const [type, factory] of declared) {
      expect(detect.shape[type as 'sigma' | 'resource_policy'].unwrap(), type).toBe(
        (factory as { configSchema: unknown }).configSchema,
      );
      expectUnknownSetting({ detect: { [type]: { no_such_setting: 1 } } }, `detect.${type}`);
    }
    expect(configErrorOf({ detect: { no_such_detector: {} } }).message).toContain('no_such_detector');
  });

  it('names the registered runners as the choices of pipeline.runner, embedded by default', () => {
    const pipeline = AppConfig.shape.pipeline.unwrap();
    expect(pipeline.shape.runner.unwrap().options).toEqual(Object.keys(RUNNERS));
    expect(loadConfig({ env: {} }).pipeline.runner).toBe('embedded');
    expect(configErrorOf({ pipeline: { runner: 'no_such_runner' } }).field).toBe('pipeline.runner');
  });

  it('refuses a section no registered component has, naming it', () => {
    expect(configErrorOf({ analyst: { no_such_backend: {} } }).message).toContain('no_such_backend');
    expect(configErrorOf({ analyst: { backend: 'no_such_backend' } }).field).toBe('analyst.backend');
    expect(configErrorOf({ receivers: { no_such_receiver: {} } }).message).toContain('no_such_receiver');
  });
});
