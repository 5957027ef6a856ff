/**
 * EVALUATION SCRIPT, specific to the Invictus data set (see invictus.ts):
 * noise control for cloud rules, measured with it off and on.
 *
 *   node --import tsx scripts/eval/noise.ts [--shared DIR] [--json]
 *   (also printed by scripts/eval/stratus.ts)
 *
 * 1. Every record of records-dev.json is read; the data set's attack-run
 *    marker gives the ground truth and is then stripped, as the data set's
 *    evaluation data strips it, so no detector sees it.
 * 2. The records are split by time at the midpoint of their time span: the
 *    baselines learn on the first half (the learning window is that half;
 *    every other setting is the product's default) and figures are
 *    measured on the second. Nothing here is fitted to the file: the split
 *    is the middle, the settings are the defaults.
 * 3. Detection runs as the pipeline runs it, in batches of 100 events in
 *    event time: the Sigma rules (the built-in pack, then with the SigmaHQ
 *    AWS rules), the resource-policy rule, then noise control (status caps
 *    and rarity) over their candidates.
 * 4. Measured part, an alarm being an alert at level low or above
 *    (informational ones are context, as Sigma's levels define them):
 *    - false alarms: alerts as the queue shows them (identical alerts of one
 *      rule and entities folded, as the correlate stage folds them within
 *      its dedupe window), none of whose events belongs to an attack run;
 *      beside them the benign calls those alarms cite, and the raw rule
 *      matches on benign records;
 *    - recall: the Stratus detonations (records whose user agent is
 *      Stratus's own, not its Terraform set-up) whose attack-defining calls
 *      (APIs the public Stratus detonation logs record) an alarm cites.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../src/app-config.ts';
import { alertFromCandidate } from '../../src/correlate/index.ts';
import { type MemoryBaselines as Baselines, MemoryBaselines } from '../../src/detect/noise/baseline.ts';
import { NoiseConfig } from '../../src/detect/noise/config.ts';
import { resourcePolicyDetector } from '../../src/detect/policy/index.ts';
import { replaySync } from '../../src/detect/replay.ts';
import { BUILTIN_RULES_DIR } from '../../src/detect/sigma/content.ts';
import { loadRuleSet, SigmaEngine, sigmaDetector, toCandidate } from '../../src/detect/sigma/index.ts';
import type { AlertCandidate } from '../../src/detect/types.ts';
import { type SeverityName, severityRank } from '../../src/schema/common.ts';
import type { NormalisedEvent } from '../../src/schema/event.ts';
import { SourceRegistry } from '../../src/sources/index.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { ATTACK_RUN_MARKER, isAttackRun, readRecords, stripMarker } from './invictus.ts';

const BATCH = 100;

interface Setting {
  name: string;
  rules: string[];
}

/** The APIs the public Stratus detonation logs record: what a detonation calls to attack. */
export function stratusApis(dir: string): Set<string> {
  const apis = new Set<string>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')))
    for (const r of JSON.parse(readFileSync(join(dir, f), 'utf8')) as Array<{ eventName?: string }>)
      if (r.eventName) apis.add(r.eventName);
  return apis;
}

/** Stratus's own calls (its user agent alone, not the Terraform set-up that carries it), by detonation. */
function detonationOf(record: unknown): string | undefined {
  const ua = (record as { userAgent?: unknown }).userAgent;
  return typeof ua === 'string' && ua.startsWith(ATTACK_RUN_MARKER) ? ua : undefined;
}

interface Folded {
  rule: string;
  level: SeverityName;
  events: NormalisedEvent[];
  last: number;
}

const firstTime = (c: AlertCandidate) => Math.min(...c.events.map((e) => Date.parse(e.time)));

interface Figures {
  false_alarms: number;
  false_alarms_by_rule: Array<{ rule: string; alerts: number }>;
  benign_calls_alerted: number;
  benign_rule_matches: number;
  detonations: number;
  detonations_caught: number;
  recall: number;
  attack_defining_calls: number;
  attack_defining_calls_cited: number;
  missed: string[];
  lowered: number;
  raised: number;
}

function run(
  events: readonly NormalisedEvent[],
  setting: Setting,
  noiseOn: boolean,
  learningMs: number,
  split: number,
  truth: { attack: Set<string>; detonation: Map<string, string>; defining: Set<string> },
): Figures {
  const config = loadConfig({ env: {} });
  const sigma = {
    ...config.detect.sigma,
    status_caps: noiseOn ? config.detect.sigma.status_caps : {},
  };
  const engine = new SigmaEngine(loadRuleSet(setting.rules, sigma));
  const detectors = [sigmaDetector(engine, { minLevel: sigma.min_level }), resourcePolicyDetector()];
  const baselines: Baselines | undefined = noiseOn
    ? new MemoryBaselines({ ...NoiseConfig.parse({}), learning_window_ms: learningMs })
    : undefined;
  const candidates: AlertCandidate[] = [];
  for (let i = 0; i < events.length; i += BATCH) {
    const batch = events.slice(i, i + BATCH);
    const found = detectors.flatMap((d) => d.detect(batch) as AlertCandidate[]);
    baselines?.process(batch, found);
    candidates.push(...found);
  }
  const last = engine.flush().map(toCandidate);
  baselines?.process([], last);
  candidates.push(...last);

  const measured = candidates
    .filter((c) => Math.min(...c.events.map((e) => Date.parse(e.time))) >= split)
    .sort((a, b) => firstTime(a) - firstTime(b));
  const atLeastLow = (level: SeverityName) => severityRank(level) >= severityRank('low');
  const sourceId = (e: NormalisedEvent) => e.source_event_id ?? e.id;
  const benignEvent = (e: NormalisedEvent) => !truth.attack.has(sourceId(e));
  // Alerts as the queue shows them: the correlate stage folds a candidate into the alert of the same rule and
  // entities (its fingerprint) whose events lie within the dedupe window, at the highest level of the two.
  const groupBy = new Set(config.correlate.group_by);
  const windowMs = config.correlate.dedupe_window_ms;
  const open = new Map<string, Folded>();
  const alerts: Folded[] = [];
  for (const c of measured) {
    const fp = alertFromCandidate(c, groupBy, new Date(0).toISOString()).fingerprint;
    const times = c.events.map((e) => Date.parse(e.time));
    const prev = open.get(fp);
    if (prev && Math.min(...times) - prev.last <= windowMs) {
      prev.events.push(...c.events);
      prev.last = Math.max(prev.last, ...times);
      if (severityRank(c.detection.level) > severityRank(prev.level)) prev.level = c.detection.level;
    } else {
      const a: Folded = {
        rule: c.detection.rule_title,
        level: c.detection.level,
        events: [...c.events],
        last: Math.max(...times),
      };
      open.set(fp, a);
      alerts.push(a);
    }
  }
  const alarms = alerts.filter((a) => atLeastLow(a.level));
  const falseAlarms = alarms.filter((a) => a.events.every(benignEvent));
  const byRule = new Map<string, number>();
  for (const a of falseAlarms) byRule.set(a.rule, (byRule.get(a.rule) ?? 0) + 1);
  const benignCited = new Set<string>();
  const cited = new Set<string>();
  for (const a of alarms)
    for (const e of a.events) {
      cited.add(sourceId(e));
      if (benignEvent(e)) benignCited.add(sourceId(e));
    }
  const runs = new Map<string, boolean>();
  let defining = 0;
  let definingCited = 0;
  for (const e of events) {
    if (Date.parse(e.time) < split) continue;
    const id = sourceId(e);
    const det = truth.detonation.get(id);
    if (!det || !truth.defining.has(e.cloud?.operation ?? '')) continue;
    defining++;
    const hit = cited.has(id);
    if (hit) definingCited++;
    runs.set(det, (runs.get(det) ?? false) || hit);
  }
  const caught = [...runs.values()].filter(Boolean).length;
  const moved = (word: string) =>
    measured.filter((c) => c.detection.level_reasons?.some((r) => r.includes(word))).length;
  return {
    false_alarms: falseAlarms.length,
    false_alarms_by_rule: [...byRule]
      .map(([rule, alerts]) => ({ rule, alerts }))
      .sort((a, b) => b.alerts - a.alerts || a.rule.localeCompare(b.rule)),
    benign_calls_alerted: benignCited.size,
    benign_rule_matches: measured.filter((c) => c.events.every(benignEvent) && atLeastLow(c.detection.level))
      .length,
    detonations: runs.size,
    detonations_caught: caught,
    recall: runs.size ? Math.round((caught / runs.size) * 1000) / 1000 : 0,
    attack_defining_calls: defining,
    attack_defining_calls_cited: definingCited,
    missed: [...runs].filter(([, hit]) => !hit).map(([ua]) => ua.slice(0, 53)),
    lowered: moved('lowered'),
    raised: moved('raised'),
  };
}

/** Noise control off and on, for the built-in rules and with the SigmaHQ AWS rules, on the measured half. */
export function noiseEvaluation(shared: string) {
  const records = readRecords(join(shared, 'cloudtrail', 'invictus', 'records-dev.json'));
  const idOf = (r: unknown) => String((r as { eventID?: unknown }).eventID ?? '');
  const attack = new Set(records.filter(isAttackRun).map(idOf));
  const detonation = new Map<string, string>();
  for (const r of records) {
    const d = detonationOf(r);
    if (d) detonation.set(idOf(r), d);
  }
  const defining = stratusApis(join(shared, 'cloudtrail', 'stratus-detonation'));
  const sources = new SourceRegistry(loadConfig({ env: {} }).sources, silentLogger());
  const events: NormalisedEvent[] = [];
  for (const item of replaySync(
    [{ name: 'invictus', source: 'cloudtrail', records: records.map(stripMarker) }],
    {
      sources,
      batchSize: Number.POSITIVE_INFINITY,
    },
  ))
    if (item.kind === 'events') events.push(...item.events);
  const times = events.map((e) => Date.parse(e.time));
  const start = Math.min(...times);
  const end = Math.max(...times);
  const split = start + Math.round((end - start) / 2);
  const settings: Setting[] = [
    { name: 'built-in pack + resource-policy rule', rules: [BUILTIN_RULES_DIR] },
    {
      name: 'built-in pack + resource-policy rule + SigmaHQ AWS rules',
      rules: [BUILTIN_RULES_DIR, join(shared, 'sigma', 'rules', 'cloud', 'aws')],
    },
  ];
  const truth = { attack, detonation, defining };
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    data: 'invictus/records-dev.json, attack-run marker stripped before detection',
    learning: { from: iso(start), to: iso(split), learning_window_ms: split - start },
    measured: {
      from: iso(split),
      to: iso(end),
      benign_records: records.filter(
        (r) => !isAttackRun(r) && Date.parse(String((r as { eventTime?: unknown }).eventTime)) >= split,
      ).length,
    },
    alarm:
      'an alert at level low or above; false alarms folded as the correlate stage folds identical alerts',
    results: settings.map((s) => ({
      rules: s.name,
      off: run(events, s, false, split - start, split, truth),
      on: run(events, s, true, split - start, split, truth),
    })),
  };
}

export function printNoise(r: ReturnType<typeof noiseEvaluation>): void {
  console.log(
    `Noise control on the Invictus account (${r.data}): baselines learn ${r.learning.from} – ${r.learning.to}, figures measured ${r.measured.from} – ${r.measured.to} (${r.measured.benign_records} benign records); an alarm is ${r.alarm}.`,
  );
  for (const x of r.results) {
    console.log(`  ${x.rules}:`);
    for (const [label, f] of [
      ['off', x.off],
      ['on ', x.on],
    ] as const) {
      console.log(
        `    noise control ${label}: ${f.false_alarms} false alarms (${f.benign_calls_alerted} benign calls alerted, ${f.benign_rule_matches} rule matches on benign); recall ${f.recall} (${f.detonations_caught} of ${f.detonations} Stratus detonations caught, ${f.attack_defining_calls_cited} of ${f.attack_defining_calls} attack-defining calls cited); ${f.lowered} detections lowered, ${f.raised} raised`,
      );
      for (const b of f.false_alarms_by_rule) console.log(`      ${String(b.alerts).padStart(4)}  ${b.rule}`);
      if (f.missed.length) console.log(`      missed: ${f.missed.join(', ')}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--shared');
  const shared = resolve(
    (at >= 0 ? args[at + 1] : undefined) ??
      process.env.AISOC_SHARED_DATA ??
      join(import.meta.dirname, '../../../shared/data'),
  );
  const r = noiseEvaluation(shared);
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(r)}\n`);
  else printNoise(r);
}
