/**
 * `npm run bench -- overload [--quick] [--seconds=60]`: the server under ten
 * times the ingest rate it can sustain.
 *
 * It starts the real server as `aisoc serve` does (a child process, a fresh
 * data directory, an admin key from AISOC_ADMIN_KEY), samples its resident
 * set size throughout, and:
 *  1. start: the peak RSS while the knowledge base builds (from listening
 *     until GET /collections says ready; the peak before listening, while the
 *     database is opened or created, is printed beside it);
 *  2. idle: RSS once the server has been idle for a few seconds;
 *  3. sustainable rate: closed-loop ingestion (4 clients, each sending its
 *     next request when the last is answered) for some seconds, then the time
 *     until the pipeline has processed everything: events / total time;
 *  4. overload: an open-loop client sending at 10× that rate for 60 s (each
 *     request leaves at its scheduled time, answered or not), while another
 *     connection asks GET /health every 100 ms;
 *  5. after the pipeline drains, the server is stopped and the store read
 *     back: every acknowledged event must be there, once, and nothing else.
 *
 * Targets (PASS/FAIL): /health p99 ≤ 250 ms; peak RSS under overload ≤ 2×
 * idle; acknowledged = stored; RSS ≤ 800 MB at start and ≤ 500 MB idle.
 * Every figure depends on the machine; the benchmark prints what it measured.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { openStore } from '../src/store/index.ts';
import { BIN, REPO } from '../test/helpers/process.ts';
import { percentile, report, sharedCloudTrailRecords } from './_util.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string, fallback: number) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : fallback;
};
const OVERLOAD_S = flag('seconds', quick ? 15 : 60);
const SUSTAIN_S = flag('sustain-seconds', quick ? 8 : 20);
const FACTOR = flag('factor', 10);
const PER_REQUEST = 100;
const IDLE_SETTLE_MS = quick ? 5_000 : 10_000;
const MB = 1e6;

// ------------------------------------------------------------------ records

/** CloudTrail records to send: the shared real ones when present, else a synthetic one. */
async function baseRecords(): Promise<Array<Record<string, unknown>>> {
  const out = await sharedCloudTrailRecords(5_000);
  if (out.length) return out;
  return [
    {
      eventVersion: '1.08',
      eventTime: '2026-01-01T00:00:00Z',
      eventSource: 'ec2.amazonaws.com',
      eventName: 'DescribeInstances',
      awsRegion: 'eu-west-1',
      sourceIPAddress: '203.0.113.7',
      userIdentity: { type: 'IAMUser', userName: 'bench', accountId: '123456789012' },
      requestParameters: { instancesSet: {} },
    },
  ];
}

const base = await baseRecords();
const runTag = randomBytes(4).toString('hex');
const ID_MARK = '\u0000ID\u0000';
/**
 * Each record serialised once, split where its event id goes: a body is then
 * a few string joins, so the client spends its time sending, not serialising
 * (it shares the machine with the server).
 */
const templates = base
  .slice(0, 1000)
  .map((r) => JSON.stringify({ ...r, eventID: ID_MARK }).split(JSON.stringify(ID_MARK)));
let bodySeq = 0;
/** A request body of PER_REQUEST records with fresh event ids; returns the ids too. */
function makeBody(): { body: string; ids: string[] } {
  const n = bodySeq++;
  const ids: string[] = [];
  const parts: string[] = [];
  for (let i = 0; i < PER_REQUEST; i++) {
    const id = `ovl-${runTag}-${n}-${i}`;
    ids.push(id);
    const t = templates[(n * PER_REQUEST + i) % templates.length]!;
    parts.push(`${t[0]}"${id}"${t[1]}`);
  }
  return { body: `{"Records":[${parts.join(',')}]}`, ids };
}

// ------------------------------------------------------------------ the server

const dataDir = mkdtempSync(join(tmpdir(), 'aisoc-bench-overload-'));
const adminKey = randomBytes(32).toString('hex');
const spawnedAt = performance.now();
const child: ChildProcess = spawn(
  process.execPath,
  [
    // Diagnosis: e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
    ...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    BIN,
    'serve',
    '--port',
    '0',
    '--data-dir',
    dataDir,
    '--log-level',
    'warn',
  ],
  {
    cwd: REPO,
    env: { ...process.env, AISOC_ADMIN_KEY: adminKey, AISOC_CONFIG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
let output = '';
child.stdout!.on('data', (d) => {
  output += d;
});
child.stderr!.on('data', (d) => {
  output += d;
});

function childRss(): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** RSS samples every 100 ms, and the peak within a phase. */
let phasePeak = 0;
const rssTimer = setInterval(() => {
  phasePeak = Math.max(phasePeak, childRss());
}, 100);
rssTimer.unref();

const url = await new Promise<string>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 180_000);
  const onData = () => {
    const m = /serving on (http:\/\/\S+)/.exec(output);
    if (m) {
      clearTimeout(timer);
      resolve(m[1]!);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
});
const listeningMs = performance.now() - spawnedAt;
// Before listening the server opens (or, in a fresh data directory, creates) its database; the knowledge
// base builds from here on. "RSS at start" is the peak while it builds.
const preListenPeak = Math.max(phasePeak, childRss());
phasePeak = childRss();
const { hostname, port } = new URL(url);

// ------------------------------------------------------------------ HTTP

const ingestAgent = new Agent({ keepAlive: true, maxSockets: 256 });
const healthAgent = new Agent({ keepAlive: true, maxSockets: 1 });

interface Reply {
  status: number;
  body: string;
  ms: number;
}

function http(
  method: string,
  path: string,
  agent: Agent,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: hostname, port, method, path, agent, headers: { ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          ms: performance.now() - started,
        }),
      );
      res.on('error', () => resolve({ status: 0, body: '', ms: performance.now() - started }));
    });
    req.setTimeout(300_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '', ms: performance.now() - started }));
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

const auth = { authorization: `Bearer ${adminKey}` };
const json = { ...auth, 'content-type': 'application/json' };

async function knowledgeState(): Promise<string> {
  const r = await http('GET', '/collections', healthAgent, undefined, auth);
  try {
    return (JSON.parse(r.body) as { state: string }).state;
  } catch {
    return 'unknown';
  }
}

async function pending(): Promise<number> {
  const r = await http('GET', '/ready', healthAgent, undefined, auth);
  try {
    return (JSON.parse(r.body) as { pending: number }).pending;
  } catch {
    return Number.NaN;
  }
}

async function drain(): Promise<void> {
  for (;;) {
    if ((await pending()) === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every acknowledged event id, and what the overload client saw. */
const acknowledged = new Set<string>();
const sent = new Set<string>();

async function ingest(): Promise<Reply> {
  const { body, ids } = makeBody();
  for (const id of ids) sent.add(id);
  const r = await http('POST', '/ingest/cloudtrail', ingestAgent, body, json);
  if (r.status === 202) for (const id of ids) acknowledged.add(id);
  return r;
}

// ------------------------------------------------------------------ 1. start, 2. idle

let kbState = await knowledgeState();
while (kbState === 'loading' || kbState === 'idle') {
  await new Promise((r) => setTimeout(r, 100));
  kbState = await knowledgeState();
}
const kbReadyMs = performance.now() - spawnedAt;
const startPeak = Math.max(phasePeak, childRss());
await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
const idleSamples: number[] = [];
for (let i = 0; i < 10; i++) {
  idleSamples.push(childRss());
  await new Promise((r) => setTimeout(r, 100));
}
const idleRss = percentile(idleSamples, 50);

// ------------------------------------------------------------------ 3. sustainable rate

const sustainStart = performance.now();
let sustainAcked = 0;
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (performance.now() - sustainStart < SUSTAIN_S * 1000) {
      const r = await ingest();
      if (r.status === 202) sustainAcked += PER_REQUEST;
      else await new Promise((res) => setTimeout(res, 50));
    }
  }),
);
await drain();
const sustainable = sustainAcked / ((performance.now() - sustainStart) / 1000);
const target = sustainable * FACTOR;

// ------------------------------------------------------------------ 4. overload

await new Promise((r) => setTimeout(r, 1000));
const ackedBefore = acknowledged.size;
phasePeak = childRss();
const statuses = new Map<number, number>();
const latencies: number[] = [];
// GET /health every 100 ms from a thread of its own: the ingest client's work on this thread must not
// count as the server's latency. It also reads the server's own event-loop delay from /metrics each second.
const prober = new Worker(
  `
  const { parentPort, workerData } = require('node:worker_threads');
  const http = require('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const get = (path, headers) => new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.request({ host: workerData.host, port: workerData.port, path, agent, headers }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0, body }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0, body: '' }));
    req.end();
  });
  const health = [], failures = [], lag = [];
  let stop = false;
  parentPort.on('message', () => { stop = true; });
  (async () => {
    let n = 0;
    while (!stop) {
      const r = await get('/health', {});
      health.push(r.ms);
      if (r.status !== 200) failures.push(r.status);
      if (++n % 10 === 0) {
        const m = await get('/metrics', { authorization: 'Bearer ' + workerData.key });
        const x = /^aisoc_admission_event_loop_delay_seconds (\\S+)$/m.exec(m.body);
        if (x) lag.push(Number(x[1]) * 1000);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    agent.destroy();
    parentPort.postMessage({ health, failures, lag });
  })();
  `,
  { eval: true, workerData: { host: hostname, port: Number(port), key: adminKey } },
);
const probed = new Promise<{ health: number[]; failures: number[]; lag: number[] }>((resolve) =>
  prober.once('message', resolve),
);
const interval = 1000 / (target / PER_REQUEST);
const overloadStart = performance.now();
const inflight = new Set<Promise<void>>();
let scheduled = 0;
let maxInflight = 0;
while (performance.now() - overloadStart < OVERLOAD_S * 1000) {
  const due = overloadStart + scheduled * interval;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  const p: Promise<void> = ingest().then((r) => {
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    latencies.push(r.ms);
    inflight.delete(p);
  });
  inflight.add(p);
  maxInflight = Math.max(maxInflight, inflight.size);
  scheduled++;
}
const sendingMs = performance.now() - overloadStart;
await Promise.all(inflight);
prober.postMessage('stop');
const { health, failures: healthFailures, lag: serverLag } = await probed;
await prober.terminate();
const overloadAcked = acknowledged.size - ackedBefore;
const overloadPeak = Math.max(phasePeak, childRss());
await drain();

// ------------------------------------------------------------------ 5. stop and count

child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
clearInterval(rssTimer);
ingestAgent.destroy();
healthAgent.destroy();
const store = await openStore({ dataDir });
const rows = await store.client.query<{ id: string }>(
  `SELECT source_event_id AS id FROM events WHERE source_event_id LIKE $1`,
  [`ovl-${runTag}-%`],
);
await store.close();
rmSync(dataDir, { recursive: true, force: true });
const storedIds = rows.rows.map((r) => r.id);
const stored = new Set(storedIds);
let missing = 0;
for (const id of acknowledged) if (!stored.has(id)) missing++;
let unacknowledged = 0;
for (const id of stored) if (!acknowledged.has(id)) unacknowledged++;

// ------------------------------------------------------------------ report

const mb = (b: number) => Math.round(b / MB);
const healthP99 = percentile(health, 99);
const checks: Array<[string, boolean, string]> = [
  ['/health p99 ≤ 250 ms', healthP99 <= 250, `${healthP99.toFixed(0)} ms`],
  [
    'peak RSS under overload ≤ 2× idle',
    overloadPeak <= 2 * idleRss,
    `${mb(overloadPeak)} MB vs ${mb(idleRss)} MB idle`,
  ],
  [
    'acknowledged = stored (exactly once)',
    missing === 0 && unacknowledged === 0 && storedIds.length === stored.size,
    `${acknowledged.size} acknowledged, ${storedIds.length} stored (${stored.size} distinct), ${missing} missing, ${unacknowledged} unacknowledged`,
  ],
  ['RSS at start ≤ 800 MB', startPeak <= 800e6, `${mb(startPeak)} MB`],
  ['RSS idle ≤ 500 MB', idleRss <= 500e6, `${mb(idleRss)} MB`],
];
report(
  `Overload: ${FACTOR}× the sustainable ingest rate for ${OVERLOAD_S} s, open loop, ${PER_REQUEST} CloudTrail events per request (a shared machine: figures vary between runs)`,
  {
    'server listening after s': listeningMs / 1000,
    'knowledge base ready after s': kbReadyMs / 1000,
    'RSS before listening (peak) MB': mb(preListenPeak),
    'RSS at start (peak while the KB builds) MB': mb(startPeak),
    'RSS idle MB': mb(idleRss),
    'sustainable events/s (closed loop)': Math.round(sustainable),
    'offered events/s (open loop)': Math.round((scheduled * PER_REQUEST) / (sendingMs / 1000)),
    'accepted events/s': Math.round(overloadAcked / (sendingMs / 1000)),
    'requests sent': scheduled,
    '202 accepted': statuses.get(202) ?? 0,
    '429 refused (queue, requests in progress)': statuses.get(429) ?? 0,
    '503 refused (event loop, memory)': statuses.get(503) ?? 0,
    'other statuses':
      [...statuses]
        .filter(([s]) => s !== 202 && s !== 429 && s !== 503)
        .map(([s, n]) => `${s}×${n}`)
        .join(' ') || 'none',
    'ingest latency p50 ms': percentile(latencies, 50),
    'ingest latency p99 ms': percentile(latencies, 99),
    'requests in flight at most': maxInflight,
    '/health p50 ms': percentile(health, 50),
    '/health p99 ms': healthP99,
    '/health max ms': Math.max(...health),
    '/health not 200': healthFailures.length,
    'server event-loop delay, worst 1 s window ms': serverLag.length ? Math.max(...serverLag) : 'n/a',
    'server event-loop delay, median window ms': serverLag.length ? percentile(serverLag, 50) : 'n/a',
    'peak RSS under overload MB': mb(overloadPeak),
    'peak / idle RSS': overloadPeak / idleRss,
    'events acknowledged (whole run)': acknowledged.size,
    'events stored (whole run)': storedIds.length,
    'events sent, refused': sent.size - acknowledged.size,
  },
);
if (process.env.BENCH_SHOW_SERVER_OUTPUT) console.log(output);
let failed = 0;
for (const [name, ok, value] of checks) {
  console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${name}: ${value}`);
  if (!ok) failed++;
}
process.exit(failed ? 1 : 0);
