import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { TriageCase } from '../../src/analyst/eval.ts';
import { loadConfig } from '../../src/app-config.ts';
import { type ReplayInput, type ReplayOptions, replaySync } from '../../src/detect/replay.ts';
import type { AlertCandidate, Detector } from '../../src/detect/types.ts';
import { openRuntime } from '../../src/runtime.ts';
import type { SeverityName } from '../../src/schema/common.ts';
import type { NormalisedEvent } from '../../src/schema/event.ts';
import type { SecurityAlert } from '../../src/schema/verdict.ts';
import { SourceRegistry } from '../../src/sources/index.ts';
import { readWazuhRules, readWazuhRuleTests, type WazuhRule } from '../../src/sources/wazuh/ruleset.ts';
import { wazuhSeverity } from '../../src/sources/wazuh/severity.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { isAttackRun } from './invictus.ts';

/**
 * EVALUATION SCRIPT, specific to the public data sets in ../shared/data — never
 * imported by product code (src/):
 *
 *   node --import tsx scripts/eval/triage-devset.ts [--shared DIR] [--hide-stated-techniques] --out FILE.jsonl
 *
 * then `aisoc eval triage --data FILE.jsonl` scores an analyst on it.
 *
 * A triage development set whose labels are KEYWORD HEURISTICS, not ground
 * truth: they follow documented rules (docs/analyst.md), never the analyst
 * under test, but a rule's words and groups are a guess at whether its alert
 * is an attack. Scores on it measure agreement with these heuristics. The
 * ground-truth measure is scripts/eval/triage-invictus.ts.
 *
 *
 * - Wazuh ruleset tests joined with their rules: a true positive when the
 *   rule's groups name an attack (attacks, authentication failures in bulk,
 *   exploits, scans, malware, rootkits, IDS hits…) at level 6 or more, or
 *   its description does (malware, backdoor, exploit, malicious, brute
 *   force, injection, disruption of logging, suspicious execution…) at level
 *   10 or more; a description about the health of a product (errors,
 *   hardware, licences, configuration) is benign whatever its level. The alert carries the ATT&CK ids Wazuh
 *   attaches to it (the rule's `<mitre><id>`s, which the manager writes as `rule.mitre.id`, read here by the
 *   product's Wazuh source), as a real Wazuh alert does; the rule's own ids are also the technique labels, so
 *   on these cases the technique hit rate measures whether stated ids reach the verdict. With
 *   `--hide-stated-techniques` the ids are left out and the analyst must infer them from the text.
 * - Stratus Red Team detonations: every alert our Sigma pack raises on them
 *   is a true positive; techniques from Stratus' own mapping.
 * - CloudTrail activity of the Invictus account without the Stratus user
 *   agent: alerts raised on it are false positives.
 * - Suricata alerts: a true positive unless the signature is `ET INFO` or
 *   `ET POLICY`, or its category says the traffic is not an attack.
 */

const ATTACK_GROUPS = new Set([
  'attack',
  'attacks',
  'exploit_attempt',
  'web_scan',
  'recon',
  'authentication_failures',
  'brute_force',
  'invalid_access',
  'rootcheck',
  'malware',
  'virus',
  'ids',
  'intrusion_attempt',
  'sql_injection',
  'xss',
  'shellshock',
  'sshd_attacks',
  'access_denied',
  'multiple_drops',
  'gpg13_4.13',
  'low_integrity',
  'invalid_login',
  'rootkit',
  'trojan',
  'exploit',
  'webshell',
  'ransomware',
  'threat_intel',
  'virustotal',
  'yara',
]);

const ATTACK_WORDS =
  /\b(malware|virus|trojan|ransom\w*|backdoor\w*|exploit\w*|malicious|brute.?force|injection|shellshock|web attack|attack|intrusion|compromis\w*|suspicious|mimikatz|mshta|powershell|credential|disruption|disabled? logging|tamper\w*|escalat\w*|privilege|webshell|reverse shell|scan(?:ner|ning)?|ddos|dos attack|flood|c2|command and control|exfiltrat\w*|persistence|lateral)\b/i;
const HEALTH_WORDS =
  /\b(hardware|sensor|licen[cs]e|disk|memory|cpu|fan|power supply|temperature|daemon|service (?:start|stop)|configuration|api (?:critical )?error|error event|warning event|max number of requests|permission denied|syslog|ntp|dhcp)\b/i;

const BENIGN_SURICATA_CATEGORIES = new Set([
  'Not Suspicious Traffic',
  'Generic Protocol Command Decode',
  'Unknown Traffic',
  'Potential Corporate Privacy Violation',
  'Misc activity',
]);

const LEVEL_OF: Record<SeverityName, number> = {
  informational: 3,
  low: 5,
  medium: 8,
  high: 10,
  critical: 12,
};

function firstIp(text: string): string | undefined {
  return /\b(\d{1,3}(?:\.\d{1,3}){3})\b/.exec(text)?.[1];
}

/**
 * The alert a Wazuh manager writes when a rule fires, as far as the ruleset
 * tells it: the rule block (id, level, description, groups and the rule's
 * `<mitre><id>` list as `rule.mitre.id`), the decoder and the log line.
 */
function wazuhAlert(rule: WazuhRule, test: { decoder: string; line: string }, id: string) {
  return {
    timestamp: '2026-01-15T10:00:00.000+0000',
    id,
    rule: {
      id: rule.id,
      level: rule.level,
      description: rule.description,
      groups: rule.groups,
      ...(rule.mitre.length ? { mitre: { id: rule.mitre } } : {}),
    },
    manager: { name: 'wazuh-manager' },
    decoder: { name: test.decoder },
    full_log: test.line,
    location: 'ruleset-test',
  };
}

/**
 * The techniques each Wazuh alert states, read by the product's Wazuh
 * source (`rule.mitre.id` → `finding.techniques`), by alert id.
 */
function statedByWazuh(sources: SourceRegistry, alerts: Array<{ id: string }>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const item of replaySync([{ name: 'wazuh-ruleset', source: 'wazuh', records: alerts }], {
    sources,
    order: 'input',
  })) {
    if (item.kind !== 'events') continue;
    for (const e of item.events) {
      const id = (e.unmapped as { alert_id?: string } | undefined)?.alert_id;
      if (id && e.finding?.techniques.length) out.set(id, e.finding.techniques);
    }
  }
  return out;
}

/**
 * Wazuh cases. With `stated` (the default), each alert carries the ATT&CK
 * ids Wazuh itself attaches to it (the rule's ids, read from the alert by
 * the product's Wazuh source), as a real Wazuh alert does; without it, the
 * ids are hidden and the analyst must infer them from the text (the set
 * before issue 17, `--hide-stated-techniques`).
 */
export function wazuhCases(root: string, sources?: SourceRegistry): TriageCase[] {
  const rules = readWazuhRules(join(root, 'rules'));
  const tests = readWazuhRuleTests(join(root, 'testing', 'tests'));
  const stated = sources
    ? statedByWazuh(
        sources,
        tests.flatMap((t, i) => {
          const rule = rules.get(t.rule);
          return rule ? [wazuhAlert(rule, t, `wazuh-test-${i}`)] : [];
        }),
      )
    : new Map<string, string[]>();
  const out: TriageCase[] = [];
  tests.forEach((t, i) => {
    const rule = rules.get(t.rule);
    if (!rule) return;
    const text = rule.description || t.title;
    const attack =
      !HEALTH_WORDS.test(text) &&
      ((rule.groups.some((g) => ATTACK_GROUPS.has(g)) && rule.level >= 6) ||
        (rule.level >= 10 && ATTACK_WORDS.test(text)));
    const alert: SecurityAlert = {
      alert_id: `wazuh-test-${i}`,
      timestamp: '2026-01-15T10:00:00Z',
      rule_id: rule.id,
      rule_description: rule.description || t.title,
      rule_level: Math.min(15, rule.level),
      raw_log: t.line.slice(0, 60_000),
    };
    const ip = firstIp(t.line);
    if (ip) alert.source_ip = ip;
    const ids = stated.get(alert.alert_id);
    if (ids) alert.mitre_technique = ids;
    const label: TriageCase['label'] = {
      is_true_positive: attack,
      severity: wazuhSeverity(Math.min(15, rule.level)),
    };
    if (rule.mitre.length) label.techniques = rule.mitre;
    out.push({ alert, label, origin: 'wazuh' });
  });
  return out;
}

/**
 * Alerts in the seed's SecurityAlert shape from what the detectors raise on
 * one input, read by replay: each document goes to each detector in one call,
 * as the pipeline hands a detector a batch; detectors must be synchronous.
 */
export function alertsFrom(
  input: ReplayInput,
  detectors: Detector[],
  idPrefix: string,
  options: Omit<ReplayOptions<AlertCandidate>, 'detectors' | 'batchSize'>,
) {
  const out: Array<{ alert: SecurityAlert; events: NormalisedEvent[] }> = [];
  for (const item of replaySync([input], { ...options, detectors, batchSize: Infinity })) {
    if (item.kind === 'skipped') throw new Error(`${item.file} cannot be read: ${item.reason}`);
    if (item.kind !== 'alert') continue;
    const c = item.alert;
    const e = c.events[0]!;
    const alert: SecurityAlert = {
      alert_id: `${idPrefix}-${out.length}`,
      timestamp: e.time,
      rule_id: c.detection.rule_id,
      rule_description: c.detection.rule_title,
      rule_level: LEVEL_OF[c.detection.level],
      raw_log: JSON.stringify(e.raw).slice(0, 60_000),
      mitre_technique: c.detection.tags
        .filter((t) => /^attack\.t\d{4}/i.test(t))
        .map((t) => t.slice(7).toUpperCase()),
    };
    if (e.src_endpoint?.ip) alert.source_ip = e.src_endpoint.ip;
    if (e.actor?.user?.name) alert.user = e.actor.user.name;
    out.push({ alert, events: c.events });
  }
  return out;
}

function stratusTechniques(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const file = join(dir, 'index.yaml');
  if (!existsSync(file)) return out;
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.id === 'string' && Array.isArray(o.frameworkmappings)) {
        const ids = (o.frameworkmappings as Array<{ techniques?: Array<{ id?: string }> }>)
          .flatMap((f) => f.techniques?.map((t) => t.id ?? '') ?? [])
          .filter((t) => /^T\d{4}/.test(t));
        out.set(o.id, ids);
      }
      Object.values(o).forEach(walk);
    }
  };
  walk(parseYaml(readFileSync(file, 'utf8')));
  return out;
}

export function cloudtrailCases(
  dataDir: string,
  sources: SourceRegistry,
  detectors: Detector[],
): TriageCase[] {
  const out: TriageCase[] = [];
  const stratusDir = join(dataDir, 'cloudtrail', 'stratus-detonation');
  if (existsSync(stratusDir)) {
    const techniques = stratusTechniques(stratusDir);
    for (const f of readdirSync(stratusDir)
      .filter((x) => x.endsWith('.json'))
      .sort()) {
      const id = f.replace(/\.json$/, '');
      for (const { alert } of alertsFrom(join(stratusDir, f), detectors, `stratus-${id}`, {
        sources,
        source: 'cloudtrail',
        order: 'input',
      })) {
        const label: TriageCase['label'] = { is_true_positive: true };
        const t = techniques.get(id);
        if (t?.length) label.techniques = t;
        out.push({ alert, label, origin: 'cloudtrail-stratus' });
      }
    }
  }
  const invictus = join(dataDir, 'cloudtrail', 'invictus', 'records-dev.json');
  if (existsSync(invictus)) {
    // The benign part by the data set's documented marker (invictus.ts).
    const benign = alertsFrom(invictus, detectors, 'invictus-benign', {
      sources,
      source: 'cloudtrail',
      order: 'input',
      select: (e) => !isAttackRun(e.raw),
    });
    for (const { alert } of benign) {
      out.push({ alert, label: { is_true_positive: false }, origin: 'cloudtrail-benign' });
    }
  }
  return out;
}

export function suricataCases(dataDir: string): TriageCase[] {
  const out: TriageCase[] = [];
  const root = join(dataDir, 'suricata');
  if (!existsSync(root)) return out;
  for (const dir of readdirSync(root).sort()) {
    const file = join(root, dir, 'alerts-only.json');
    if (!existsSync(file)) continue;
    const alerts = JSON.parse(readFileSync(file, 'utf8')) as Array<Record<string, unknown>>;
    alerts.forEach((e, i) => {
      const a = (e.alert ?? {}) as Record<string, unknown>;
      const signature = String(a.signature ?? '');
      const category = String(a.category ?? '');
      const sev = Number(a.severity ?? 3);
      const benign = /^ET (INFO|POLICY)\b/.test(signature) || BENIGN_SURICATA_CATEGORIES.has(category);
      const alert: SecurityAlert = {
        alert_id: `suricata-${dir}-${i}`,
        timestamp: new Date(String(e.timestamp).replace(/([+-]\d{2})(\d{2})$/, '$1:$2')).toISOString(),
        rule_id: String(a.signature_id ?? ''),
        rule_description: signature || category || 'Suricata alert',
        rule_level: sev <= 1 ? 10 : sev === 2 ? 8 : 5,
        raw_log: JSON.stringify(e).slice(0, 60_000),
      };
      if (typeof e.src_ip === 'string') alert.source_ip = e.src_ip;
      if (typeof e.dest_ip === 'string') alert.dest_ip = e.dest_ip;
      if (typeof e.src_port === 'number') alert.source_port = e.src_port;
      if (typeof e.dest_port === 'number') alert.dest_port = e.dest_port;
      out.push({
        alert,
        label: { is_true_positive: !benign, severity: sev <= 1 ? 'high' : sev === 2 ? 'medium' : 'low' },
        origin: 'suricata',
      });
    });
  }
  return out;
}

/** The whole development set, in a stable order. */
export function buildTriageDevSet(
  dataDir: string,
  sources: SourceRegistry,
  detectors: Detector[],
  options: { hideStatedTechniques?: boolean } = {},
): TriageCase[] {
  const wazuhRoot = join(dataDir, 'wazuh', 'ruleset');
  return [
    ...(existsSync(wazuhRoot)
      ? wazuhCases(wazuhRoot, options.hideStatedTechniques ? undefined : sources)
      : []),
    ...cloudtrailCases(dataDir, sources, detectors),
    ...suricataCases(dataDir),
  ];
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
  const out = opt('out') ?? join('.aisoc', 'devsets', 'triage-dev.jsonl');
  const config = loadConfig({ env: {}, overrides: { log_level: 'silent' } });
  const rt = await openRuntime(config, { inMemory: true });
  try {
    const cases = buildTriageDevSet(
      shared,
      new SourceRegistry(config.sources, silentLogger()),
      rt.detectors.filter((d) => d.name !== 'upstream'),
      { hideStatedTechniques: args.includes('--hide-stated-techniques') },
    );
    if (cases.length === 0) throw new Error(`No data found under ${shared}`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${cases.map((c) => JSON.stringify(c)).join('\n')}\n`);
    const by: Record<string, { n: number; true_positives: number }> = {};
    for (const c of cases) {
      const o = by[c.origin ?? 'other'] ?? { n: 0, true_positives: 0 };
      by[c.origin ?? 'other'] = o;
      o.n++;
      if (c.label.is_true_positive) o.true_positives++;
    }
    console.error(`Wrote ${cases.length} cases to ${out} (labels: keyword heuristics, not ground truth).`);
    process.stdout.write(
      `${JSON.stringify({ n: cases.length, labels: 'keyword heuristics', by_origin: by, out })}\n`,
    );
  } finally {
    await rt.close();
  }
}
