import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedData } from '../../../test/helpers/data.ts';
import { readAttackBundle } from '../../knowledge/attack/load.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { describeSourceConformance, normaliseText } from '../testing/conformance.ts';
import { guardduty } from './index.ts';
import { sniffGuardDuty } from './parse.ts';
import { guardDutySeverity } from './severity.ts';
import { attackOfType, TYPE_TECHNIQUES, techniquesOfIndicators } from './techniques.ts';

const fixturesDir = join(import.meta.dirname, 'fixtures');
const fixture = (name: string) => readFileSync(join(fixturesDir, name), 'utf8');
const findings = JSON.parse(fixture('findings.json')) as Array<Record<string, unknown>>;

describeSourceConformance({ factory: guardduty, fixturesDir, sampleRecord: findings[0] });

describe('guardduty normalisation', () => {
  const source = guardduty.create({}, { logger: silentLogger() });
  const eventbridge = normaliseText(source, fixture('eventbridge.ndjson'));
  const bare = normaliseText(source, fixture('findings.json'));
  const byType = (r: typeof bare, type: string) => r.events.find((e) => e.metadata.event_code === type)!;

  it('maps an inbound brute force: remote attacker as source, the instance and port 22 as destination', () => {
    const e = byType(eventbridge, 'UnauthorizedAccess:EC2/SSHBruteForce');
    expect(e.class_uid).toBe(2004);
    expect(e.src_endpoint).toEqual({ ip: '198.51.100.23', port: 51544 });
    expect(e.dst_endpoint).toEqual({ instance_uid: 'i-0d3a5f1c2b4e6a789', ip: '10.20.1.14', port: 22 });
    expect(e.network).toEqual({ protocol: 'tcp', direction: 'inbound' });
    expect(e.device?.instance_uid).toBe('i-0d3a5f1c2b4e6a789');
    expect(e.finding).toMatchObject({
      uid: 'UnauthorizedAccess:EC2/SSHBruteForce',
      product: 'GuardDuty',
      severity: 'low',
      level: 2,
      techniques: ['T1110'],
    });
    expect(e.unmapped?.remote).toMatchObject({ country: 'Netherlands', country_code: 'NL', asn: '64500' });
    expect(e.cloud?.resource_uids).toContain(
      'arn:aws:ec2:eu-west-1:111122223333:instance/i-0d3a5f1c2b4e6a789',
    );
  });

  it('takes the actor of an API-call finding from the access key, role name included', () => {
    const e = byType(eventbridge, 'UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS');
    expect(e.actor?.user).toEqual({
      name: 'web-tier',
      uid: 'AROAEXAMPLEWEBTIER0001:i-0d3a5f1c2b4e6a789',
      type: 'AssumedRole',
      credential_uid: 'ASIAEXAMPLEWEBTIER77',
      account_uid: '111122223333',
    });
    expect(e.cloud).toMatchObject({
      service: 's3.amazonaws.com',
      operation: 'ListBuckets',
      region: 'eu-west-1',
    });
    expect(e.src_endpoint?.ip).toBe('203.0.113.66');
    expect(e.finding?.severity).toBe('high');
    expect(e.finding?.techniques).toEqual(['T1552.005']);
    expect(e.observables).toEqual(
      expect.arrayContaining([
        { type: 'access_key', value: 'ASIAEXAMPLEWEBTIER77', name: 'actor.user.credential_uid' },
        { type: 'ip', value: '203.0.113.66', name: 'src_endpoint.ip' },
      ]),
    );
  });

  it('keeps a DNS finding query and refuses other EventBridge detail types, naming the field', () => {
    const e = byType(eventbridge, 'CryptoCurrency:EC2/BitcoinTool.B!DNS');
    expect(e.dns).toEqual({ query: 'pool.minexmr.example' });
    expect(e.finding?.tags).toEqual(['guardduty', 'cryptocurrency', 'attack.impact']);
    expect(e.finding?.techniques).toEqual(['T1496']);
    expect(eventbridge.events).toHaveLength(3);
    expect(eventbridge.deadLetters.map((d) => d.field)).toEqual(['detail-type']);
  });

  it('stores an archived finding without a verdict, so it raises no alert', () => {
    const e = byType(bare, 'Backdoor:EC2/C&CActivity.B');
    expect(e.finding).toBeUndefined();
    expect(e.status_detail).toBe('archived in GuardDuty');
    expect(e.severity_id).toBe(4);
    expect(e.src_endpoint).toMatchObject({ ip: '10.20.1.14', port: 40212 });
    expect(e.dst_endpoint).toEqual({ ip: '192.0.2.77', port: 443 });
  });

  it('maps port probes, malware scans and failed API calls', () => {
    const probe = byType(bare, 'Recon:EC2/PortProbeUnprotectedPort');
    expect(probe.src_endpoint).toEqual({ ip: '192.0.2.201' });
    expect(probe.unmapped?.probed_ports).toEqual([3389, 5985]);
    expect(probe.observables.filter((o) => o.type === 'ip').map((o) => o.value)).toEqual(
      expect.arrayContaining(['192.0.2.201', '192.0.2.202']),
    );
    const malware = byType(bare, 'Execution:EC2/MaliciousFile');
    expect(malware.file).toEqual({
      path: '/var/tmp/.x/mirai.arm7',
      name: 'mirai.arm7',
      hashes: { sha256: '8c5f1f6d2e3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c' },
    });
    const stop = byType(bare, 'Stealth:IAMUser/CloudTrailLoggingDisabled');
    expect(stop.status).toBe('failure');
    expect(stop.cloud?.error_code).toBe('AccessDenied');
    expect(stop.actor?.user?.type).toBe('Root');
    expect(stop.finding?.techniques).toEqual(['T1562.008']);
  });

  it('keeps the original finding as raw, unchanged (empty members included)', () => {
    const e = bare.events.find((x) => x.source_event_id === findings[0]!.id)!;
    expect(e.raw).toEqual(findings[0]);
    expect(JSON.stringify(e.raw)).toContain('"productCodes":[]');
  });

  it('dead-letters an out-of-range severity and a missing type, naming each field', () => {
    expect(bare.events).toHaveLength(4);
    expect(bare.deadLetters.map((d) => d.field)).toEqual(['severity', 'type']);
    expect(bare.deadLetters[0]!.reason).toMatch(/from 0 to 10, got 12/);
  });

  it('reads `aws guardduty get-findings` output (PascalCase members) like the wire format', () => {
    const r = normaliseText(source, fixture('cli-output.json'));
    expect(r.deadLetters).toEqual([]);
    const tor = byType(r, 'UnauthorizedAccess:EC2/TorClient');
    expect(tor.src_endpoint).toEqual({ instance_uid: 'i-0e7f6a5b4c3d2e1f0', ip: '10.20.3.51', port: 53112 });
    expect(tor.dst_endpoint).toEqual({ ip: '192.0.2.10', port: 9001 });
    expect(tor.finding?.techniques).toEqual(['T1090.003']);
    const seq = byType(r, 'AttackSequence:IAM/CompromisedCredentials');
    expect(seq.finding).toMatchObject({ severity: 'critical', level: 9.2 });
    expect(seq.severity_id).toBe(5);
  });

  it("unwraps Wazuh's GuardDuty documents, keeping the wrapper as raw and the agent beside the finding", () => {
    const r = normaliseText(source, fixture('wazuh-document.ndjson'));
    expect(r.events).toHaveLength(1);
    const e = r.events[0]!;
    expect(e.source_event_id).toBe('2f3e4d5c6b7a89012f3e4d5c6b7a8901');
    expect(e.unmapped?.wazuh).toEqual({
      agent_id: '007',
      agent_name: 'aws-collector-01',
      rule_id: 'gd-net-004',
      rule_title: 'GuardDuty finding: NETWORK_CONNECTION',
      integration: 'aws',
    });
    expect((e.raw as { event: { original: string } }).event.original).toContain('WinRMBruteForce');
    expect(r.deadLetters[0]!.field).toBe('event.original');
  });

  it('makes each revision of a finding its own event, and the same revision the same event', () => {
    const finding = structuredClone(findings[0]!);
    const again = normaliseText(source, JSON.stringify(finding)).events[0]!;
    const first = bare.events.find((e) => e.source_event_id === finding.id)!;
    expect(again.id).toBe(first.id);
    finding.updatedAt = '2026-11-19T07:45:10.000Z';
    const updated = normaliseText(source, JSON.stringify(finding)).events[0]!;
    expect(updated.source_event_id).toBe(first.source_event_id);
    expect(updated.id).not.toBe(first.id);
    expect(updated.time).toBe('2026-11-19T07:45:10.000Z');
  });
});

describe('guardduty severity bands', () => {
  it.each([
    [0.1, 'low'],
    [1, 'low'],
    [3.9, 'low'],
    [3.95, 'low'],
    [4, 'medium'],
    [6.9, 'medium'],
    [7, 'high'],
    [8.9, 'high'],
    [9, 'critical'],
    [10, 'critical'],
  ] as const)('%s is %s', (value, expected) => {
    expect(guardDutySeverity(value)).toBe(expected);
  });

  it('refuses values outside 0–10', () => {
    expect(() => guardDutySeverity(10.5)).toThrow(/severity must be a number from 0 to 10/);
    expect(() => guardDutySeverity(-1)).toThrow(/severity/);
  });

  it('derives tactics from the threat purpose and techniques from the documented type only', () => {
    expect(attackOfType('Trojan:EC2/BlackholeTraffic!DNS')).toEqual({ tactics: [], techniques: [] });
    expect(attackOfType('Discovery:S3/AnomalousBehavior')).toEqual({
      tactics: ['discovery'],
      techniques: ['T1619'],
    });
    expect(attackOfType('DefenseEvasion:Runtime/ProcessInjection.Ptrace').techniques).toEqual(['T1055.008']);
    // An undocumented or future type states nothing: no guess from a word in its name.
    expect(attackOfType('UnauthorizedAccess:EC2/SSHBruteForce2').techniques).toEqual([]);
    expect(attackOfType('Discovery:Kubernetes/TorIPCaller').techniques).toEqual(['T1613', 'T1090.003']);
  });

  it('reads the techniques an attack sequence states, before those of its type', () => {
    const finding = {
      ...findings[0],
      type: 'AttackSequence:IAM/CompromisedCredentials',
      service: {
        ...(findings[0]!.service as Record<string, unknown>),
        detection: {
          sequence: {
            uid: 'seq-1',
            description: 'A sequence of suspicious calls',
            indicators: [
              { key: 'ATTACK_TACTIC', values: ['Persistence'] },
              {
                key: 'ATTACK_TECHNIQUE',
                values: ['T1098.001', 'T1562.008 - Disable or Modify Cloud Logs', 'Account Manipulation'],
              },
              { key: 'HIGH_RISK_API', values: ['T1486'] },
            ],
          },
        },
      },
    };
    const r = normaliseText(guardduty.create({}, { logger: silentLogger() }), JSON.stringify(finding));
    expect(r.deadLetters).toEqual([]);
    expect(r.events[0]!.finding?.techniques).toEqual(['T1098.001', 'T1562.008']);
    expect(techniquesOfIndicators([{ key: 'ATTACK_TECHNIQUE', values: 'T1098' }])).toEqual([]);
  });
});

const enterprise = sharedData('attack', 'enterprise-attack.json');
describe.skipIf(!enterprise)('the finding-type table against ATT&CK', () => {
  it('names only current Enterprise techniques', () => {
    const attack = readAttackBundle(enterprise!);
    const ids = [...new Set(Object.values(TYPE_TECHNIQUES).flat())];
    expect(ids.filter((id) => !attack.techniques.has(id))).toEqual([]);
    expect(Object.keys(TYPE_TECHNIQUES).every((t) => /^[A-Za-z]+:[A-Za-z0-9]+\/[\w.&!]+$/.test(t))).toBe(
      true,
    );
  }, 60_000);
});

describe('guardduty sniff', () => {
  it('claims findings in every shape and nothing else', () => {
    expect(sniffGuardDuty(findings[0])).toBeGreaterThanOrEqual(0.9);
    expect(sniffGuardDuty(JSON.parse(fixture('cli-output.json')))).toBeGreaterThanOrEqual(0.9);
    expect(sniffGuardDuty(JSON.parse(fixture('eventbridge.ndjson').split('\n')[0]!))).toBeGreaterThanOrEqual(
      0.9,
    );
    expect(
      sniffGuardDuty(JSON.parse(fixture('wazuh-document.ndjson').split('\n')[0]!)),
    ).toBeGreaterThanOrEqual(0.9);
    const cloudtrail = {
      eventVersion: '1.08',
      eventSource: 's3.amazonaws.com',
      eventName: 'ListBuckets',
      eventTime: '2026-11-19T09:00:00Z',
    };
    expect(sniffGuardDuty(cloudtrail)).toBe(0);
    expect(
      sniffGuardDuty({
        SchemaVersion: '2018-10-08',
        ProductArn: 'arn:aws:securityhub:eu-west-1::product/aws/guardduty',
        Types: [],
      }),
    ).toBeLessThan(0.3);
  });
});

describe('guardduty on the shared sample findings (Wazuh sample documents)', () => {
  const file = sharedData('guardduty', 'findings_guardduty.json');
  it.skipIf(!file)('normalises every finding with no dead letter', () => {
    const source = guardduty.create({}, { logger: silentLogger() });
    const r = normaliseText(source, readFileSync(file!, 'utf8'));
    expect(r.deadLetters).toEqual([]);
    expect(r.events).toHaveLength(5);
    expect(r.events.map((e) => e.finding?.uid)).toEqual([
      'Trojan:EC2/BlackholeTraffic!DNS',
      'Persistence:Kubernetes/SuccessfulAnonymousAccess',
      'Discovery:Kubernetes/TorIPCaller',
      'CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin',
      'PrivilegeEscalation:Runtime/DockerSocketAccessed',
    ]);
    expect(r.events.map((e) => e.finding?.severity)).toEqual(['medium', 'high', 'medium', 'high', 'medium']);
    const runtime = r.events[4]!;
    expect(runtime.process).toMatchObject({ name: 'sshd', path: '/usr/bin/ssh', pid: 2345 });
    expect(runtime.finding?.techniques).toEqual(['T1611']);
    const k8s = r.events[1]!;
    expect(k8s.actor?.user).toMatchObject({ name: 'system:anonymous', type: 'KubernetesUser' });
    expect(k8s.http).toMatchObject({ method: 'get', status_code: 200 });
  });
});
