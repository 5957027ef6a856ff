import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NormalisedEvent } from '../../schema/event.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { detectSource } from '../classify.ts';
import { SourceRegistry } from '../index.ts';
import { normaliseRecords } from '../normalise.ts';
import { describeSourceConformance, normaliseText } from '../testing/conformance.ts';
import { severityOfPriority } from './alert.ts';
import { SuricataConfig, suricata } from './index.ts';

const fixturesDir = join(import.meta.dirname, 'fixtures');
const eveText = readFileSync(join(fixturesDir, 'eve.ndjson'), 'utf8');
const alertsText = readFileSync(join(fixturesDir, 'alerts.json'), 'utf8');
const eveLines = eveText
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Record<string, unknown>);

describeSourceConformance({ factory: suricata, fixturesDir, sampleRecord: eveLines[0] });

const source = (config: unknown = {}) =>
  suricata.create(SuricataConfig.parse(config), { logger: silentLogger() });
const run = (records: unknown[], config: unknown = {}) =>
  normaliseRecords(
    source(config),
    records.map((value) => ({ value })),
    '2030-01-01T00:00:00.000Z',
  );
const one = (record: unknown, config: unknown = {}): NormalisedEvent => {
  const r = run([record], config);
  expect(r.deadLetters).toEqual([]);
  expect(r.events).toHaveLength(1);
  return r.events[0]!;
};
const eve = normaliseText(source(), eveText);
const byType = (type: string) => eve.events.filter((e) => e.activity_name === type);
const clone = <T>(v: T): T => structuredClone(v);

describe('suricata alerts', () => {
  const alerts = normaliseText(source(), alertsText).events;

  it('maps alert.severity (classtype priority) 1/2/3/4 to high/medium/low/informational', () => {
    expect(alerts.map((e) => [e.finding?.level, e.finding?.severity, e.severity_id])).toEqual([
      [1, 'high', 4],
      [2, 'medium', 3],
      [3, 'low', 2],
      [4, 'informational', 1],
    ]);
    expect(severityOfPriority(undefined)).toBe('medium');
    expect(severityOfPriority(9)).toBe('informational');
  });

  it('makes a detection finding named by signature id, with action, category and rule metadata', () => {
    const e = byType('alert')[0]!;
    expect(e.class_uid).toBe(2004);
    expect(e.finding).toMatchObject({
      uid: '2099001',
      title: 'ET MALWARE Suspicious Self-Signed Certificate on Update Domain',
      product: 'Suricata',
      severity: 'high',
      confidence: 0.9,
    });
    // ET writes sub-techniques with an underscore; the schema wants T1234.001.
    expect(e.finding?.techniques).toEqual(['T1071.001', 'T1573']);
    expect(e.finding?.tags).toEqual(
      expect.arrayContaining([
        'category:A Network Trojan was detected',
        'action:allowed',
        'attack.ta0011',
        'signature_severity:Major',
      ]),
    );
    expect(e.unmapped?.alert).toMatchObject({ gid: 1, rev: 4 });
    expect(alerts[0]!.status_detail).toBe('blocked');
  });

  it('gives alerts on the same packet their own ids, and the same ids on re-ingestion', () => {
    const [a, b] = alerts;
    expect(a!.network?.flow_uid).toBe(b!.network?.flow_uid);
    expect(a!.time).toBe(b!.time);
    expect(a!.id).not.toBe(b!.id);
    expect(normaliseText(source(), alertsText).events.map((e) => e.id)).toEqual(alerts.map((e) => e.id));
  });

  it('keeps microseconds and reads zone-less timestamps as UTC', () => {
    expect(alerts[0]!.time).toBe('2023-11-02T22:41:09.118302Z');
    expect(alerts[2]!.time).toBe('2023-11-03T06:02:55.400019Z');
  });

  it('leaves payloads to raw, not unmapped', () => {
    expect(alerts[0]!.unmapped).not.toHaveProperty('payload');
    expect(alerts[0]!.unmapped).not.toHaveProperty('payload_printable');
    expect((alerts[0]!.raw as Record<string, unknown>).payload).toBeDefined();
  });
});

describe('suricata network counters', () => {
  it('turns to-server/to-client counters around when the source is the server', () => {
    const e = byType('alert')[0]!;
    expect(e.src_endpoint?.ip).toBe('198.51.100.23');
    expect(e.network).toMatchObject({ bytes_out: 4630, bytes_in: 1187, packets_out: 7, packets_in: 9 });
    // The connection is still outbound: the internal client opened it.
    expect(e.network?.direction).toBe('outbound');
    // Without `direction`, flow.src_ip tells the client apart.
    const noDirection = clone(eveLines[0]!);
    delete noDirection.direction;
    expect(one(noDirection).network).toMatchObject({ bytes_out: 4630, bytes_in: 1187 });
    // Without either, the source is taken as the client.
    const plain = clone(noDirection);
    delete (plain.flow as Record<string, unknown>).src_ip;
    expect(one(plain).network).toMatchObject({ bytes_out: 1187, bytes_in: 4630 });
  });

  it('maps a flow record: to-server is out, duration from start to end, state with reason and flags', () => {
    const e = byType('flow')[0]!;
    expect(e.network).toEqual({
      protocol: 'tcp',
      app_protocol: 'tls',
      flow_uid: '1538205839201744',
      direction: 'outbound',
      packets_out: 31,
      packets_in: 27,
      bytes_out: 5218,
      bytes_in: 19877,
      duration_ms: 333104.721,
      state: 'closed reason=timeout tcp=closed flags=1b',
    });
  });

  it('measures an alert flow up to the alert', () => {
    expect(byType('alert')[0]!.network?.duration_ms).toBe(514.691);
  });

  it('treats netflow records as one-way, one record per side', () => {
    const [out, back] = byType('netflow');
    expect(out!.network).toMatchObject({ packets_out: 1, bytes_out: 74, direction: 'lateral' });
    expect(out!.network).not.toHaveProperty('bytes_in');
    expect(back!.network).toMatchObject({ bytes_out: 158, duration_ms: 1.287 });
    expect(out!.id).not.toBe(back!.id);
  });

  it('refuses negative counters, naming the field', () => {
    const bad = clone(eveLines[1]!);
    (bad.flow as Record<string, unknown>).bytes_toclient = -5;
    const r = run([bad, eveLines[1]]);
    expect(r.deadLetters.map((d) => d.field)).toEqual(['flow.bytes_toclient']);
    expect(r.events).toHaveLength(1);
  });

  it('decides direction from the configured home network', () => {
    const flow = eveLines[1]!;
    expect(one(flow, { home_net: ['198.51.100.0/24'] }).network?.direction).toBe('inbound');
    expect(one(flow, { home_net: ['10.0.0.0/8', '198.51.100.0/24'] }).network?.direction).toBe('lateral');
    expect(one(flow, { home_net: [] }).network).not.toHaveProperty('direction');
  });
});

describe('suricata application records', () => {
  it('reads DNS in its version 1, 2 (detailed and grouped) and 3 shapes', () => {
    const dns = byType('dns').map((e) => e.dns);
    expect(dns).toEqual([
      { query: 'updates.example-cdn.net', qtype: 'A' },
      {
        query: 'updates.example-cdn.net',
        qtype: 'A',
        rcode: 'NOERROR',
        answers: ['edge-7.example-cdn.net', '198.51.100.23'],
      },
      { query: 'wpad.corp.example', qtype: 'A', rcode: 'NXDOMAIN' },
      {
        query: 'example.org',
        qtype: 'MX',
        rcode: 'NOERROR',
        answers: ['mx1.example.org', 'mx2.example.org'],
      },
      { query: 'example.net', qtype: 'AAAA', rcode: 'NOERROR', answers: ['2001:db8:beef::1'] },
    ]);
    expect(byType('dns').map((e) => e.status)).toEqual([
      'unknown',
      'success',
      'failure',
      'success',
      'success',
    ]);
    const v1 = (rdata: string) => ({
      timestamp: '2024-03-12T09:20:31.883391+0100',
      flow_id: 42,
      event_type: 'dns',
      src_ip: '10.20.0.53',
      dest_ip: '10.20.30.41',
      dns: { type: 'answer', id: 7, rrname: 'a.example', rrtype: 'A', rcode: 'NOERROR', rdata, ttl: 60 },
    });
    const r = run([v1('192.0.2.1'), v1('192.0.2.2')]);
    expect(r.events.map((e) => e.dns?.answers)).toEqual([['192.0.2.1'], ['192.0.2.2']]);
    // Version 1 writes one record per answer with the same id and time: they stay two events.
    expect(new Set(r.events.map((e) => e.id)).size).toBe(2);
    const answer = byType('dns')[1]!;
    expect(answer.observables).toContainEqual({ type: 'ip', value: '198.51.100.23', name: 'dns.answers' });
  });

  it('reads the query[] form alerts carry', () => {
    const alert = {
      ...eveLines[0],
      dns: { query: [{ type: 'query', id: 1, rrname: 'bad.example', rrtype: 'TXT', tx_id: 0 }] },
    };
    expect(one(alert).dns).toEqual({ query: 'bad.example', qtype: 'TXT' });
  });

  it('makes HTTP URLs absolute and keeps the path as sent', () => {
    const e = byType('http')[0]!;
    expect(e.class_uid).toBe(4002);
    expect(e.http).toEqual({
      method: 'GET',
      url: 'http://downloads.example.org:8080/tools/agent.exe?build=4471',
      hostname: 'downloads.example.org',
      user_agent: 'Microsoft-CryptoAPI/10.0',
      status_code: 200,
    });
    expect(e.unmapped?.http).toMatchObject({ uri: '/tools/agent.exe?build=4471', length: 482816 });
    expect(e.observables.map((o) => o.type)).toEqual(['ip', 'ip', 'url', 'domain', 'user_agent']);
  });

  it('puts the TLS server name on the server endpoint and fingerprints among observables', () => {
    const e = byType('alert')[0]!;
    expect(e.src_endpoint).toEqual({ ip: '198.51.100.23', port: 443, hostname: 'updates.example-cdn.net' });
    expect(e.observables).toEqual(
      expect.arrayContaining([
        { type: 'domain', value: 'updates.example-cdn.net', name: 'tls.sni' },
        { type: 'hash', value: '72a589da586844d7f0818ce684948eea', name: 'tls.ja3.hash' },
        { type: 'hash', value: 'ae4edc6faf64d08308082ad26be60767', name: 'tls.ja3s.hash' },
      ]),
    );
    expect(e.unmapped?.tls).toMatchObject({ version: 'TLS 1.2', sni: 'updates.example-cdn.net' });
  });

  it('maps fileinfo to file name, path, size and hashes', () => {
    const e = byType('fileinfo')[0]!;
    expect(e.class_uid).toBe(4010);
    expect(e.file).toMatchObject({ name: 'agent.exe', path: '/tools/agent.exe', size: 482816 });
    expect(Object.keys(e.file?.hashes ?? {})).toEqual(['md5', 'sha1', 'sha256']);
    expect(e.observables.filter((o) => o.type === 'hash')).toHaveLength(3);
  });

  it('maps SSH as SSH activity with both software versions', () => {
    const e = byType('ssh')[0]!;
    expect(e.class_uid).toBe(4007);
    expect(e.message).toContain('libssh2_1.10.0');
    expect(e.message).toContain('OpenSSH_8.9p1');
  });

  it('maps anomalies as low-severity network activity, with and without a flow id', () => {
    const [decode, applayer] = byType('anomaly');
    expect(decode!.severity_id).toBe(2);
    expect(decode!.status_detail).toBe('decoder.udp.pkt_too_small');
    expect(decode!.source_event_id).toMatch(/^anomaly:2024-03-12T09:31:10\.000123\+0100:[0-9a-f]{16}$/);
    expect(applayer!.unmapped?.anomaly).toMatchObject({ type: 'applayer', layer: 'proto_parser' });
  });

  it('normalises other event types generically with their object in unmapped', () => {
    const dhcp = byType('dhcp')[0]!;
    expect(dhcp.class_uid).toBe(4004);
    expect(dhcp.unmapped?.dhcp).toMatchObject({ assigned_ip: '10.20.30.99' });
    const smtp = byType('smtp')[0]!;
    expect(smtp.observables.filter((o) => o.type === 'email').map((o) => o.value)).toEqual([
      'j.doe@corp.example',
      'billing@example.org',
    ]);
    const unknown = one({ ...eveLines[16], event_type: 'quux', quux: { a: 1 } });
    expect(unknown.unmapped?.quux).toEqual({ a: 1 });
  });
});

describe('suricata ingestion behaviour', () => {
  it('counts stats records as skipped and never stores them', () => {
    expect(eve.skipped).toBe(1);
    expect(eve.events.some((e) => e.activity_name === 'stats')).toBe(false);
    const stats = eveLines.find((l) => l.event_type === 'stats');
    expect(run([stats, stats]).skipped).toBe(2);
    // Other types can be skipped by configuration; stats stay skipped whatever it says.
    const r = run(eveLines.slice(0, 4), { skip_event_types: ['netflow'] });
    expect(r.events.map((e) => e.activity_name)).toEqual(['alert', 'flow']);
    expect(r.skipped).toBe(2);
  });

  it('dead-letters bad records, naming the field, and keeps the rest', () => {
    expect(eve.deadLetters.map((d) => d.field)).toEqual(['timestamp', 'alert.signature_id', 'src_port']);
    expect(eve.events).toHaveLength(eveLines.length - 3 - 1);
    const r = run([{ event_type: 'alert' }, 'not an object', { timestamp: 'x' }, eveLines[1]]);
    expect(r.deadLetters.map((d) => d.field)).toEqual(['timestamp', 'record', 'event_type']);
    expect(r.events).toHaveLength(1);
  });

  it('refuses unknown config keys and bad home networks, naming the field', () => {
    expect(SuricataConfig.safeParse({ homenet: [] }).success).toBe(false);
    const bad = SuricataConfig.safeParse({ home_net: ['10.0.0.0/33'] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['home_net', 0]);
  });

  it('is detected from content and not confused with other sources', () => {
    const registry = new SourceRegistry({}, silentLogger());
    expect(detectSource({ name: 'eve.json', text: eveText }, registry)).toBe('suricata');
    expect(detectSource({ name: 'alerts.json', text: alertsText }, registry)).toBe('suricata');
    expect(suricata.sniff?.({ eventName: 'x', eventSource: 'y' })).toBe(0);
    expect(suricata.sniff?.({ ts: 1, uid: 'C1', 'id.orig_h': '10.0.0.1' })).toBe(0);
  });
});
