/**
 * `npm run bench -- store`: the embedded store alone, no HTTP and no stages.
 * CloudTrail records from ../shared/data/cloudtrail are normalised up front
 * (not measured), then committed through `storeSubmissions` (what the runner
 * does for each group of submissions) 500 events a transaction into a fresh
 * file-backed database, and the CPU time of this process per event is
 * compared with a bare JSON.parse of the same request bodies in the same run.
 * Each trial opens a new database; the figure is the best trial (the CPU
 * figure moves least when other work shares the machine), with the median
 * and every trial listed, and the events table's size on disk per event.
 *
 * `BENCH_STORE_SQL='stmt; stmt'` runs statements after the migrations in a
 * second setting, alternated with the shipped one (A B B A …): how a change
 * to the schema moves the cost, e.g. `ALTER TABLE events_catchall RESET
 * (toast_tuple_target)` for the compression PostgreSQL does by default.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../src/app-config.ts';
import { storeSubmissions } from '../src/pipeline/execution.ts';
import type { SubmitInput } from '../src/pipeline/runner.ts';
import { SourceRegistry } from '../src/sources/index.ts';
import { normaliseRecords } from '../src/sources/normalise.ts';
import { openStore } from '../src/store/index.ts';
import { createMetrics } from '../src/telemetry/metrics.ts';
import { SHARED_DATA } from '../test/helpers/data.ts';
import { cloudTrailBodies, report, sharedCloudTrailRecords } from './_util.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5_000);
const PER_COMMIT = 500;
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3);
const SQL = process.env.BENCH_STORE_SQL ?? '';

const base = await sharedCloudTrailRecords();
if (base.length === 0) {
  console.log(`Skipping: ${join(SHARED_DATA, 'cloudtrail')} is absent.`);
  process.exit(0);
}
const source = new SourceRegistry({}, pino({ level: 'silent' })).get('cloudtrail');

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Fresh event ids for each trial (`tag`), so no trial's events are duplicates of another's. */
function trialInput(tag: string): { bodies: string[]; submissions: SubmitInput[] } {
  const { bodies } = cloudTrailBodies(base, EVENTS, PER_COMMIT, tag);
  const ingestedAt = new Date().toISOString();
  const submissions = bodies.map((b) => {
    const records = (JSON.parse(b) as { Records: unknown[] }).Records.map((value) => ({ value }));
    const n = normaliseRecords(source, records, ingestedAt);
    return { events: n.events, deadLetters: n.deadLetters };
  });
  return { bodies, submissions };
}

/** CPU microseconds per event committing one trial's submissions into a new database, and its bytes on disk per event. */
async function trial(tag: string, sql: string): Promise<{ cpuUs: number; bytes: number }> {
  const { submissions } = trialInput(tag);
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-bench-store-'));
  const store = await openStore({ dataDir: dir });
  try {
    for (const statement of sql.split(';').filter((s) => s.trim())) await store.client.exec(statement);
    const config = loadConfig({ env: {}, overrides: { data_dir: dir } }).pipeline;
    const opts = { config, metrics: createMetrics() };
    global.gc?.();
    const c0 = cpuMs();
    let stored = 0;
    for (const s of submissions)
      stored += (await storeSubmissions(store, s.events.length ? [s] : [], opts)).reduce(
        (n, r) => n + r.stored.length,
        0,
      );
    const used = cpuMs() - c0;
    if (stored !== EVENTS) throw new Error(`stored ${stored} of ${EVENTS} events`);
    // Every partition with its indexes and TOAST table.
    const size = await store.client.query<{ n: unknown }>(
      `SELECT sum(pg_total_relation_size(i.inhrelid)) AS n FROM pg_inherits i WHERE i.inhparent = 'events'::regclass`,
    );
    return { cpuUs: (used * 1000) / stored, bytes: Number(size.rows[0]?.n ?? 0) / stored };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** JSON.parse of the same bodies, the best of three passes, in CPU microseconds per event. */
function parseBaseline(): number {
  const { bodies } = cloudTrailBodies(base, EVENTS, PER_COMMIT, 'parse');
  let best = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < 3; pass++) {
    global.gc?.();
    const c0 = cpuMs();
    let parsed = 0;
    for (const b of bodies) parsed += (JSON.parse(b) as { Records: unknown[] }).Records.length;
    best = Math.min(best, ((cpuMs() - c0) * 1000) / parsed);
  }
  return best;
}

const settings = [{ label: 'as shipped', sql: '' }, ...(SQL ? [{ label: `with ${SQL}`, sql: SQL }] : [])];
const results = new Map<string, Array<{ cpuUs: number; bytes: number }>>(settings.map((s) => [s.label, []]));
// Unmeasured warm-up: compilation and the first database in a process cost more.
await trial('warm', '');
for (let t = 0; t < TRIALS; t++)
  for (const s of t % 2 ? [...settings].reverse() : settings)
    results.get(s.label)!.push(await trial(`${t}`, s.sql));
const parse = parseBaseline();
for (const s of settings) {
  const runs = results.get(s.label)!;
  const xs = runs.map((r) => r.cpuUs);
  const best = Math.min(...xs);
  report(
    `Committing normalised CloudTrail events into the embedded store (storeSubmissions, ${PER_COMMIT} a transaction), ${s.label}: ${EVENTS} events a trial, best of ${TRIALS} trials`,
    {
      'CPU µs per event (best)': best,
      'CPU µs per event (median)': [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!,
      'CPU µs per event (each trial)': xs.map((x) => x.toFixed(0)).join(' '),
      'events per CPU-second': Math.round(1e6 / best),
      'JSON.parse CPU µs per event': parse,
      'ratio by CPU time (store / JSON.parse)': parse / best,
      'bytes on disk per event': Math.round(runs[0]!.bytes),
    },
  );
}
