import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppConfig, loadConfig } from '../../src/app-config.ts';
import { mergeDeep } from '../../src/config/load.ts';
import { openRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime.ts';
import { type App, build } from '../../src/server/app.ts';
import type { ApiScope } from '../../src/store/index.ts';
import { INDEX_CACHE_ENV } from './global-setup.ts';

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'aisoc-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestServer {
  runtime: Runtime;
  app: App;
  /** Create a key with the given scopes and return it. */
  key(scopes: ApiScope[], name?: string): Promise<string>;
  close(): Promise<void>;
}

let counter = 0;

/** An in-memory runtime and an app for `inject()` tests. */
export async function testServer(
  overrides: Record<string, unknown> = {},
  options: RuntimeOptions = {},
): Promise<TestServer> {
  const config: AppConfig = loadConfig({
    env: {},
    // Rate limits and pressure-based admission are off unless a test turns them on: a busy test machine lags.
    overrides: mergeDeep(
      {
        server: { rate_limit_per_minute: 0, unauthenticated_rate_limit_per_minute: 0 },
        pipeline: { max_event_loop_delay_ms: 0, max_rss_bytes: 0 },
        // One ATT&CK index cache for the whole run (global-setup.ts): each test file would build it again.
        ...(process.env[INDEX_CACHE_ENV]
          ? { knowledge: { index_cache_dir: process.env[INDEX_CACHE_ENV] } }
          : {}),
      },
      overrides,
    ),
  });
  const runtime = await openRuntime(config, { inMemory: true, ...options });
  const app = await build({ runtime });
  return {
    runtime,
    app,
    async key(scopes, name) {
      const created = await runtime.store.apiKeys.create(
        name ?? `test-${++counter}-${scopes.join('-')}`,
        scopes,
      );
      return created.key;
    },
    async close() {
      await app.close();
      await runtime.close();
    },
  };
}
