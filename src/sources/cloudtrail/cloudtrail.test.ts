import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../telemetry/logger.ts';
import { describeSourceConformance, normaliseText } from '../testing/conformance.ts';
import { cloudtrail } from './index.ts';

const fixturesDir = join(import.meta.dirname, 'fixtures');
const records = JSON.parse(readFileSync(join(fixturesDir, 'records.json'), 'utf8')).Records;

describeSourceConformance({ factory: cloudtrail, fixturesDir, sampleRecord: records[0] });

describe('cloudtrail normalisation', () => {
  const source = cloudtrail.create({}, { logger: silentLogger() });

  it('maps identity, network and cloud fields of an IAM user call', () => {
    const r = normaliseText(source, readFileSync(join(fixturesDir, 'records.json'), 'utf8'));
    const e = r.events.find((x) => x.source_event_id === '0b7c6b1e-1111-4a7e-9d2b-000000000001')!;
    expect(e.class_uid).toBe(6003);
    expect(e.actor?.user).toMatchObject({
      name: 'dev-alice',
      type: 'IAMUser',
      credential_uid: 'AKIAEXAMPLEALICE0001',
      account_uid: '111122223333',
    });
    expect(e.src_endpoint?.ip).toBe('203.0.113.45');
    expect(e.cloud).toMatchObject({
      provider: 'aws',
      service: 'iam.amazonaws.com',
      operation: 'CreateAccessKey',
      region: 'us-east-1',
      read_only: false,
    });
    expect(e.status).toBe('success');
  });

  it('treats a console sign-in as Authentication and records missing MFA', () => {
    const r = normaliseText(source, readFileSync(join(fixturesDir, 'records.json'), 'utf8'));
    const login = r.events.find((x) => x.activity_name === 'ConsoleLogin')!;
    expect(login.class_uid).toBe(3002);
    expect(login.actor?.user?.name).toBe('root');
    expect(login.actor?.user?.mfa).toBe(false);
  });

  it('names assumed-role sessions, keeps errors as failures and resources as ids', () => {
    const r = normaliseText(source, readFileSync(join(fixturesDir, 'records.json'), 'utf8'));
    const e = r.events.find((x) => x.activity_name === 'GetSecretValue')!;
    expect(e.actor?.user?.name).toBe('deploy-role/ci-runner');
    expect(e.status).toBe('failure');
    expect(e.cloud?.error_code).toBe('AccessDenied');
    expect(e.cloud?.resource_uids).toEqual([
      'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db/password',
    ]);
  });

  it('keeps a service name in sourceIPAddress as a hostname, not an IP', () => {
    const r = normaliseText(source, readFileSync(join(fixturesDir, 'records.json'), 'utf8'));
    const e = r.events.find((x) => x.activity_name === 'AssumeRole')!;
    expect(e.src_endpoint).toEqual({ hostname: 'ec2.amazonaws.com' });
  });

  it('dead-letters a record with a bad eventTime, naming the field, and keeps the others', () => {
    const r = normaliseText(source, readFileSync(join(fixturesDir, 'records.json'), 'utf8'));
    expect(r.events).toHaveLength(4);
    expect(r.deadLetters).toHaveLength(1);
    expect(r.deadLetters[0]!.field).toBe('eventTime');
    expect(r.errors[0]!.at).toBe('[0][4]');
  });

  it('unwraps EventBridge envelopes, skips digests and refuses other detail types', () => {
    const r = normaliseText(source, readFileSync(join(fixturesDir, 'eventbridge.ndjson'), 'utf8'));
    expect(r.events.map((e) => e.activity_name)).toEqual(['AuthorizeSecurityGroupIngress']);
    expect(r.skipped).toBe(1);
    expect(r.deadLetters).toHaveLength(1);
    expect(r.deadLetters[0]!.field).toBe('detail-type');
  });

  it('derives the same id from the same eventID, so re-ingestion is idempotent', () => {
    const text = readFileSync(join(fixturesDir, 'records.json'), 'utf8');
    const a = normaliseText(source, text).events.map((e) => e.id);
    const b = normaliseText(source, text).events.map((e) => e.id);
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(a.length);
  });

  it('reads @timestamp when Logstash moved eventTime there, and still requires one of them', () => {
    const base = { eventName: 'ListBuckets', eventSource: 's3.amazonaws.com', eventID: 'b1' };
    const text = [
      { ...base, '@timestamp': '2020-09-14T00:44:23.000Z', '@version': '1' },
      { ...base, eventID: 'b2', eventTime: '2020-09-14T00:45:00Z', '@timestamp': '2021-01-01T00:00:00Z' },
      { ...base, eventID: 'b3' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const r = normaliseText(source, text);
    expect(r.events.map((e) => e.time)).toEqual(['2020-09-14T00:44:23.000Z', '2020-09-14T00:45:00.000Z']);
    expect(r.deadLetters).toHaveLength(1);
    expect(r.deadLetters[0]!.field).toBe('eventTime');
  });
});
