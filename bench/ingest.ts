/**
 * `npm run bench -- ingest`: CloudTrail records from ../shared/data/cloudtrail
 * posted by concurrent clients through POST /ingest/cloudtrail into the
 * embedded store (each 202 durable), against a bare JSON.parse of the same
 * bytes in the same run (the best of three passes); target: ingest at 0.25×
 * JSON.parse or better. Two shapes of traffic: large requests (500 records,
 * 4 clients) and small ones (20 records, 16 clients), each with group commit
 * (the default) and with every request committed alone
 * (`pipeline.group_commit_rows: 1`, as before group commit). Each setting
 * runs twice, on half the events each time, in the order A B B A after an
 * unmeasured warm-up, every run on a fresh server. Then, not a default, the
 * durable ingest journal (`pipeline.journal.enabled`: each 202 once the
 * normalised batch is fsynced to the journal, loaded into the store
 * behind), twice more. Per setting: events/s by
 * the clock and per CPU-second of this process (server and clients: the CPU
 * figure moves less than the clock when other work shares the machine),
 * submissions per commit, request latency, the time and CPU until the
 * pipeline has processed everything; at the end, peak RSS.
 */
import { join } from 'node:path';
import { SHARED_DATA } from '../test/helpers/data.ts';
import {
  cloudTrailBodies,
  peakRssMiB,
  percentile,
  report,
  sharedCloudTrailRecords,
  startBenchServer,
} from './_util.ts';

const TARGET = 0.25;
const LARGE_EVENTS = Number(process.env.BENCH_EVENTS ?? 40_000);
const SMALL_EVENTS = Number(process.env.BENCH_SMALL_EVENTS ?? 10_000);

const base = await sharedCloudTrailRecords();
if (base.length === 0) {
  console.log(`Skipping: ${join(SHARED_DATA, 'cloudtrail')} is absent.`);
  process.exit(0);
}

/** The real records repeated with fresh event ids, `perRequest` to a body, until `target` events. */
const bodiesOf = (target: number, perRequest: number) =>
  cloudTrailBodies(base, target, perRequest, String(perRequest));

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** JSON.parse of the bodies, the best of three passes: events per second by the clock and per CPU-second. */
function parseBaseline(bodies: string[]): { rate: number; cpuRate: number } {
  let rate = 0;
  let cpuRate = 0;
  for (let pass = 0; pass < 3; pass++) {
    global.gc?.();
    const c0 = cpuMs();
    const t0 = performance.now();
    let parsed = 0;
    for (const b of bodies) parsed += (JSON.parse(b) as { Records: unknown[] }).Records.length;
    rate = Math.max(rate, parsed / ((performance.now() - t0) / 1000));
    cpuRate = Math.max(cpuRate, parsed / (Math.max(1, cpuMs() - c0) / 1000));
  }
  return { rate, cpuRate };
}

interface Run {
  stored: number;
  ingestMs: number;
  cpuMs: number;
  endToEndMs: number;
  endToEndCpuMs: number;
  commits: number;
  submissions: number;
  /** Journal fdatasyncs, and the frames they made durable. */
  fsyncs: number;
  frames: number;
  latencies: number[];
  retries: number;
}

/** Two runs of one setting as one: their events, times and latencies added up. */
function combine(a: Run, b: Run): Run {
  return {
    stored: a.stored + b.stored,
    ingestMs: a.ingestMs + b.ingestMs,
    cpuMs: a.cpuMs + b.cpuMs,
    endToEndMs: a.endToEndMs + b.endToEndMs,
    endToEndCpuMs: a.endToEndCpuMs + b.endToEndCpuMs,
    commits: a.commits + b.commits,
    submissions: a.submissions + b.submissions,
    fsyncs: a.fsyncs + b.fsyncs,
    frames: a.frames + b.frames,
    latencies: [...a.latencies, ...b.latencies],
    retries: a.retries + b.retries,
  };
}

/** Post every body through a fresh server with `clients` concurrent clients (`journal`: with pipeline.journal on). */
async function ingest(
  bodies: string[],
  clients: number,
  groupCommitRows?: number,
  journal = false,
): Promise<Run> {
  const server = await startBenchServer({
    pipeline: {
      queue_capacity: 200_000,
      ...(groupCommitRows ? { group_commit_rows: groupCommitRows } : {}),
      ...(journal ? { journal: { enabled: true } } : {}),
    },
  });
  const { runtime, url } = server;
  const { key } = await runtime.store.apiKeys.create('bench', ['ingest']);
  const latencies: number[] = [];
  let stored = 0;
  let retries = 0;
  let next = 0;
  global.gc?.();
  const c0 = cpuMs();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        for (;;) {
          const sent = performance.now();
          const res = await fetch(`${url}/ingest/cloudtrail`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body,
          });
          if (res.status === 429 || res.status === 503) {
            await res.arrayBuffer();
            retries++;
            await new Promise((r) => setTimeout(r, 200));
            continue;
          }
          if (res.status !== 202)
            throw new Error(`POST /ingest/cloudtrail: ${res.status} ${await res.text()}`);
          const j = (await res.json()) as { stored: number };
          latencies.push(performance.now() - sent);
          stored += j.stored;
          break;
        }
      }
    }),
  );
  const ingestMs = performance.now() - t0;
  const ingestCpuMs = cpuMs() - c0;
  await runtime.runner.drain(600_000);
  const endToEndMs = performance.now() - t0;
  const endToEndCpuMs = cpuMs() - c0;
  const groups = await runtime.metrics.registry.getSingleMetricAsString('aisoc_commit_group_submissions');
  const fsyncGroups = await runtime.metrics.registry.getSingleMetricAsString(
    'aisoc_journal_fsync_group_frames',
  );
  await server.close();
  return {
    stored,
    ingestMs,
    cpuMs: ingestCpuMs,
    endToEndMs,
    endToEndCpuMs,
    submissions: Number(/_sum (\S+)/.exec(groups)?.[1] ?? 0),
    commits: Number(/_count (\S+)/.exec(groups)?.[1] ?? 0),
    frames: Number(/_sum (\S+)/.exec(fsyncGroups)?.[1] ?? 0),
    fsyncs: Number(/_count (\S+)/.exec(fsyncGroups)?.[1] ?? 0),
    latencies,
    retries,
  };
}

const shapes = [
  { name: 'large requests', events: LARGE_EVENTS, perRequest: 500, clients: 4 },
  { name: 'small requests', events: SMALL_EVENTS, perRequest: 20, clients: 16 },
];
for (const shape of shapes) {
  const { bodies, events } = bodiesOf(Math.ceil(shape.events / 2), shape.perRequest);
  const bytes = bodies.reduce((n, b) => n + b.length, 0);
  const parse = parseBaseline(bodies);
  // Warm up on this shape (compilation, caches, heap size), unmeasured: the first run in a process costs more.
  await ingest(bodies.slice(0, Math.ceil(bodies.length / 4)), shape.clients);
  // Each setting twice, in the order A B B A, so neither gains from running later in the process.
  const grouped1 = await ingest(bodies, shape.clients);
  const alone1 = await ingest(bodies, shape.clients, 1);
  const alone2 = await ingest(bodies, shape.clients, 1);
  const grouped2 = await ingest(bodies, shape.clients);
  // Not a default: acknowledged from the durable ingest journal, loaded into the store behind.
  const journaled1 = await ingest(bodies, shape.clients, undefined, true);
  const journaled2 = await ingest(bodies, shape.clients, undefined, true);
  for (const [label, run] of [
    ['group commit', combine(grouped1, grouped2)],
    ['each request committed alone', combine(alone1, alone2)],
    [
      'ingest journal (pipeline.journal.enabled, 202 once fsynced to the journal)',
      combine(journaled1, journaled2),
    ],
  ] as const) {
    const rate = run.stored / (run.ingestMs / 1000);
    const cpuRate = run.stored / (Math.max(1, run.cpuMs) / 1000);
    const ratio = rate / parse.rate;
    report(
      `Ingest through POST /ingest/cloudtrail into the embedded store, ${shape.name}, ${label}: two runs, each of ${events} events (${base.length} real records repeated) in ${bodies.length} requests of ${shape.perRequest} (${(bytes / 1e6).toFixed(1)} MB) from ${shape.clients} concurrent clients`,
      {
        'events stored': run.stored,
        [run.fsyncs ? 'ingest events/s (202s durable in the journal)' : 'ingest events/s (durable 202s)']:
          Math.round(rate),
        'JSON.parse events/s (baseline)': Math.round(parse.rate),
        'ratio ingest / JSON.parse': ratio,
        [`target ≥ ${TARGET}`]: ratio >= TARGET ? 'met' : 'not met',
        'ingest events per CPU-second': Math.round(cpuRate),
        'JSON.parse events per CPU-second': Math.round(parse.cpuRate),
        'ratio by CPU time': cpuRate / parse.cpuRate,
        'submissions per commit (mean)': run.commits ? run.submissions / run.commits : 0,
        ...(run.fsyncs ? { 'requests per journal fdatasync (mean)': run.frames / run.fsyncs } : {}),
        'request latency p50 ms': percentile(run.latencies, 50),
        'request latency p99 ms': percentile(run.latencies, 99),
        'requests refused and resent (429/503)': run.retries,
        'end-to-end events/s (pipeline drained)': Math.round(run.stored / (run.endToEndMs / 1000)),
        'end-to-end events per CPU-second': Math.round(run.stored / (run.endToEndCpuMs / 1000)),
      },
    );
  }
}
console.log(`peak RSS MiB (server and clients): ${peakRssMiB().toFixed(0)}`);
