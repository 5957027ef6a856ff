/**
 * `npm run bench -- startup`: how long the `aisoc` command takes to start,
 * from the release build (dist/, built first when it is missing or older
 * than the sources), as a user runs it (`node bin/aisoc.mjs`):
 *
 * - `aisoc --version` (target ≤ 0.3 s). Baseline: `node -e 0`, the start of
 *   Node itself, which no command can beat; the ratio is what our launcher
 *   and CLI add. Beside it, the same command run from the sources through
 *   tsx (`AISOC_RUN=src`), what every start cost before the release build.
 * - `aisoc serve` until `GET /health` answers 200 (target ≤ 2 s with the
 *   knowledge index cached), and until the knowledge base is ready
 *   (`GET /collections` says `ready`), with a cold cache (the ATT&CK index
 *   deleted from `<data_dir>/cache/`, so the start builds it on a worker) and
 *   a warm one. The data directory is created once beforehand (its first
 *   start runs initdb, reported apart). Baseline: a Node process that
 *   starts a bare `node:http` server answering `/health`, the floor of
 *   any server started the same way.
 *
 * Each figure is the median of `RUNS` runs (`--runs=N`, default 5).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../test/helpers/process.ts';
import { percentile, report } from './_util.ts';

const RUNS = Number(process.argv.find((a) => a.startsWith('--runs='))?.split('=')[1] ?? 5);
const BIN = join(REPO, 'bin/aisoc.mjs');
const TARGET_VERSION_S = 0.3;
const TARGET_HEALTH_S = 2;

/** The environment of every run: ours without AISOC_* settings, so each run is the default. */
const ENV: Record<string, string> = Object.fromEntries(
  Object.entries(process.env).filter(([k, v]) => !k.startsWith('AISOC_') && v !== undefined),
) as Record<string, string>;

/** Whether bin/aisoc.mjs would run dist/ now (its own check, asked through a tiny script). */
function distCurrent(): boolean {
  const probe = `import { readFileSync } from 'node:fs';
import { sourceStamp, STAMP_FILE } from ${JSON.stringify(join(REPO, 'bin/sources.mjs'))};
try { const b = JSON.parse(readFileSync(${JSON.stringify(join(REPO, 'dist'))} + '/' + STAMP_FILE, 'utf8'));
process.exit(b.sources === sourceStamp(${JSON.stringify(join(REPO, 'src'))}) ? 0 : 1); } catch { process.exit(1); }`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', probe]).status === 0;
}

function median(xs: number[]): number {
  return percentile(xs, 50);
}

/** Seconds a command takes to run to its end (it must succeed). */
function timeRun(args: string[], env: Record<string, string> = ENV): number {
  const t0 = performance.now();
  execFileSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return (performance.now() - t0) / 1000;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Poll `url` until `done(response)` says so; seconds since `t0`. */
async function until(url: string, t0: number, done: (r: Response) => Promise<boolean>, headers = {}) {
  for (;;) {
    try {
      const r = await fetch(url, { headers });
      if (await done(r)) return (performance.now() - t0) / 1000;
    } catch {
      // Not listening yet.
    }
    await sleep(5);
  }
}

interface Start {
  health_s: number;
  ready_s?: number;
  state?: string;
  attack?: boolean;
  /** Where the ATT&CK index came from (`aisoc_knowledge_index_loads_total{origin}`). */
  origin?: string;
}

/**
 * Start a server process (`args` after node), wait for the URL it prints,
 * then for /health, and (`knowledge`) for the knowledge base; then stop it
 * and wait for it to exit.
 */
async function start(args: string[], knowledge?: { dataDir: string }): Promise<Start> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let out = '';
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const seen = (d: Buffer) => {
        out += d;
        const m = /(?:serving on|listening on) (http:\/\/[^\s)]+)/.exec(out);
        if (m) resolve(m[1]!);
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      void exited.then((code) => reject(new Error(`${args.join(' ')} exited (${code}):\n${out}`)));
    });
    const health_s = await until(`${url}/health`, t0, async (r) => r.status === 200);
    if (!knowledge) return { health_s };
    const key = readFileSync(join(knowledge.dataDir, 'admin.key'), 'utf8').trim();
    let body: { state?: string; attack_version?: string } = {};
    const ready_s = await until(
      `${url}/collections`,
      t0,
      async (r) => {
        if (r.status !== 200) return false;
        body = (await r.json()) as typeof body;
        return body.state === 'ready' || body.state === 'failed';
      },
      { authorization: `Bearer ${key}` },
    );
    const metrics = await (
      await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${key}` } })
    ).text();
    const origin = /aisoc_knowledge_index_loads_total\{origin="(\w+)"\} 1/.exec(metrics)?.[1] ?? 'none';
    return { health_s, ready_s, state: body.state ?? '?', attack: body.attack_version !== undefined, origin };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const BASELINE_SERVER = `const http = require('node:http');
const s = http.createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end('{"status":"ok"}'); });
s.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + s.address().port));
process.on('SIGTERM', () => s.close(() => process.exit(0)));`;

if (!distCurrent()) {
  console.log('dist/ is missing or older than src/: building it (node scripts/build-dist.mjs).');
  execFileSync(process.execPath, [join(REPO, 'scripts/build-dist.mjs')], { stdio: 'inherit' });
}
console.log(
  `${availableParallelism()} cores, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; ${RUNS} runs each, medians.`,
);

// --version.
const nodeE0: number[] = [];
const version: number[] = [];
const versionSrc: number[] = [];
for (let i = 0; i < RUNS; i++) {
  nodeE0.push(timeRun(['-e', '0']));
  version.push(timeRun([BIN, '--version']));
  versionSrc.push(timeRun([BIN, '--version'], { ...ENV, AISOC_RUN: 'src' }));
}
const v = median(version);
const v0 = median(nodeE0);
report('aisoc --version', {
  'baseline: node -e 0 (s)': v0,
  'aisoc --version, dist (s)': v,
  'ratio to baseline': v / v0,
  'target (s)': TARGET_VERSION_S,
  'within target': v <= TARGET_VERSION_S ? 'yes' : 'NO',
  'from the sources via tsx (s)': median(versionSrc),
});

// serve.
const dataDir = mkdtempSync(join(tmpdir(), 'aisoc-bench-startup-'));
try {
  const serve = [BIN, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'];
  const first = await start(serve, { dataDir });
  const cache = join(dataDir, 'cache');
  const dropIndex = () => {
    for (const f of existsSync(cache) ? readdirSync(cache) : [])
      if (f.startsWith('knowledge-index-')) rmSync(join(cache, f));
  };
  const baseline: number[] = [];
  const cold: Start[] = [];
  const warm: Start[] = [];
  for (let i = 0; i < RUNS; i++) {
    baseline.push((await start(['-e', BASELINE_SERVER])).health_s);
    dropIndex();
    cold.push(await start(serve, { dataDir }));
    warm.push(await start(serve, { dataDir }));
  }
  const b = median(baseline);
  const attack = warm.every((s) => s.attack);
  const h = (xs: Start[]) => median(xs.map((s) => s.health_s));
  const r = (xs: Start[]) => median(xs.map((s) => s.ready_s ?? Number.NaN));
  const origins = (xs: Start[]) => [...new Set(xs.map((s) => s.origin))].join(', ');
  report('aisoc serve', {
    'first start, new data dir: /health (s)': first.health_s,
    'baseline: node:http server /health (s)': b,
    'cold index cache: /health (s)': h(cold),
    'cold: ratio to baseline': h(cold) / b,
    'cold: knowledge ready (s)': r(cold),
    'cold: index came from': origins(cold),
    'warm index cache: /health (s)': h(warm),
    'warm: ratio to baseline': h(warm) / b,
    'warm: knowledge ready (s)': r(warm),
    'warm: index came from': origins(warm),
    'target, warm /health (s)': TARGET_HEALTH_S,
    'within target': h(warm) <= TARGET_HEALTH_S ? 'yes' : 'NO',
    'ATT&CK loaded': attack
      ? 'yes'
      : `no (state ${warm[0]?.state}): no bundle found, so the cache has nothing to hold; see aisoc kb load`,
  });
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
