import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../telemetry/logger.ts';
import { sniffGuardDuty } from '../guardduty/parse.ts';
import { describeSourceConformance, normaliseText } from '../testing/conformance.ts';
import { securityhub } from './index.ts';
import { guardDutyTypeOf, sniffSecurityHub } from './parse.ts';
import { asffSeverity, severityFromNormalized } from './severity.ts';

const fixturesDir = join(import.meta.dirname, 'fixtures');
const fixture = (name: string) => readFileSync(join(fixturesDir, name), 'utf8');
const listed = JSON.parse(fixture('findings.json')).Findings as Array<Record<string, unknown>>;

describeSourceConformance({ factory: securityhub, fixturesDir, sampleRecord: listed[0] });

describe('securityhub normalisation', () => {
  const source = securityhub.create({}, { logger: silentLogger() });
  const viaEventBridge = normaliseText(source, fixture('guardduty-eventbridge.ndjson'));
  const findings = normaliseText(source, fixture('findings.json'));
  const partner = normaliseText(source, fixture('partner.ndjson'));

  it('opens EventBridge envelopes (detail.findings) and refuses other detail types, naming the field', () => {
    expect(viaEventBridge.events).toHaveLength(2);
    expect(viaEventBridge.deadLetters.map((d) => d.field)).toEqual(['detail-type']);
    expect(viaEventBridge.errors[0]!.at).toBe('[1]');
  });

  it('maps a GuardDuty finding relayed by Security Hub: GuardDuty type as uid, Label over Normalized, actor from the key', () => {
    const e = viaEventBridge.events[0]!;
    expect(e.class_uid).toBe(2004);
    expect(e.finding).toMatchObject({
      uid: 'UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS',
      product: 'GuardDuty',
      severity: 'high',
      level: 8,
      techniques: ['T1552.005'],
    });
    expect(e.finding?.tags).toContain('attack.credential-access');
    expect(e.actor?.user).toEqual({
      name: 'build-runner',
      uid: 'AROAEXAMPLEBUILDRUN01:i-0c0ffee0c0ffee012',
      type: 'AssumedRole',
      credential_uid: 'ASIAEXAMPLEBUILD0099',
      account_uid: '111122223333',
    });
    expect(e.cloud).toMatchObject({ operation: 'GetSecretValue', service: 'secretsmanager.amazonaws.com' });
    expect(e.src_endpoint).toEqual({ ip: '203.0.113.188' });
    expect(e.unmapped?.remote).toMatchObject({ country: 'Brazil', asn: '64512' });
    expect(e.activity_name).toBe('AWS_API_CALL');
  });

  it('takes endpoints from Network and the instance from the resource ARN', () => {
    const e = viaEventBridge.events[1]!;
    expect(e.src_endpoint).toEqual({ ip: '203.0.113.5', port: 41822 });
    expect(e.dst_endpoint).toEqual({ ip: '10.20.0.8', port: 22 });
    expect(e.network).toEqual({ protocol: 'tcp', direction: 'inbound' });
    expect(e.device).toEqual({ instance_uid: 'i-0c0ffee0c0ffee012', ip: '10.20.0.8' });
    expect(e.finding).toMatchObject({ severity: 'low', techniques: ['T1110'] });
    expect(e.status_detail).toBe('Workflow NOTIFIED; RecordState ACTIVE');
  });

  it('keeps a failed control as a Security Finding with its control id, and a passed one without a verdict', () => {
    const failed = findings.events.find((e) => e.metadata.event_code === 'S3.8')!;
    expect(failed.class_uid).toBe(2001);
    expect(failed.status).toBe('failure');
    expect(failed.finding).toMatchObject({ uid: 'S3.8', severity: 'high', product: 'Security Hub' });
    expect(failed.cloud?.resource_uids).toEqual(['arn:aws:s3:::acme-exports-prod']);
    expect(failed.unmapped?.compliance).toEqual({
      status: 'FAILED',
      control_id: 'S3.8',
      related_requirements: ['CIS AWS Foundations Benchmark v3.0.0/2.1.4'],
    });
    const passed = findings.events.find((e) => e.metadata.event_code === 'CloudTrail.1')!;
    expect(passed.status).toBe('success');
    expect(passed.finding).toBeUndefined();
    expect(passed.status_detail).toBe('Workflow RESOLVED; RecordState ACTIVE; Compliance PASSED');
  });

  it('uses the CVE as the uid of a vulnerability finding and keeps the highest CVSS score', () => {
    const e = findings.events.find((x) => x.finding?.product === 'Inspector')!;
    expect(e.finding).toMatchObject({ uid: 'CVE-2024-6387', severity: 'critical', level: 90 });
    expect(e.unmapped?.vulnerabilities).toEqual([{ id: 'CVE-2024-6387', cvss: 9.8 }]);
    expect(e.device).toEqual({ instance_uid: 'i-0c0ffee0c0ffee012', ip: '10.20.0.8' });
  });

  it('keeps the original finding as raw, unchanged (empty members included)', () => {
    const finding = { ...listed[0]!, UserDefinedFields: {}, Note: undefined, RelatedFindings: [] };
    const e = normaliseText(source, JSON.stringify(finding)).events[0]!;
    expect(e.raw).toEqual(JSON.parse(JSON.stringify(finding)));
  });

  it('dead-letters an unknown severity label and a finding without Id, naming each field', () => {
    expect(findings.events).toHaveLength(3);
    expect(findings.deadLetters.map((d) => d.field)).toEqual(['Severity.Label', 'Id']);
    expect(findings.errors.map((e) => e.at)).toEqual(['[0][3]', '[0][4]']);
  });

  it('falls back to Normalized, maps process, malware, intel indicators and confidence of a partner finding', () => {
    const e = partner.events[0]!;
    expect(e.finding).toMatchObject({
      severity: 'high',
      level: 7.5,
      confidence: 0.85,
      uid: 'acme-edr/ransomware-behaviour',
    });
    expect(e.finding?.tags).toEqual(expect.arrayContaining(['attack.impact', 'Effects/Data Destruction']));
    expect(e.process).toEqual({
      name: 'svc.exe',
      path: 'C:\\Users\\Public\\svc.exe',
      pid: 6620,
      parent: { pid: 4410 },
    });
    expect(e.file).toEqual({ path: 'C:\\Users\\Public\\svc.exe', name: 'svc.exe' });
    expect(e.actor?.user).toMatchObject({ name: 'svc-backup', type: 'IAMUser' });
    expect(e.dst_endpoint).toEqual({ ip: '192.0.2.99', port: 443, hostname: 'update-check.example' });
    expect(e.observables).toEqual(
      expect.arrayContaining([
        {
          type: 'hash',
          value: '3b9d0c6f5e2a1d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0',
          name: 'unmapped.threat_intel',
        },
        { type: 'domain', value: 'update-check.example', name: 'unmapped.threat_intel' },
      ]),
    );
    expect(partner.events[1]!.finding).toBeUndefined();
    expect(partner.events[1]!.status_detail).toBe('Workflow NEW; RecordState ARCHIVED');
  });
});

describe('securityhub severity', () => {
  it.each([
    [0, 'informational'],
    [1, 'low'],
    [39, 'low'],
    [40, 'medium'],
    [69, 'medium'],
    [70, 'high'],
    [89, 'high'],
    [90, 'critical'],
    [100, 'critical'],
  ] as const)('Normalized %s is %s', (n, expected) => {
    expect(severityFromNormalized(n)).toBe(expected);
  });

  it('prefers Label, accepts it in any case, and names the field of a bad value', () => {
    expect(asffSeverity({ Label: 'critical', Normalized: 10 })).toEqual({ severity: 'critical', level: 10 });
    expect(() => asffSeverity({ Normalized: 140 })).toThrow(/Severity.Normalized must be 0–100/);
    expect(() => asffSeverity({})).toThrow(/Severity.Label or Severity.Normalized is required/);
  });

  it('restores GuardDuty types from Security Hub types', () => {
    expect(guardDutyTypeOf(['TTPs/Command and Control/Backdoor:EC2-C&CActivity.B!DNS'])).toBe(
      'Backdoor:EC2/C&CActivity.B!DNS',
    );
    expect(guardDutyTypeOf(['Software and Configuration Checks/Vulnerabilities/CVE'])).toBeUndefined();
  });
});

describe('securityhub sniff', () => {
  it('claims ASFF (bare, listed, in EventBridge) and leaves GuardDuty-native findings to GuardDuty', () => {
    const envelope = JSON.parse(fixture('guardduty-eventbridge.ndjson').split('\n')[0]!);
    const gdViaHub = envelope.detail.findings[0];
    expect(sniffSecurityHub(envelope)).toBeGreaterThanOrEqual(0.9);
    expect(sniffSecurityHub({ Findings: listed })).toBeGreaterThanOrEqual(0.9);
    expect(sniffSecurityHub(gdViaHub)).toBeGreaterThan(sniffGuardDuty(gdViaHub));
    const native = {
      schemaVersion: '2.0',
      id: 'x',
      type: 'Recon:EC2/Portscan',
      arn: 'arn:aws:guardduty:eu-west-1:1:detector/d/finding/x',
      service: { serviceName: 'guardduty' },
    };
    expect(sniffSecurityHub(native)).toBe(0);
  });
});
