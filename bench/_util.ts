/** Helpers shared by benchmarks. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/app-config.ts';
import { openRuntime, type Runtime, type RuntimeOptions } from '../src/runtime.ts';
import { type App, build } from '../src/server/app.ts';
import { readInputDocs } from '../src/sources/archive.ts';
import { unwrapCloudTrail } from '../src/sources/cloudtrail/parse.ts';
import { frameBody } from '../src/sources/framing.ts';
import { expandInputs } from '../src/sources/inputs.ts';
import { SHARED_DATA } from '../test/helpers/data.ts';

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

/**
 * The real CloudTrail records under `../shared/data/cloudtrail` (envelopes
 * opened, digests and unparsable documents skipped), at most `limit`; empty
 * when the data is absent.
 */
export async function sharedCloudTrailRecords(
  limit = Number.POSITIVE_INFINITY,
): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  const files = await expandInputs([join(SHARED_DATA, 'cloudtrail')]).catch(() => []);
  for (const f of files) {
    for (const doc of readInputDocs(f)) {
      let framed: ReturnType<typeof frameBody>;
      try {
        framed = frameBody(doc.text, 'json');
      } catch {
        continue;
      }
      for (const r of framed)
        for (const rec of unwrapCloudTrail(r.value))
          if (typeof rec === 'object' && rec !== null && 'eventName' in rec && 'eventTime' in rec)
            out.push(rec as Record<string, unknown>);
      if (out.length >= limit) return out;
    }
  }
  return out;
}

/**
 * `records` repeated with fresh event ids (`bench-<tag>-<round>-<index>`),
 * `perRequest` to a `{"Records": […]}` body, until `target` events.
 */
export function cloudTrailBodies(
  records: Array<Record<string, unknown>>,
  target: number,
  perRequest: number,
  tag: string,
): { bodies: string[]; events: number } {
  const bodies: string[] = [];
  let made = 0;
  for (let round = 0; made < target && records.length > 0; round++) {
    for (let i = 0; i < records.length && made < target; i += perRequest) {
      const chunk = records
        .slice(i, Math.min(i + perRequest, i + target - made))
        .map((r, j) => ({ ...r, eventID: `bench-${tag}-${round}-${i + j}` }));
      made += chunk.length;
      bodies.push(JSON.stringify({ Records: chunk }));
    }
  }
  return { bodies, events: made };
}
