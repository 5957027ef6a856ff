/**
 * `npm run bench -- sigma [--limit=N] [--regex=re2|guarded]`: Sigma scan
 * throughput on the OTRF Windows datasets (../shared/data/windows/otrf) with
 * every SigmaHQ rule loaded (../shared/data/sigma/rules*), as events per
 * second and as a ratio to JSON.parse of the same lines, measured in the
 * same run. Peak RSS is printed too.
 *
 * - baseline: JSON.parse of each line;
 * - scan: JSON.parse + the windows source's normaliser + the engine
 *   (index, rules, correlations), which is what `aisoc detect` does per event;
 * - match only: the engine alone on already-normalised events.
 *
 * Rates are given by wall time and by this process's CPU time: on a shared
 * machine other processes slow the wall clock, not the CPU time.
 *
 * Target (issue 13): scan / JSON.parse ≥ 0.33, printed beside the ratio with
 * PASS or BELOW; the exit code does not depend on it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { unzipSync } from 'fflate';
import { SigmaConfig } from '../src/detect/sigma/config.ts';
import { SigmaEngine } from '../src/detect/sigma/engine.ts';
import { loadRuleSet } from '../src/detect/sigma/index.ts';
import type { NormalisedEvent } from '../src/schema/event.ts';
import { SourceRegistry } from '../src/sources/index.ts';
import { normaliseRecords } from '../src/sources/normalise.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { peakRssMiB, report } from './_util.ts';

const args = process.argv.slice(2);
// Flags are written --name=value (bench/run.ts takes bare words for benchmark names).
const flag = (name: string, def: string) => {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : def;
};
const limit = Number(flag('limit', '1000000'));
const regex = flag('regex', 're2') as 're2' | 'guarded';
const shared = resolve(process.env.AISOC_SHARED_DATA ?? join(import.meta.dirname, '../../shared/data'));
const dataDir = join(shared, 'windows/otrf');
const sigmaDir = join(shared, 'sigma');

function zips(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...zips(p));
    else if (name.endsWith('.zip')) out.push(p);
  }
  return out;
}

const t0 = performance.now();
const config = SigmaConfig.parse({ regex_engine: regex });
const ruleSet = loadRuleSet(
  ['rules', 'rules-emerging-threats', 'rules-threat-hunting'].map((d) => join(sigmaDir, d)),
  config,
);
const loadMs = performance.now() - t0;
const windowsRules = ruleSet.rules.filter((r) => r.logsource.product?.toLowerCase() === 'windows');
const runnableWindows = windowsRules.filter((r) => r.branches.length > 0);
const engine = new SigmaEngine(ruleSet);
const source = new SourceRegistry({}, silentLogger()).get('windows');

/** CPU time (user + system) of this process, in ms: robust to other processes on a shared machine. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
let scanCpu = 0;
let matchCpu = 0;
let parseCpu = 0;
let events = 0;
let parseMs = 0;
let scanMs = 0;
let matchMs = 0;
let normaliseMs = 0;
let matches = 0;
let bytes = 0;
const ingestedAt = new Date().toISOString();

outer: for (const zip of zips(dataDir)) {
  const entries = unzipSync(new Uint8Array(readFileSync(zip)), {
    filter: (f) => /\.json$/i.test(f.name) && !/(^|\/)(__MACOSX|\.)/.test(f.name),
  });
  for (const data of Object.values(entries)) {
    const text = Buffer.from(data).toString('utf8');
    const lines = text.split('\n').filter((l) => l.length > 1 && l.charCodeAt(0) === 123);
    if (events + lines.length > limit) lines.length = Math.max(0, limit - events);
    if (lines.length === 0) break outer;
    for (const l of lines) bytes += l.length;
    // Baseline: JSON.parse alone.
    let t = performance.now();
    let c = cpuMs();
    for (const l of lines) JSON.parse(l);
    parseMs += performance.now() - t;
    parseCpu += cpuMs() - c;
    // Scan: parse + normalise + engine, in batches as the CLI does.
    t = performance.now();
    c = cpuMs();
    const normalised: NormalisedEvent[] = [];
    for (let i = 0; i < lines.length; i += 1000) {
      const framed = lines.slice(i, i + 1000).map((l) => ({ value: JSON.parse(l) as unknown }));
      const n = normaliseRecords(source, framed, ingestedAt);
      matches += engine.process(n.events).length;
      for (const e of n.events) normalised.push(e);
    }
    scanMs += performance.now() - t;
    scanCpu += cpuMs() - c;
    // Parse + normalise, without the engine.
    t = performance.now();
    for (let i = 0; i < lines.length; i += 1000) {
      const framed = lines.slice(i, i + 1000).map((l) => ({ value: JSON.parse(l) as unknown }));
      normaliseRecords(source, framed, ingestedAt);
    }
    normaliseMs += performance.now() - t;
    // Match only: the engine on the same normalised events.
    t = performance.now();
    c = cpuMs();
    for (const e of normalised) engine.matchEvent(e, () => {});
    matchMs += performance.now() - t;
    matchCpu += cpuMs() - c;
    events += lines.length;
    if (events >= limit) break outer;
  }
}
const evaluations = engine.stats.evaluations / 2;
const perSec = (ms: number) => Math.round((events / ms) * 1000);
const TARGET = 0.33;
const scanRatio = perSec(scanMs) / perSec(parseMs);
const [load1] = loadavg();

report('Sigma scan of OTRF Windows events (SigmaHQ rules)', {
  'rules loaded (all SigmaHQ)': ruleSet.rules.length,
  'Windows rules loaded': windowsRules.length,
  'Windows rules mapped to our events': runnableWindows.length,
  'rule load + compile ms': Math.round(loadMs),
  'regex engine': regex,
  events,
  'MiB of JSON': bytes / 1024 / 1024,
  'candidate rules per event (mean)': evaluations / Math.max(1, events),
  'rule matches (alerts, min level any)': matches,
  'baseline JSON.parse events/s': perSec(parseMs),
  'scan (parse+normalise+match) events/s': perSec(scanMs),
  'scan / JSON.parse ratio': scanRatio,
  'target scan / JSON.parse': `≥ ${TARGET} ${scanRatio >= TARGET ? 'PASS' : 'BELOW'}`,
  'parse + normalise events/s': perSec(normaliseMs),
  'match only events/s': perSec(matchMs),
  'match only / JSON.parse ratio': perSec(matchMs) / perSec(parseMs),
  'CPU-time JSON.parse events/s': perSec(parseCpu),
  'CPU-time scan events/s': perSec(scanCpu),
  'CPU-time match only events/s': perSec(matchCpu),
  'CPU-time scan / JSON.parse ratio': perSec(scanCpu) / perSec(parseCpu),
  'load average (1 min)': `${load1!.toFixed(1)} on ${availableParallelism()} CPUs${load1! > availableParallelism() ? ': figures under load' : ''}`,
  'peak RSS MiB': peakRssMiB(),
});
