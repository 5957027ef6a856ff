/**
 * `npm run bench -- scale`: one API process and 1, 2 and 4 worker processes
 * (`serve --role api|worker`, `pipeline.runner: nats`) on a nats-server and
 * a PostgreSQL database of their own, fed real CloudTrail records (repeated
 * with fresh ids) by four HTTP clients. For each worker count it prints the
 * end-to-end rate (first request to the last event through every stage)
 * and CPU-seconds per event, split into the API, the workers, the
 * nats-server and PostgreSQL (all of the cluster's processes: run it on an
 * otherwise idle server), and the ratio of each rate to one worker's,
 * measured in the same run. The capacity plan in docs/scaling.md
 * extrapolates these figures.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_DATA } from '../test/helpers/data.ts';
import { startNatsServer } from '../test/helpers/nats.ts';
import { freshDatabase, postgresAvailable } from '../test/helpers/postgres.ts';
import { type ServeProcess, startAisoc, waitExit } from '../test/helpers/process.ts';
import { tempDir } from '../test/helpers/runtime.ts';
import { cloudTrailBodies, report, sharedCloudTrailRecords } from './_util.ts';

const TARGET_EVENTS = Number(process.env.BENCH_EVENTS ?? 40_000);
const PER_REQUEST = 500;
const CONCURRENCY = 4;
const WORKERS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
const ADMIN = `aisoc_bench_scale_${'b'.repeat(32)}`;
const TICKS = 100; // USER_HZ on Linux

if (!(await postgresAvailable())) {
  console.log('Skipping: PostgreSQL is not reachable.');
  process.exit(0);
}
const base = await sharedCloudTrailRecords();
if (base.length === 0) {
  console.log(`Skipping: ${join(SHARED_DATA, 'cloudtrail')} is absent.`);
  process.exit(0);
}

/** CPU time of a process so far, in seconds (utime + stime from /proc). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU time of every PostgreSQL process on the machine (the server and its backends). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim().startsWith('postgres'))
        total += cpuSeconds(Number(name));
    } catch {}
  }
  return total;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Result {
  workers: number;
  events: number;
  seconds: number;
  cpu: { api: number; workers: number; nats: number; postgres: number };
}

async function run(workers: number): Promise<Result> {
  const { dir, cleanup } = tempDir('aisoc-bench-scale-');
  const db = await freshDatabase();
  const nats = await startNatsServer({ dir: join(dir, 'nats') });
  const configFile = join(dir, 'aisoc.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      pipeline: { runner: 'nats', queue_capacity: 200_000 },
      server: { rate_limit_per_minute: 0 },
      // Triage (the analyst) is measured by `bench analyst`; here the event path.
      respond: { enabled: false },
    }),
  );
  const env = {
    AISOC_DATABASE_URL: db.url,
    AISOC_NATS_URL: nats.url,
    AISOC_ADMIN_KEY: ADMIN,
    AISOC_CONFIG: configFile,
  };
  const procs: ServeProcess[] = [];
  try {
    const args = (role: string, name: string) => [
      'serve',
      '--role',
      role,
      '--port',
      '0',
      '--data-dir',
      join(dir, name),
      '--log-level',
      'warn',
    ];
    const api = await startAisoc(args('api', 'api'), env);
    procs.push(api);
    const ws = await Promise.all(
      Array.from({ length: workers }, (_, i) => startAisoc(args('worker', `w${i}`), env)),
    );
    procs.push(...ws);
    const { bodies, events } = cloudTrailBodies(base, TARGET_EVENTS, PER_REQUEST, `w${workers}`);
    const before = {
      api: cpuSeconds(api.child.pid!),
      workers: ws.reduce((n, w) => n + cpuSeconds(w.child.pid!), 0),
      nats: cpuSeconds(nats.pid),
      postgres: postgresCpuSeconds(),
    };
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          for (;;) {
            const res = await fetch(`${api.url}/ingest/cloudtrail`, {
              method: 'POST',
              headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
              body,
            });
            await res.arrayBuffer();
            if (res.status === 202) break;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }),
    );
    await until(async () => {
      const res = await fetch(`${api.url}/pipeline`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const stats = (await res.json()) as { pending: number; processed: number };
      return res.status === 200 && stats.pending === 0;
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = {
      api: cpuSeconds(api.child.pid!) - before.api,
      workers: ws.reduce((n, w) => n + cpuSeconds(w.child.pid!), 0) - before.workers,
      nats: cpuSeconds(nats.pid) - before.nats,
      postgres: postgresCpuSeconds() - before.postgres,
    };
    return { workers, events, seconds, cpu };
  } finally {
    for (const p of procs) {
      p.child.kill('SIGTERM');
      await waitExit(p.child);
    }
    await nats.stop();
    await db.drop();
    cleanup();
  }
}

const results: Result[] = [];
for (const n of WORKERS) results.push(await run(n));
const one = results.find((r) => r.workers === 1) ?? results[0]!;
const rateOf = (r: Result) => r.events / r.seconds;
for (const r of results) {
  const total = r.cpu.api + r.cpu.workers + r.cpu.nats + r.cpu.postgres;
  report(`${r.workers} worker(s), 1 API, ${r.events} CloudTrail events, ${CONCURRENCY} clients`, {
    'end-to-end events/s': Math.round(rateOf(r)),
    'ratio to 1 worker': rateOf(r) / rateOf(one),
    'CPU µs per event, all': (total / r.events) * 1e6,
    'CPU µs per event, API': (r.cpu.api / r.events) * 1e6,
    'CPU µs per event, workers': (r.cpu.workers / r.events) * 1e6,
    'CPU µs per event, nats-server': (r.cpu.nats / r.events) * 1e6,
    'CPU µs per event, PostgreSQL': (r.cpu.postgres / r.events) * 1e6,
  });
}
console.log(
  `Machine: ${(await import('node:os')).cpus().length} cores. More workers than cores share them: past that, the ratio measures contention, not scale.`,
);
