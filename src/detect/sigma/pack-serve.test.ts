import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, testServer } from '../../../test/helpers/runtime.ts';

/**
 * A server with no configuration raises alerts from the built-in pack on the
 * sources issue 17 named: a Sysmon event, a Zeek correlation (windows kept by
 * the correlate stage), a Suricata event beyond its signatures and a
 * GuardDuty finding GuardDuty rates low — each through POST /ingest and the
 * pipeline.
 */
describe('the built-in pack through serve', () => {
  let t: TestServer;
  let key: string;
  const ingest = (source: string, records: unknown[]) =>
    t.app.inject({
      method: 'POST',
      url: `/ingest/${source}`,
      payload: records.map((r) => JSON.stringify(r)).join('\n'),
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-ndjson' },
    });

  beforeAll(async () => {
    t = await testServer();
    key = await t.key(['ingest', 'read']);
  });
  afterAll(async () => {
    await t.close();
  });

  it('alerts on Windows, Zeek, Suricata and GuardDuty events', async () => {
    const lsass = {
      EventID: 10,
      Channel: 'Microsoft-Windows-Sysmon/Operational',
      SourceName: 'Microsoft-Windows-Sysmon',
      Hostname: 'ws01.corp.example',
      RecordNumber: 5001,
      UtcTime: '2026-03-02 09:12:44.120',
      SourceImage: 'C:\\Users\\alice\\Downloads\\m64.exe',
      TargetImage: 'C:\\Windows\\system32\\lsass.exe',
      GrantedAccess: '0x1010',
    };
    const tunnel = Array.from({ length: 12 }, (_, i) => ({
      _path: 'dns',
      ts: `2026-03-02T17:0${Math.floor(i / 3)}:${String((i % 3) * 20).padStart(2, '0')}.000000Z`,
      uid: `CDns${i}`,
      'id.orig_h': '10.47.1.20',
      'id.orig_p': 50000 + i,
      'id.resp_h': '10.47.0.53',
      'id.resp_p': 53,
      proto: 'udp',
      query: `${'3f9c0a5be17d2c4489aa01f3e6b7c8d9e0f1a2b'}${i}.t.example-tunnel.net`,
      qtype_name: 'A',
    }));
    const selfSigned = {
      timestamp: '2026-03-02T20:20:00.000000+0000',
      flow_id: 820001,
      event_type: 'tls',
      src_ip: '10.47.1.61',
      src_port: 50123,
      dest_ip: '203.0.113.82',
      dest_port: 443,
      proto: 'TCP',
      tls: { subject: 'CN=update-check.example', issuerdn: 'CN=update-check.example', version: 'TLS 1.2' },
    };
    const trailOff = {
      schemaVersion: '2.0',
      accountId: '111122223333',
      region: 'eu-west-1',
      partition: 'aws',
      id: 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c501',
      arn: 'arn:aws:guardduty:eu-west-1:111122223333:detector/d1/finding/a1b2c3d4e5f6a7b8c9d0e1f2a3b4c501',
      type: 'Stealth:IAMUser/CloudTrailLoggingDisabled',
      severity: 2,
      title: 'The user ops disabled CloudTrail logging.',
      description: 'The user ops disabled CloudTrail logging.',
      createdAt: '2026-03-02T21:00:00.000Z',
      updatedAt: '2026-03-02T21:00:00.000Z',
      resource: { resourceType: 'AccessKey', accessKeyDetails: { userName: 'ops', userType: 'IAMUser' } },
      service: { serviceName: 'guardduty', detectorId: 'd1', count: 1 },
    };
    for (const [source, records] of [
      ['windows', [lsass]],
      ['zeek', tunnel],
      ['suricata', [selfSigned]],
      ['guardduty', [trailOff]],
    ] as const) {
      const r = await ingest(source, [...records]);
      expect(r.statusCode, source).toBe(202);
      expect(r.json().dead_letters, source).toBe(0);
    }
    await t.runtime.runner.drain();
    const res = await t.app.inject({
      method: 'GET',
      url: '/alerts?limit=100',
      headers: { authorization: `Bearer ${key}` },
    });
    const titles = (res.json().items as Array<{ title: string }>).map((a) => a.title);
    for (const want of [
      'LSASS memory opened for reading by an unexpected process',
      'DNS tunnelling - many long encoded-looking query names from one host',
      'TLS to an external server with a self-signed certificate (Suricata)',
      'GuardDuty saw CloudTrail or S3 access logging turned off',
    ])
      expect(titles, want).toContain(want);
  });
});
