import { describe, expect, it } from 'vitest';
import { SourceRegistry } from '../sources/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { alertsPerRule } from './rule-alerts.ts';
import { SigmaConfig } from './sigma/config.ts';
import { BUILTIN_RULES_DIR } from './sigma/content.ts';
import { loadRuleSet } from './sigma/index.ts';

const sources = new SourceRegistry({}, silentLogger());
const ruleSet = loadRuleSet([BUILTIN_RULES_DIR], SigmaConfig.parse({}));

const sysmon = (n: number, source: string, access: string) => ({
  Channel: 'Microsoft-Windows-Sysmon/Operational',
  SourceName: 'Microsoft-Windows-Sysmon',
  Hostname: 'ws01.corp.example',
  EventID: 10,
  RecordNumber: n,
  UtcTime: `2026-03-02 09:12:${String(n).padStart(2, '0')}.000`,
  SourceImage: source,
  TargetImage: 'C:\\Windows\\system32\\lsass.exe',
  GrantedAccess: access,
});
const sshFailure = (i: number) => ({
  _path: 'ssh',
  ts: `2026-03-02T14:00:${String(i * 5).padStart(2, '0')}Z`,
  uid: `C${i}`,
  'id.orig_h': '203.0.113.50',
  'id.orig_p': 40000 + i,
  'id.resp_h': '10.0.0.5',
  'id.resp_p': 22,
  auth_success: false,
});
const suricataAlert = {
  timestamp: '2026-03-02T10:00:00.000000+0000',
  flow_id: 1,
  event_type: 'alert',
  src_ip: '203.0.113.9',
  src_port: 4444,
  dest_ip: '10.0.0.5',
  dest_port: 443,
  proto: 'TCP',
  alert: { signature_id: 2000001, signature: 'ET TEST', severity: 1, category: 'test' },
};

describe('alerts per rule', () => {
  it('counts each alerting rule (correlations too), lists the silent ones at 0, and counts verdicts per source', async () => {
    const report = await alertsPerRule(
      [
        {
          name: 'win',
          source: 'windows',
          records: [
            sysmon(1, 'C:\\Users\\a\\m.exe', '0x1010'),
            sysmon(2, 'C:\\Tools\\pd.exe', '0x1fffff'),
            sysmon(3, 'C:\\Windows\\System32\\wininit.exe', '0x1fffff'),
          ],
        },
        { name: 'ssh', source: 'zeek', records: Array.from({ length: 11 }, (_, i) => sshFailure(i)) },
        { name: 'eve', source: 'suricata', records: [suricataAlert] },
      ],
      ruleSet,
      { sources, upstream: true, upstreamMinLevel: 'medium' },
    );
    expect(report.events).toEqual({ windows: 3, zeek: 11, suricata: 1 });
    const byTitle = new Map(report.rules.map((r) => [r.title, r]));
    expect(byTitle.get('LSASS memory opened for reading by an unexpected process')).toMatchObject({
      alerts: 2,
      events: 2,
      sources: ['windows'],
      kind: 'detection',
    });
    expect(byTitle.get('SSH password guessing seen on the wire (Zeek)')).toMatchObject({
      alerts: 1,
      events: 10,
      kind: 'correlation',
    });
    // A rule that read nothing is listed with 0; rules that only feed correlations are not listed.
    expect(byTitle.get('Windows event log cleared')?.alerts).toBe(0);
    expect(byTitle.has('SSH authentication failed (Zeek)')).toBe(false);
    expect(report.upstream).toEqual({ suricata: 1 });
  });

  it('leaves out alerts below the least level, and the verdicts when asked', async () => {
    const report = await alertsPerRule(
      [{ name: 'win', source: 'windows', records: [sysmon(1, 'C:\\Users\\a\\m.exe', '0x1010')] }],
      ruleSet,
      { sources, minLevel: 'critical' },
    );
    expect(report.rules.every((r) => r.alerts === 0)).toBe(true);
    expect(report.upstream).toEqual({});
  });
});
