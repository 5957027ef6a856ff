import { describe, expect, it } from 'vitest';
import type { EventDraft } from '../../../schema/event.ts';
import { normaliseCloudTrail } from '../../../sources/cloudtrail/parse.ts';
import { CsvRow, headerIndex } from '../csv.ts';
import { CIC_COLUMNS, canonicalHeader, cicflowmeter } from './cicflowmeter.ts';
import {
  BEHAVIOURAL_COLUMNS,
  BehaviourState,
  cloudtrailBehavioral,
  STATE_LIMITS,
} from './cloudtrail-behavioral.ts';
import { isRfc1918 } from './cloudtrail-common.ts';
import { CLOUDTRAIL18_COLUMNS, cloudtrail18 } from './cloudtrail18.ts';
import { flowPortable, PORTABLE_COLUMNS } from './flow-portable.ts';
import { FEATURE_SETS, featureSet } from './index.ts';

function ct(over: Record<string, unknown> = {}): EventDraft {
  const record = {
    eventVersion: '1.08',
    userIdentity: {
      type: 'IAMUser',
      arn: 'arn:aws:iam::111122223333:user/alice',
      userName: 'alice',
      accountId: '111122223333',
    },
    eventTime: '2024-03-09T23:15:00Z', // a Saturday
    eventSource: 'iam.amazonaws.com',
    eventName: 'CreateAccessKey',
    awsRegion: 'us-east-1',
    sourceIPAddress: '172.20.1.9',
    userAgent: 'aws-cli/2.15',
    requestParameters: { userName: 'bob' },
    eventID: '0d6e3c44-9b9c-4a63-9a4f-0e54f4f8b1aa',
    readOnly: false,
    ...over,
  };
  return normaliseCloudTrail(record)[0]!;
}

const col = (names: readonly string[], v: number[], name: string) => v[names.indexOf(name)];

describe('cloudtrail18', () => {
  it('has exactly the 18 features of DESIGN §2, in order', () => {
    expect(CLOUDTRAIL18_COLUMNS).toEqual([
      'has_error',
      'is_root',
      'is_iam_user',
      'is_assumed_role',
      'is_read',
      'is_write',
      'is_delete',
      'hour_of_day',
      'day_of_week',
      'is_weekend',
      'is_iam',
      'is_ec2',
      'is_s3',
      'is_lambda',
      'is_kms',
      'is_internal_ip',
      'is_aws_service',
      'request_param_count',
    ]);
  });

  it('computes a CreateAccessKey call by an IAM user on a Saturday night from a private address', () => {
    expect(cloudtrail18.fromEvent(ct())).toEqual([0, 0, 1, 0, 0, 1, 0, 23, 5, 1, 1, 0, 0, 0, 0, 1, 0, 1]);
  });

  it('reads errors, roles, deletes, services and AWS-service callers', () => {
    const v = cloudtrail18.fromEvent(
      ct({
        eventName: 'DeleteBucket',
        eventSource: 's3.amazonaws.com',
        errorCode: 'AccessDenied',
        sourceIPAddress: 's3.amazonaws.com',
        userIdentity: { type: 'AssumedRole', arn: 'arn:aws:sts::1:assumed-role/r/s' },
        requestParameters: null,
        eventTime: '2024-03-11T08:00:00Z',
      }),
    )!;
    const c = (n: string) => col(CLOUDTRAIL18_COLUMNS, v, n);
    expect([
      c('has_error'),
      c('is_assumed_role'),
      c('is_delete'),
      c('is_write'),
      c('is_s3'),
      c('is_aws_service'),
    ]).toEqual([1, 1, 1, 0, 1, 1]);
    expect([
      c('day_of_week'),
      c('is_weekend'),
      c('hour_of_day'),
      c('request_param_count'),
      c('is_internal_ip'),
    ]).toEqual([0, 0, 8, 0, 0]);
  });

  it('is_internal_ip is RFC 1918 only', () => {
    expect(['10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1'].map(isRfc1918)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(
      ['172.15.0.1', '172.32.0.1', '100.64.0.1', '127.0.0.1', '169.254.1.1', 'fd00::1', '8.8.8.8'].map(
        isRfc1918,
      ),
    ).toEqual([false, false, false, false, false, false, false]);
  });

  it('does not apply to events that are not CloudTrail calls', () => {
    expect(cloudtrail18.fromEvent({ ...ct(), cloud: undefined })).toBeUndefined();
  });
});

describe('no CloudTrail feature reads the user agent', () => {
  for (const fs of [cloudtrail18, cloudtrailBehavioral]) {
    it(`${fs.name}: the same vector whatever the user agent`, () => {
      const a = fs.fromEvent(ct({ userAgent: 'stratus-red-team_1234' }), fs.newState?.());
      const b = fs.fromEvent(ct({ userAgent: 'aws-cli/2.15' }), fs.newState?.());
      const c = fs.fromEvent(ct({ userAgent: undefined }), fs.newState?.());
      expect(a).toEqual(b);
      expect(a).toEqual(c);
    });
  }
});

describe('cloudtrail-behavioral', () => {
  const c = (v: number[], n: string) => col(BEHAVIOURAL_COLUMNS, v, n);

  it('remembers what an identity did: first-seen, rarity, bursts, idle time', () => {
    const state = new BehaviourState();
    const first = cloudtrailBehavioral.fromEvent(ct({ eventName: 'ListUsers', readOnly: true }), state)!;
    expect([
      c(first, 'identity_first_seen'),
      c(first, 'operation_first_seen'),
      c(first, 'network_first_seen'),
    ]).toEqual([1, 1, 1]);
    expect(c(first, 'log_seconds_since_last')).toBe(-1);
    const second = cloudtrailBehavioral.fromEvent(
      ct({
        eventName: 'ListUsers',
        readOnly: true,
        eventTime: '2024-03-09T23:16:00Z',
        errorCode: 'Throttling',
      }),
      state,
    )!;
    expect([
      c(second, 'identity_first_seen'),
      c(second, 'operation_first_seen'),
      c(second, 'network_first_seen'),
    ]).toEqual([0, 0, 0]);
    expect(c(second, 'operation_share')).toBe(1);
    expect(c(second, 'log_seconds_since_last')).toBeCloseTo(Math.log1p(60), 10);
    const third = cloudtrailBehavioral.fromEvent(
      ct({
        eventName: 'StopLogging',
        eventSource: 'cloudtrail.amazonaws.com',
        sourceIPAddress: '203.0.113.7',
        eventTime: '2024-03-09T23:17:00Z',
      }),
      state,
    )!;
    expect([
      c(third, 'operation_first_seen'),
      c(third, 'service_first_seen'),
      c(third, 'network_first_seen'),
    ]).toEqual([1, 1, 1]);
    expect([
      c(third, 'sensitive_api'),
      c(third, 'calls_5m'),
      c(third, 'errors_5m'),
      c(third, 'distinct_operations_5m'),
    ]).toEqual([1, 2, 1, 1]);
    expect(c(third, 'operation_share')).toBe(0);
  });

  it('survives a snapshot and restore (the store keeps it across restarts)', () => {
    const a = new BehaviourState();
    cloudtrailBehavioral.fromEvent(ct(), a);
    const b = BehaviourState.restore(JSON.parse(JSON.stringify(a.snapshot())));
    const next = ct({ eventTime: '2024-03-09T23:20:00Z' });
    expect(cloudtrailBehavioral.fromEvent(next, b)).toEqual(cloudtrailBehavioral.fromEvent(next, a));
    expect(BehaviourState.restore({ version: 99 }).size).toBe(0);
    expect(BehaviourState.restore('garbage').size).toBe(0);
  });

  it('stays bounded: old identities are evicted past the limit', () => {
    const s = new BehaviourState();
    for (let i = 0; i < STATE_LIMITS.identities + 50; i++)
      cloudtrailBehavioral.fromEvent(
        ct({ userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::1:user/u${i}` } }),
        s,
      );
    expect(s.size).toBe(STATE_LIMITS.identities);
  });
});

function cicRow(over: Record<string, string> = {}): CsvRow {
  const header = ['Flow ID', 'Src Port', ...CIC_COLUMNS, 'Label'];
  const values: Record<string, string> = Object.fromEntries(header.map((h) => [h, '0']));
  Object.assign(values, {
    'Flow ID': 'f1',
    'Src Port': '51000',
    'Dst Port': '443',
    Protocol: '6',
    'Flow Duration': '2500000',
    'Total Fwd Packet': '10',
    'Total Bwd packets': '8',
    'Total Length of Fwd Packet': '1200',
    'Total Length of Bwd Packet': '5600',
    'SYN Flag Count': '2',
    'FIN Flag Count': '2',
    'ACK Flag Count': '17',
    'PSH Flag Count': '6',
    Label: 'BENIGN',
    ...over,
  });
  return new CsvRow(
    canonicalHeader(headerIndex(header)),
    header.map((h) => values[h]!),
    2,
  );
}

describe('flow features', () => {
  it('cicflowmeter reads every column, turns Infinity/NaN rates into -1 and refuses garbage, naming the column', () => {
    const v = cicflowmeter.fromRow(cicRow({ 'Flow Bytes/s': 'Infinity', 'Flow Packets/s': 'NaN' }));
    expect(v).toHaveLength(CIC_COLUMNS.length);
    expect(col(CIC_COLUMNS, v, 'Flow Bytes/s')).toBe(-1);
    expect(col(CIC_COLUMNS, v, 'Flow Packets/s')).toBe(-1);
    expect(() => cicflowmeter.fromRow(cicRow({ 'Flow Duration': 'abc' }))).toThrow(/Flow Duration/);
    expect(() => cicflowmeter.fromRow(cicRow({ 'Flow Duration': '' }))).toThrow(/empty/);
  });

  it('cicflowmeter accepts the original CICIDS2017 spellings', () => {
    const h = canonicalHeader(
      headerIndex([' Destination Port', 'Total Fwd Packets', 'Init_Win_bytes_forward']),
    );
    expect(h.get('Dst Port')).toBe(0);
    expect(h.get('Total Fwd Packet')).toBe(1);
    expect(h.get('FWD Init Win Bytes')).toBe(2);
    expect(cicflowmeter.requiredColumns(h)).toContain('Protocol');
  });

  const expected = [2.5, 10, 8, 1200, 5600, 443, 2, 6, 120, 700, 6800 / 2.5, 18 / 2.5, 1, 1, 0, 1, 1, 0];

  it('flow-portable: a CICFlowMeter row, a Zeek conn record and a Suricata flow give the same vector', () => {
    expect(PORTABLE_COLUMNS).toHaveLength(expected.length);
    expect(flowPortable.fromRow(cicRow())).toEqual(expected);
    const base = {
      time: '2024-01-01T00:00:00Z',
      class_uid: 4001,
      class_name: 'Network Activity',
      category_uid: 4,
      category_name: 'Network Activity',
      severity_id: 1 as const,
    };
    const zeek: EventDraft = {
      ...base,
      src_endpoint: { ip: '10.0.0.1', port: 51000 },
      dst_endpoint: { ip: '10.0.0.2', port: 443 },
      network: {
        protocol: 'tcp',
        duration_ms: 2500,
        packets_out: 10,
        packets_in: 8,
        bytes_out: 1200,
        bytes_in: 5600,
      },
      raw: {
        proto: 'tcp',
        duration: 2.5,
        orig_pkts: 10,
        resp_pkts: 8,
        orig_bytes: 1200,
        resp_bytes: 5600,
        history: 'ShADadFf',
      },
    };
    expect(flowPortable.fromEvent(zeek)).toEqual(expected);
    const suri: EventDraft = {
      ...base,
      src_endpoint: { ip: '10.0.0.1', port: 51000 },
      dst_endpoint: { ip: '10.0.0.2', port: 443 },
      network: { protocol: 'TCP', duration_ms: 2500, packets_out: 10, packets_in: 8 },
      // Whole-packet bytes: payload + 66 bytes of headers per packet.
      raw: {
        proto: 'TCP',
        flow: {
          pkts_toserver: 10,
          pkts_toclient: 8,
          bytes_toserver: 1200 + 660,
          bytes_toclient: 5600 + 528,
          age: 2,
        },
        tcp: { tcp_flags: '1b' },
      },
    };
    expect(flowPortable.fromEvent(suri)).toEqual(expected);
    expect(flowPortable.fromEvent({ ...base, raw: {} })).toBeUndefined();
    // A Suricata alert carries the flow's counters so far, not a finished flow: not scored as one.
    const alert = { ...suri, raw: { ...(suri.raw as object), event_type: 'alert' } };
    expect(flowPortable.fromEvent(alert)).toBeUndefined();
    expect(flowPortable.fromEvent({ ...suri, raw: { ...(suri.raw as object), event_type: 'flow' } })).toEqual(
      expected,
    );
  });
});

describe('feature-set registry', () => {
  it('names every set once, and refuses an unknown name listing the known ones', () => {
    expect(new Set(FEATURE_SETS.map((f) => f.name)).size).toBe(FEATURE_SETS.length);
    expect(() => featureSet('nope')).toThrow(
      /cicflowmeter, flow-portable, cloudtrail18, cloudtrail-behavioral/,
    );
  });
});
