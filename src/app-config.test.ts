import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../test/helpers/runtime.ts';
import { loadConfig } from './app-config.ts';
import { AisocError } from './errors.ts';

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
