/**
 * `npm run bench -- ingest`: CloudTrail records from ../shared/data/cloudtrail
 * posted through the HTTP API into the embedded store (durable before each
 * 202), as events/s and as a ratio to a bare JSON.parse of the same bytes in
 * the same run; then the time until the pipeline has processed them all, and
 * peak RSS.
 */
import { join } from 'node:path';
import { readInputDocs } from '../src/sources/archive.ts';
import { unwrapCloudTrail } from '../src/sources/cloudtrail/parse.ts';
import { frameBody } from '../src/sources/framing.ts';
import { expandInputs } from '../src/sources/inputs.ts';
import { SHARED_DATA } from '../test/helpers/data.ts';
import { peakRssMiB, report, startBenchServer } from './_util.ts';

const TARGET_EVENTS = Number(process.env.BENCH_EVENTS ?? 60_000);
const PER_REQUEST = 500;
const CONCURRENCY = 4;

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
// Repeat the real records with fresh event ids until the target size.
const bodies: string[] = [];
let made = 0;
for (let round = 0; made < TARGET_EVENTS; round++) {
  for (let i = 0; i < base.length && made < TARGET_EVENTS; i += PER_REQUEST) {
    const chunk = base
      .slice(i, i + PER_REQUEST)
      .map((r, j) => ({ ...r, eventID: `bench-${round}-${i + j}` }));
    made += chunk.length;
    bodies.push(JSON.stringify({ Records: chunk }));
  }
}
const bytes = bodies.reduce((n, b) => n + b.length, 0);

// Baseline: parse the same bytes.
let t0 = performance.now();
let parsed = 0;
for (const b of bodies) parsed += (JSON.parse(b) as { Records: unknown[] }).Records.length;
const parseMs = performance.now() - t0;

const server = await startBenchServer({ pipeline: { queue_capacity: 200_000 } });
const { runtime, url } = server;
const { key } = await runtime.store.apiKeys.create('bench', ['ingest']);

let stored = 0;
let next = 0;
t0 = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      for (;;) {
        const res = await fetch(`${url}/ingest/cloudtrail`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body,
        });
        if (res.status === 429) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        const j = (await res.json()) as { stored: number };
        stored += j.stored;
        break;
      }
    }
  }),
);
const ingestMs = performance.now() - t0;
await runtime.runner.drain(600_000);
const endToEndMs = performance.now() - t0;
await server.close();

const ingestRate = stored / (ingestMs / 1000);
const parseRate = parsed / (parseMs / 1000);
report(
  `Ingest through POST /ingest/cloudtrail into the embedded store (${base.length} real records repeated to ${made} events, ${bodies.length} requests of ${PER_REQUEST}, ${CONCURRENCY} concurrent clients)`,
  {
    'events stored': stored,
    'body bytes': bytes,
    'ingest events/s (durable 202s)': Math.round(ingestRate),
    'end-to-end events/s (pipeline drained)': Math.round(stored / (endToEndMs / 1000)),
    'JSON.parse events/s (baseline)': Math.round(parseRate),
    'ratio ingest / JSON.parse': ingestRate / parseRate,
    'peak RSS MiB (server and client)': peakRssMiB(),
  },
);
