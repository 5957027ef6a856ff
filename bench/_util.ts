/** Helpers shared by benchmarks. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/app-config.ts';
import { openRuntime, type Runtime, type RuntimeOptions } from '../src/runtime.ts';
import { type App, build } from '../src/server/app.ts';

/** Peak resident set size of this process so far, in MiB (Linux: VmHWM). */
export function peakRssMiB(): number {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    if (m) return Number(m[1]) / 1024;
  } catch {}
  return process.memoryUsage().rss / 1024 / 1024;
}

/** Percentile of a sorted or unsorted sample. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/** Time a function: the best of `repeat` runs, in milliseconds. */
export async function bestOf(repeat: number, fn: () => unknown | Promise<unknown>): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Print a result table row by row as `key: value`. */
export function report(title: string, rows: Record<string, string | number>): void {
  console.log(title);
  for (const [k, v] of Object.entries(rows))
    console.log(`  ${k.padEnd(34)} ${typeof v === 'number' ? fmt(v) : v}`);
}

function fmt(n: number): string {
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return n.toFixed(Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 1 ? 2 : 3);
}

export interface BenchServer {
  runtime: Runtime;
  app: App;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Stop the server and the runtime, and delete the data directory. */
  close(): Promise<void>;
}

/**
 * A real server on a free port over a fresh temporary data directory, as
 * `serve` runs it, with `overrides` on top of the default config.
 */
export async function startBenchServer(
  overrides: Record<string, unknown> = {},
  options: RuntimeOptions = {},
): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-bench-'));
  const config = loadConfig({
    env: {},
    overrides: {
      data_dir: dir,
      log_level: 'silent',
      ...overrides,
      server: { port: 0, rate_limit_per_minute: 0, ...(overrides.server as object | undefined) },
    },
  });
  const runtime = await openRuntime(config, options);
  const app = await build({ runtime });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  return {
    runtime,
    app,
    url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    async close() {
      await app.close();
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
