/**
 * EVALUATION SCRIPT, specific to two public data sets (Stratus Red Team
 * detonations and the Invictus account; see invictus.ts):
 *
 *   node --import tsx scripts/eval/stratus.ts [--shared ../shared/data] [--rules DIR…] [--json]
 *
 * Prints the pack's Stratus coverage — which measures rules on the very
 * detonation logs they were written against, so it checks claims rather
 * than detection — and beside it the same rules' false alarms on the benign
 * part of the Invictus records (records without the data set's attack-run
 * marker): what the rules cost on normal activity of a real account.
 *
 * Then noise control, off and on (noise.ts): false alarms on the benign
 * records and recall on the Stratus detonations of the account, with the
 * baselines learning on the first half of its time span and figures
 * measured on the second, for the built-in rules and with the SigmaHQ AWS
 * rules.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../src/app-config.ts';
import { resourcePolicyDetector } from '../../src/detect/policy/index.ts';
import { replaySync } from '../../src/detect/replay.ts';
import { BUILTIN_RULES_DIR } from '../../src/detect/sigma/content.ts';
import { loadRuleSet } from '../../src/detect/sigma/index.ts';
import { alertsOnBenign, stratusCoverage } from '../../src/detect/sigma/stratus.ts';
import { SourceRegistry } from '../../src/sources/index.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { isAttackRun, readRecords } from './invictus.ts';
import { noiseEvaluation, printNoise } from './noise.ts';

/** The Stratus detonations the resource-policy rule (code, not Sigma: it claims no technique) fires on. */
export function resourcePolicyOnDetonations(dir: string, sources: SourceRegistry): string[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(dir, f));
  const fired = new Set<string>();
  for (const item of replaySync(files, {
    sources,
    source: 'cloudtrail',
    detectors: [resourcePolicyDetector()],
  }))
    if (item.kind === 'alert')
      fired.add(
        item.file
          .split('/')
          .pop()!
          .replace(/\.json$/, ''),
      );
  return [...fired];
}

/** Coverage on detonations and false alarms on the benign Invictus records, with one rule set. */
export function stratusWithFalseAlarms(shared: string, rules: string[] = [BUILTIN_RULES_DIR]) {
  const config = loadConfig({ env: {} });
  const set = loadRuleSet(rules, config.detect.sigma);
  const sources = new SourceRegistry(config.sources, silentLogger());
  const coverage = stratusCoverage(set, sources, join(shared, 'cloudtrail', 'stratus-detonation'));
  const all = readRecords(join(shared, 'cloudtrail', 'invictus', 'records-dev.json'));
  const benign = all.filter((r) => !isAttackRun(r));
  const falseAlarms = alertsOnBenign(set, sources, benign);
  const policy = resourcePolicyOnDetonations(join(shared, 'cloudtrail', 'stratus-detonation'), sources);
  return {
    resource_policy: { detonations: coverage.techniques, fired_on: policy },
    coverage: {
      claimed: coverage.claimed,
      covered: coverage.covered,
      techniques: coverage.techniques,
      missed: coverage.missed,
      note: 'measured on the detonation logs the rules were written against: checks claims, not detection of unseen attacks',
    },
    false_alarms: {
      data: 'invictus/records-dev.json without the attack-run marker (benign by the data set documentation)',
      ...falseAlarms,
      alerts_per_1000_records: Math.round((falseAlarms.alerts / Math.max(1, benign.length)) * 10_000) / 10,
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const shared = resolve(
    opt('shared') ?? process.env.AISOC_SHARED_DATA ?? join(import.meta.dirname, '../../../shared/data'),
  );
  const rulesAt = args.indexOf('--rules');
  const rules = rulesAt >= 0 ? args.slice(rulesAt + 1).filter((a) => !a.startsWith('--')) : undefined;
  const r = {
    ...stratusWithFalseAlarms(shared, rules?.length ? rules : undefined),
    noise: noiseEvaluation(shared),
  };
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(r)}\n`);
  else {
    const fa = r.false_alarms;
    console.log(
      `Stratus coverage: ${r.coverage.covered} of ${r.coverage.claimed} claimed techniques fire (${r.coverage.techniques} detonations) — ${r.coverage.note}.`,
    );
    console.log(
      `False alarms on the ${fa.records} benign Invictus records (${fa.events} events): ${fa.alerts} alerts (${fa.alerts_per_1000_records} per 1,000 records) citing ${fa.alerted_events} events, from ${fa.by_rule.length} rules:`,
    );
    for (const b of fa.by_rule) console.log(`  ${String(b.alerts).padStart(5)}  ${b.rule}`);
    console.log(
      `Resource-policy rule (code): fires on ${r.resource_policy.fired_on.length} of the ${r.resource_policy.detonations} detonations: ${r.resource_policy.fired_on.join(', ')}.`,
    );
    printNoise(r.noise);
  }
}
