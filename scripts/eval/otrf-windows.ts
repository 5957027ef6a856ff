/**
 * EVALUATION SCRIPT, specific to one public data set (the OTRF Security
 * Datasets, Windows atomic recordings, in ../shared/data/windows/otrf):
 *
 *   node --import tsx scripts/eval/otrf-windows.ts [--shared ../shared/data] [--rules DIR…] [--json]
 *
 * Each OTRF dataset is one recorded attack with the ATT&CK techniques its
 * metadata (`_metadata/*.yaml`, `attack_mappings`) names. The script runs
 * the rule set (the built-in pack by default) over each dataset's file and
 * compares the techniques of the alerts (their rules' tags) with the
 * dataset's, at the level of parent techniques (T1003.001 counts as T1003):
 *
 * - datasets with an alert, and with an alert of one of their techniques;
 * - the same among the datasets whose techniques some rule of the set
 *   claims (recall on what the pack says it detects);
 * - alerts whose techniques are none of their dataset's ("off-target"):
 *   not all false alarms (a recording holds the whole host's activity, and
 *   the metadata names only the technique simulated), but an upper bound.
 *
 * The rules were written from ATT&CK and tool documentation, not from these
 * recordings; the figures are what they do on recordings they were not
 * fitted to (one registry rule was widened after a miss here, see
 * docs/sigma.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/app-config.ts';
import { replay } from '../../src/detect/replay.ts';
import { ruleSources } from '../../src/detect/sigma/catalogue.ts';
import { BUILTIN_RULES_DIR } from '../../src/detect/sigma/content.ts';
import {
  loadRuleSet,
  SigmaEngine,
  type SigmaMatch,
  sigmaReplayDetector,
} from '../../src/detect/sigma/index.ts';
import { SourceRegistry } from '../../src/sources/index.ts';
import { expandInputs } from '../../src/sources/inputs.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';

/** `T1003.001` → `T1003`; tags `attack.t1003.001` → `T1003`. */
export function parentTechnique(idOrTag: string): string | undefined {
  const m = /(?:^|attack\.)(t\d{4})(?:\.\d{3})?$/i.exec(idOrTag.trim());
  return m ? m[1]!.toUpperCase() : undefined;
}

/** Dataset file name (as in the metadata's links) → the parent techniques its metadata names. */
export function datasetTechniques(metadataDir: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const f of readdirSync(metadataDir).filter((x) => x.endsWith('.yaml'))) {
    const doc = parse(readFileSync(join(metadataDir, f), 'utf8')) as {
      attack_mappings?: Array<{ technique?: string }>;
      files?: Array<{ link?: string }>;
    };
    const techniques = new Set(
      (doc.attack_mappings ?? []).flatMap((m) => {
        const t = m.technique ? parentTechnique(m.technique) : undefined;
        return t ? [t] : [];
      }),
    );
    for (const file of doc.files ?? []) if (file.link) out.set(basename(file.link), techniques);
  }
  return out;
}

export interface DatasetResult {
  file: string;
  techniques: string[];
  /** Alerting rules (title → alerts) and the parent techniques of their alerts. */
  rules: Record<string, number>;
  alerted: string[];
  hit: boolean;
  claimed: boolean;
  offTarget: number;
}

export async function evaluateOtrf(shared: string, rules: string[] = [BUILTIN_RULES_DIR]) {
  const config = loadConfig({ env: {} });
  const set = loadRuleSet(rules, config.detect.sigma);
  const sources = new SourceRegistry(config.sources, silentLogger());
  // What the rules that read Windows events claim (their ATT&CK tags), not the CloudTrail or Linux ones.
  const sourcesOf = ruleSources(set);
  const claimedByPack = new Set(
    [...set.rules.filter((r) => r.generate), ...set.correlations]
      .filter((r) => sourcesOf.get(r.id)?.has('windows'))
      .flatMap((r) => r.tags.flatMap((t) => parentTechnique(t) ?? [])),
  );
  const root = join(shared, 'windows', 'otrf', 'atomic');
  const mapping = datasetTechniques(join(root, '_metadata'));
  const files = (await expandInputs([join(root, 'windows')])).filter((f) => mapping.has(basename(f)));
  const results: DatasetResult[] = [];
  const unread: string[] = [];
  for (const file of files) {
    const expected = mapping.get(basename(file))!;
    const out: DatasetResult = {
      file: file.slice(root.length + 1),
      techniques: [...expected].sort(),
      rules: {},
      alerted: [],
      hit: false,
      claimed: [...expected].some((t) => claimedByPack.has(t)),
      offTarget: 0,
    };
    let events = 0;
    const alerted = new Set<string>();
    const detector = sigmaReplayDetector(new SigmaEngine(set), { expireEachDocument: true });
    for await (const item of replay<SigmaMatch>([file], { sources, detectors: [detector] })) {
      if (item.kind === 'document') events += item.normalised;
      if (item.kind !== 'alert') continue;
      const m = item.alert;
      out.rules[m.rule.title] = (out.rules[m.rule.title] ?? 0) + 1;
      const ts = m.rule.tags.flatMap((t) => parentTechnique(t) ?? []);
      for (const t of ts) alerted.add(t);
      if (!ts.some((t) => expected.has(t))) out.offTarget++;
    }
    out.alerted = [...alerted].sort();
    out.hit = out.alerted.some((t) => expected.has(t));
    // Packet captures (the network/ recordings) hold no Windows events: not a dataset the rules can see.
    if (events > 0) results.push(out);
    else unread.push(out.file);
  }
  const count = (f: (r: DatasetResult) => boolean) => results.filter(f).length;
  const alerts = results.reduce((s, r) => s + Object.values(r.rules).reduce((a, b) => a + b, 0), 0);
  return {
    data: 'OTRF Security Datasets, Windows atomic recordings with metadata (../shared/data/windows/otrf)',
    datasets: results.length,
    not_read: unread.length,
    with_alert: count((r) => Object.keys(r.rules).length > 0),
    with_technique_hit: count((r) => r.hit),
    claimed: count((r) => r.claimed),
    claimed_with_technique_hit: count((r) => r.claimed && r.hit),
    alerts,
    off_target_alerts: results.reduce((s, r) => s + r.offTarget, 0),
    results,
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
  const r = await evaluateOtrf(shared, rules?.length ? rules : undefined);
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(r)}\n`);
  else {
    for (const d of r.results.filter((x) => Object.keys(x.rules).length > 0 || x.claimed)) {
      const fired = Object.entries(d.rules)
        .map(([t, n]) => `${n}× ${t}`)
        .join('; ');
      process.stdout.write(
        `${d.hit ? 'HIT ' : d.claimed ? 'MISS' : '    '} ${d.file} [${d.techniques.join(', ')}] ${fired || '(no alert)'}\n`,
      );
    }
    process.stdout.write(
      `\n${r.datasets} datasets of Windows events (${r.not_read} more are packet captures, not read): ${r.with_alert} raised an alert, ${r.with_technique_hit} an alert of one of their techniques.\n` +
        `${r.claimed} datasets show a technique the rules claim: ${r.claimed_with_technique_hit} of them raised an alert of it.\n` +
        `${r.alerts} alerts, ${r.off_target_alerts} of a technique their dataset's metadata does not name (an upper bound on false alarms).\n`,
    );
  }
}
