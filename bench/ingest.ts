/**
 * `npm run bench -- ingest`: CloudTrail records from ../shared/data/cloudtrail
 * posted by concurrent clients through POST /ingest/cloudtrail into the
 * embedded store (each 202 durable), against a bare JSON.parse of the same
 * bytes in the same run; target: ingest at 0.25× JSON.parse or better. Two
 * shapes of traffic: large requests (500 records, 4 clients) and small ones
 * (20 records, 16 clients), each run with group commit (the default) and with
 * every request committed alone (`pipeline.group_commit_rows: 1`, as before
 * group commit), each on a fresh server. Per run: events/s by the clock and
 * per CPU-second of this process (server and clients: the CPU figure moves
 * less than the clock when other work shares the machine), submissions per
 * commit, request latency, the time until the pipeline has processed
 * everything, and at the end peak RSS.
 */
import { join } from 'node:path';
import { readInputDocs } from '../src/sources/archive.ts';
import { unwrapCloudTrail } from '../src/sources/cloudtrail/parse.ts';
import { frameBody } from '../src/sources/framing.ts';
import { expandInputs } from '../src/sources/inputs.ts';
import { SHARED_DATA } from '../test/helpers/data.ts';
import { peakRssMiB, percentile, report, startBenchServer } from './_util.ts';

const TARGET = 0.25;
const LARGE_EVENTS = Number(process.env.BENCH_EVENTS ?? 40_000);
const SMALL_EVENTS = Number(process.env.BENCH_SMALL_EVENTS ?? 10_000);

const files = await expandInputs([join(SHARED_DATA, 'cloudtrail')]).catch(() => []);
if (files.length === 0) {
  console.log(`Skipping: ${join(SHARED_DATA, 'cloudtrail')} is absent.`);
  process.exit(0);
}
const base: Array<Record<string, unknown>> = [];
for (const f of files) {
  for (const doc of readInputDocs(f)) {
    let framed: ReturnType<typeof frameBody>;
    try {
      framed = frameBody(doc.text, 'json');
    } catch {
      continue;
    }
    for (const r of framed) {
      for (const rec of unwrapCloudTrail(r.value)) {
        if (typeof rec === 'object' && rec !== null && 'eventName' in rec && 'eventTime' in rec)
          base.push(rec as Record<string, unknown>);
      }
    }
  }
}

/** The real records repeated with fresh event ids, `perRequest` to a body, until `target` events. */
function bodiesOf(target: number, perRequest: number): { bodies: string[]; events: number } {
  const bodies: string[] = [];
  let made = 0;
  for (let round = 0; made < target; round++) {
    for (let i = 0; i < base.length && made < target; i += perRequest) {
      const chunk = base
        .slice(i, Math.min(i + perRequest, i + target - made))
        .map((r, j) => ({ ...r, eventID: `bench-${perRequest}-${round}-${i + j}` }));
      made += chunk.length;
      bodies.push(JSON.stringify({ Records: chunk }));
    }
  }
  return { bodies, events: made };
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** JSON.parse of the bodies: events per second by the clock and per CPU-second. */
function parseBaseline(bodies: string[]): { rate: number; cpuRate: number } {
  const c0 = cpuMs();
  const t0 = performance.now();
  let parsed = 0;
  for (const b of bodies) parsed += (JSON.parse(b) as { Records: unknown[] }).Records.length;
  return {
    rate: parsed / ((performance.now() - t0) / 1000),
    cpuRate: parsed / (Math.max(1, cpuMs() - c0) / 1000),
  };
}

interface Run {
  stored: number;
  rate: number;
  cpuRate: number;
  endToEnd: number;
  perCommit: number;
  latencies: number[];
  retries: number;
}

/** Post every body through a fresh server with `clients` concurrent clients. */
async function ingest(bodies: string[], clients: number, groupCommitRows?: number): Promise<Run> {
  const server = await startBenchServer({
    pipeline: { queue_capacity: 200_000, ...(groupCommitRows ? { group_commit_rows: groupCommitRows } : {}) },
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
  const groups = await runtime.metrics.registry.getSingleMetricAsString('aisoc_commit_group_submissions');
  const sum = Number(/_sum (\S+)/.exec(groups)?.[1] ?? 0);
  const count = Number(/_count (\S+)/.exec(groups)?.[1] ?? 0);
  await server.close();
  return {
    stored,
    rate: stored / (ingestMs / 1000),
    cpuRate: stored / (Math.max(1, ingestCpuMs) / 1000),
    endToEnd: stored / (endToEndMs / 1000),
    perCommit: count ? sum / count : 0,
    latencies,
    retries,
  };
}

// Warm up (compilation, caches) on a server of its own, so the first measured run pays no more than the others.
await ingest(bodiesOf(3_000, 100).bodies, 4);

const shapes = [
  { name: 'large requests', events: LARGE_EVENTS, perRequest: 500, clients: 4 },
  { name: 'small requests', events: SMALL_EVENTS, perRequest: 20, clients: 16 },
];
for (const shape of shapes) {
  const { bodies, events } = bodiesOf(shape.events, shape.perRequest);
  const bytes = bodies.reduce((n, b) => n + b.length, 0);
  const parse = parseBaseline(bodies);
  for (const [label, rows] of [
    ['group commit', undefined],
    ['each request committed alone', 1],
  ] as const) {
    const run = await ingest(bodies, shape.clients, rows);
    const ratio = run.rate / parse.rate;
    report(
      `Ingest through POST /ingest/cloudtrail into the embedded store, ${shape.name}, ${label} (${base.length} real records repeated to ${events} events, ${bodies.length} requests of ${shape.perRequest}, ${shape.clients} concurrent clients, ${(bytes / 1e6).toFixed(1)} MB)`,
      {
        'events stored': run.stored,
        'ingest events/s (durable 202s)': Math.round(run.rate),
        'JSON.parse events/s (baseline)': Math.round(parse.rate),
        'ratio ingest / JSON.parse': ratio,
        [`target ≥ ${TARGET}`]: ratio >= TARGET ? 'met' : 'not met',
        'ingest events per CPU-second': Math.round(run.cpuRate),
        'JSON.parse events per CPU-second': Math.round(parse.cpuRate),
        'ratio by CPU time': run.cpuRate / parse.cpuRate,
        'submissions per commit (mean)': run.perCommit,
        'request latency p50 ms': percentile(run.latencies, 50),
        'request latency p99 ms': percentile(run.latencies, 99),
        'requests refused and resent (429/503)': run.retries,
        'end-to-end events/s (pipeline drained)': Math.round(run.endToEnd),
      },
    );
  }
}
console.log(`peak RSS MiB (server and clients): ${peakRssMiB().toFixed(0)}`);
