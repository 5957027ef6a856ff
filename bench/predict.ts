/**
 * `npm run bench -- predict`: latency of POST /predict at a fixed 1,000
 * requests/s (autocannon, coordinated omission corrected), against GET
 * /health at the same rate on the same server as the baseline, for the
 * default flow model and for a 100-tree random forest.
 *
 * The server runs in a child process (this file with --serve), so the load
 * generator does not share its event loop. Flags: --rate N (default 1000),
 * --seconds N (default 10).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RATE = opt('rate', 1000);
const SECONDS = opt('seconds', 10);
const DATA = resolve(
  process.env.AISOC_SHARED_DATA ?? join(import.meta.dirname, '../../shared/data'),
  'netflow/cicids2017-improved-dev.csv',
);

interface Ready {
  port: number;
  key: string;
  models: string[];
  vector: number[];
}

async function serve(): Promise<void> {
  const { loadConfig } = await import('../src/app-config.ts');
  const { openRuntime } = await import('../src/runtime.ts');
  const { build } = await import('../src/server/app.ts');
  const { loadCsv } = await import('../src/detect/ml/load.ts');
  const { cicflowmeter } = await import('../src/detect/ml/features/cicflowmeter.ts');
  const { FOREST_DEFAULTS, trainForest } = await import('../src/detect/ml/trees/forest.ts');
  const { saveModel } = await import('../src/detect/ml/model-file.ts');
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-bench-predict-'));
  const models: Record<string, { path: string }> = {};
  let vector = new Array<number>(cicflowmeter.columns.length).fill(0);
  if (existsSync(DATA)) {
    const { dataset } = await loadCsv(DATA, cicflowmeter);
    vector = Array.from(dataset.x.subarray(dataset.cols * 7, dataset.cols * 8));
    const ensemble = await trainForest(dataset, { ...FOREST_DEFAULTS, nTrees: 100 }, { threads: 2 });
    const path = join(dir, 'rf100.aisoc-model');
    saveModel(path, {
      meta: {
        algorithm: 'rf',
        feature_set: {
          name: cicflowmeter.name,
          version: cicflowmeter.version,
          columns: [...cicflowmeter.columns],
        },
        labels: [...dataset.labels],
        negative_label: 'BENIGN',
        training: {},
        hyperparameters: {},
        metrics: {},
      },
      ensemble,
    });
    models['rf-100'] = { path };
  }
  const config = loadConfig({
    env: {},
    overrides: { log_level: 'silent', server: { rate_limit_per_minute: 0 }, ml: { models } },
  });
  const runtime = await openRuntime(config, { inMemory: true });
  const app = await build({ runtime });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const { key } = await runtime.store.apiKeys.create('bench', ['analyst', 'read']);
  const ready: Ready = {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    key,
    models: runtime.ml ? [...runtime.ml.models.keys()] : [],
    vector,
  };
  process.send?.(ready);
  process.on('message', async (msg) => {
    // The driver asks for this process's CPU time around each run: the server's cost per request.
    if (msg === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ cpu_us: u.user + u.system });
      return;
    }
    await app.close();
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
}

interface Latency {
  p50: number;
  p99: number;
  max: number;
}
interface Result {
  latency: Latency;
  requests: { average: number };
  non2xx: number;
  errors: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<Result>;

async function drive(): Promise<void> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const ready = await new Promise<Ready>((res, rej) => {
    child.once('message', (m) => res(m as Ready));
    child.once('exit', (code) => rej(new Error(`the server exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${ready.port}`;
  const serverCpu = () =>
    new Promise<number>((res) => {
      child.once('message', (m) => res((m as { cpu_us: number }).cpu_us));
      child.send('cpu');
    });
  const run = async (title: string, path: string, body?: unknown) => {
    const before = await serverCpu();
    const r = await autocannon({
      title,
      url: `${url}${path}`,
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${ready.key}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
      connections: 10,
      overallRate: RATE,
      duration: SECONDS,
    });
    const total = (r as Result & { requests: { total: number } }).requests.total;
    return { ...r, cpuPerRequestUs: ((await serverCpu()) - before) / Math.max(1, total) };
  };
  // Warm-up: JIT and caches, not measured.
  await autocannon({ url: `${url}/health`, connections: 10, duration: 2 });
  const rows: Array<[string, Result & { cpuPerRequestUs: number }]> = [];
  rows.push(['GET /health (baseline)', await run('health', '/health')]);
  for (const name of ['cicflowmeter-gbdt', 'rf-100'].filter((n) => ready.models.includes(n)))
    rows.push([
      `POST /predict ${name}`,
      await run(name, '/predict', { features: ready.vector, model_name: name }),
    ]);
  child.send('stop');
  const base = rows[0]![1].latency.p99;
  console.log(`rate ${RATE} requests/s for ${SECONDS} s, 10 connections\n`);
  console.log(
    '| request | req/s | p50 ms | p99 ms | max ms | p99 ÷ baseline p99 | server CPU µs/request | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const [title, r] of rows)
    console.log(
      `| ${title} | ${Math.round(r.requests.average)} | ${r.latency.p50.toFixed(2)} | ${r.latency.p99.toFixed(2)} | ${r.latency.max.toFixed(2)} | ${(r.latency.p99 / base).toFixed(2)} | ${Math.round(r.cpuPerRequestUs)} | ${r.non2xx + r.errors} |`,
    );
  for (const [title, r] of rows.slice(1))
    console.log(
      `target p99 < 2 ms at ${RATE}/s, ${title}: ${r.latency.p99 < 2 && r.non2xx + r.errors === 0 ? 'met' : 'NOT met'}`,
    );
}

if (args.includes('--serve')) await serve();
else await drive();
