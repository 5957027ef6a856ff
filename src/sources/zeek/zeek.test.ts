import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { upstreamDetector } from '../../detect/upstream.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { readInputDocs } from '../archive.ts';
import { detectSource } from '../classify.ts';
import { bodyText, decodeBody, frameBody } from '../framing.ts';
import { SourceRegistry } from '../index.ts';
import { normaliseRecords } from '../normalise.ts';
import { describeSourceConformance, normaliseText } from '../testing/conformance.ts';
import { ZeekConfig, zeek } from './index.ts';
import { inferZeekLog } from './infer.ts';
import { frameZeek, unescapeZeek } from './tsv.ts';

const fixturesDir = join(import.meta.dirname, 'fixtures');
const read = (name: string) => readFileSync(join(fixturesDir, name), 'utf8');
const logsText = read('logs.ndjson');
const logLines = logsText
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Record<string, unknown>);
const tsvText = read('conn-dns.tsv');
const customText = read('http-custom-separators.tsv');

describeSourceConformance({ factory: zeek, fixturesDir, sampleRecord: logLines[0] });

const source = (config: unknown = {}) => zeek.create(ZeekConfig.parse(config), { logger: silentLogger() });
const run = (text: string, config: unknown = {}) => normaliseText(source(config), text);
const one = (record: unknown, config: unknown = {}): NormalisedEvent => {
  const r = normaliseRecords(source(config), [{ value: record }], '2030-01-01T00:00:00.000Z');
  expect(r.deadLetters).toEqual([]);
  expect(r.events).toHaveLength(1);
  return r.events[0]!;
};
const logs = run(logsText);
const byLog = (log: string) => logs.events.filter((e) => e.metadata.log_name === log);

describe('zeek TSV', () => {
  const tsv = run(tsvText);

  it('reads typed values: numbers, booleans, sets, and leaves unset fields out', () => {
    const conn = tsv.events[0]!;
    const raw = conn.raw as Record<string, unknown>;
    expect(raw).toMatchObject({
      _path: 'conn',
      ts: 1710234846.998213,
      'id.orig_p': 50412,
      local_orig: true,
      local_resp: false,
      tunnel_parents: [],
      duration: 333.104721,
    });
    const s0 = tsv.events[2]!.raw as Record<string, unknown>;
    expect(s0).not.toHaveProperty('service');
    expect(s0).not.toHaveProperty('orig_bytes');
    const tunnel = tsv.events[3]!.raw as Record<string, unknown>;
    expect(tunnel.tunnel_parents).toEqual(['CHhAvVGS1DHFjwGM9', 'CbYJ2Z1Zr6Yy5ZqJ1a']);
  });

  it('unescapes \\x sequences, keeps an escaped dash as text, decodes UTF-8 and keeps invalid bytes escaped', () => {
    const queries = tsv.events.filter((e) => e.dns).map((e) => e.dns?.query);
    expect(queries).toEqual(['updates.example-cdn.net', 'weird\tname,.example', '-', 'café.example']);
    expect(tsv.events.at(-1)!.dns?.answers).toEqual(['bin\\xff\\xfeary']);
    expect(tsv.events.find((e) => e.dns?.query === 'weird\tname,.example')!.dns?.answers).toBeUndefined();
  });

  it('follows repeated headers: one document may hold several logs', () => {
    expect(tsv.events.map((e) => e.metadata.log_name)).toEqual([
      'conn',
      'conn',
      'conn',
      'conn',
      'dns',
      'dns',
      'dns',
      'dns',
    ]);
  });

  it('dead-letters a line with the wrong number of fields and a bad port, and keeps the rest', () => {
    expect(tsv.deadLetters.map((d) => [d.field, d.reason])).toEqual([
      ['#fields', 'line 26 has 8 fields where #fields declares 24'],
      ['id.orig_p', 'id.orig_p must be a port number 0–65535, got 99999'],
    ]);
    expect(tsv.errors.map((e) => e.line)).toEqual([26, 27]);
  });

  it('honours every header directive: separator, set separator, empty and unset markers, path', () => {
    const r = run(customText);
    expect(r.deadLetters).toEqual([]);
    const [get, post] = r.events.map((e) => e.raw as Record<string, unknown>);
    expect(get).toMatchObject({
      _path: 'http',
      method: 'GET',
      tags: [],
      resp_fuids: ['FgetAgent000001', 'FgetAgent000002'],
      resp_mime_types: ['application/x-dosexec', 'text/plain'],
    });
    expect(get).not.toHaveProperty('referrer');
    expect(get).not.toHaveProperty('username');
    expect(post).toMatchObject({ uri: '/upload|stage', username: '', resp_fuids: [] });
    expect(r.events[1]!.http?.url).toBe('http://203.0.113.80/upload|stage');
  });

  it('reads data lines before any #fields header as dead letters, not as a refused body', () => {
    const r = run('#separator \\x09\n1710234846.998213\tCx\n#fields\tts\tuid\n1710234846.5\tCy\n');
    expect(r.deadLetters.map((d) => d.field)).toEqual(['#fields']);
    expect(r.deadLetters[0]!.reason).toBe('line 2 comes before any #fields header');
    expect(r.events.map((e) => e.source_event_id)).toEqual(['Cy']);
  });

  it('reads gzip bodies and .gz files the same as plain text', async () => {
    const plain = run(tsvText).events.map((e) => e.id);
    const decoded = await decodeBody(gzipSync(tsvText), 'gzip', 1 << 20);
    expect(run(bodyText(decoded)).events.map((e) => e.id)).toEqual(plain);
    const dir = mkdtempSync(join(tmpdir(), 'zeek-'));
    try {
      const file = join(dir, 'logs.json.gz');
      writeFileSync(file, gzipSync(logsText));
      const docs = readInputDocs(file);
      expect(run(docs[0]!.text).events.map((e) => e.id)).toEqual(logs.events.map((e) => e.id));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stores a connection once whether it arrives as TSV or as JSON', () => {
    const fromTsv = run(tsvText).events[0]!;
    const fromJson = byLog('conn')[0]!;
    expect(fromTsv.source_event_id).toBe(fromJson.source_event_id);
    expect(fromTsv.id).toBe(fromJson.id);
    expect(fromTsv.network).toEqual(fromJson.network);
  });

  it('frames JSON documents as NDJSON and refuses malformed JSON whole', () => {
    expect(frameZeek(logsText)).toHaveLength(logLines.length);
    expect(() => frameZeek('{"ts": 1,\n{oops')).toThrow(/not valid JSON/);
    expect(frameBody('', zeek.create(ZeekConfig.parse({}), { logger: silentLogger() }).framing)).toEqual([]);
  });

  it('unescapes like Zeek', () => {
    expect(unescapeZeek('plain')).toBe('plain');
    expect(unescapeZeek('a\\x41\\x2c\\x5cb')).toBe('aA,\\b');
    expect(unescapeZeek('\\xe2\\x82\\xac and €')).toBe('€ and €');
    expect(unescapeZeek('\\xc3\\x28')).toBe('\\xc3(');
    expect(unescapeZeek('\\xzz')).toBe('\\xzz');
  });
});

describe('zeek log mappings', () => {
  it('fills network counters from conn: orig is out, resp is in, state with history', () => {
    expect(byLog('conn')[0]!.network).toEqual({
      protocol: 'tcp',
      flow_uid: 'CHhAvVGS1DHFjwGM9',
      app_protocol: 'tls',
      duration_ms: 333104.721,
      bytes_out: 5218,
      bytes_in: 19877,
      packets_out: 31,
      packets_in: 27,
      state: 'SF history=ShADadFf',
      direction: 'outbound',
    });
    expect(byLog('conn')[0]!.src_endpoint?.ip).toBe('10.20.30.41');
  });

  it("prefers Zeek's own local_orig/local_resp to the configured home network", () => {
    const conn = { ...logLines[0], local_orig: false, local_resp: false };
    expect(one(conn).network?.direction).toBe('unknown');
    expect(one(logLines[0], { home_net: [] }).network?.direction).toBe('outbound');
    const noLocal = { ...logLines[0] };
    delete noLocal.local_orig;
    delete noLocal.local_resp;
    expect(one(noLocal, { home_net: ['198.51.100.0/24'] }).network?.direction).toBe('inbound');
  });

  it('maps dns, http and ssl records', () => {
    expect(byLog('dns')[0]!.dns).toEqual({
      query: 'updates.example-cdn.net',
      qtype: 'A',
      rcode: 'NOERROR',
      answers: ['edge-7.example-cdn.net', '198.51.100.23'],
    });
    const http = byLog('http')[0]!;
    expect(http.activity_name).toBe('GET');
    expect(http.http?.url).toBe('http://downloads.example.org:8080/tools/agent.exe?build=4471');
    expect(http.dst_endpoint?.hostname).toBe('downloads.example.org');
    const ssl = byLog('ssl')[0]!;
    expect(ssl.dst_endpoint?.hostname).toBe('updates.example-cdn.net');
    expect(ssl.network?.app_protocol).toBe('tls');
    expect(ssl.observables.filter((o) => o.type === 'hash').map((o) => o.name)).toEqual([
      'tls.ja3',
      'tls.ja3s',
      'tls.cert_chain_fps',
    ]);
  });

  it('takes user names from kerberos, ntlm and rdp, with the outcome as status', () => {
    const users = logs.events
      .filter((e) => e.actor?.user)
      .map((e) => [e.metadata.log_name, e.actor?.user?.name, e.actor?.user?.domain, e.status]);
    expect(users).toEqual([
      ['rdp', 'svc_backup', undefined, 'success'],
      ['kerberos', 'svc_backup', 'CORP.EXAMPLE', 'success'],
      ['kerberos', 'jdoe', 'CORP.EXAMPLE', 'failure'],
      ['ntlm', 'Administrator', 'CORP', 'success'],
    ]);
    expect(byLog('kerberos')[1]!.status_detail).toBe('KDC_ERR_PREAUTH_FAILED');
    expect(byLog('ntlm')[0]!.src_endpoint?.hostname).toBe('WS-092');
    expect(byLog('rdp')[0]!.src_endpoint?.hostname).toBe('WS-090');
  });

  it('maps SSH authentication and direction', () => {
    const ssh = byLog('ssh')[0]!;
    expect(ssh.class_uid).toBe(4007);
    expect(ssh.status).toBe('failure');
    expect(ssh.network?.direction).toBe('inbound');
    expect(ssh.message).toContain('after 6 attempts');
  });

  it('maps files, smb_files and smb_mapping to files and shares', () => {
    expect(byLog('files')[0]!.file).toMatchObject({
      name: 'agent.exe',
      mime_type: 'application/x-dosexec',
      size: 482816,
    });
    expect(byLog('smb_files')[0]!.file).toEqual({
      name: 'payroll.xlsx',
      path: '\\\\FS01\\FINANCE$\\2024\\payroll.xlsx',
      size: 88213,
    });
    expect(byLog('smb_files')[0]!.activity_name).toBe('SMB::FILE_READ');
    expect(byLog('smb_mapping')[0]!.dst_endpoint?.hostname).toBe('FS01');
  });

  it('maps old-format files records by their tx_hosts/rx_hosts and fuid', () => {
    const e = run(read('nopath.ndjson')).events.find((x) => x.file?.name === 'invoice.pdf')!;
    expect(e.source_event_id).toBe('FoldFormat000001');
    expect(e.src_endpoint?.ip).toBe('203.0.113.80');
    expect(e.dst_endpoint?.ip).toBe('10.20.30.77');
  });

  it('identifies x509 records by their file id and lists certificate names', () => {
    const x = byLog('x509')[0]!;
    expect(x.source_event_id).toBe('FcertSelf000001');
    expect(x.observables.map((o) => o.value)).toEqual(['updates.example-cdn.net', 'example-cdn.net']);
  });

  it('maps weird records as low-severity anomalies named by the weird', () => {
    const [a, b] = byLog('weird');
    expect([a!.activity_name, a!.severity_id, a!.class_uid]).toEqual(['SSL_many_server_names', 2, 4001]);
    // Same connection, same instant, different weirds: two events.
    expect(a!.source_event_id).toBe(b!.source_event_id);
    expect(a!.id).not.toBe(b!.id);
  });

  it('keeps fields of other logs in unmapped', () => {
    const dce = byLog('dce_rpc')[0]!;
    expect(dce.activity_name).toBe('DRSGetNCChanges');
    expect(dce.unmapped).toMatchObject({ endpoint: 'drsuapi', named_pipe: '49667' });
    const unknown = run(read('nopath.ndjson')).events.at(-1)!;
    expect(unknown.metadata.log_name).toBeUndefined();
    expect(unknown.unmapped).toEqual({ widget: 'sprocket', level_of_fun: 11 });
  });

  it('accepts nested id records as well as dotted ones', () => {
    const nested = run(read('nopath.ndjson')).events.find((e) => e.source_event_id === 'CnestedId0000001')!;
    expect(nested.src_endpoint).toEqual({ ip: '10.20.30.77', port: 51560 });
    expect(nested.dst_endpoint).toEqual({ ip: '203.0.113.80', port: 80 });
  });
});

describe('zeek notices', () => {
  it('become detection findings with a documented severity and techniques', () => {
    const [scan, cert, custom] = byLog('notice');
    expect(scan!.class_uid).toBe(2004);
    expect(scan!.finding).toMatchObject({
      uid: 'Scan::Port_Scan',
      severity: 'medium',
      techniques: ['T1046'],
    });
    expect(scan!.src_endpoint?.ip).toBe('192.0.2.200');
    expect(cert!.finding?.severity).toBe('low');
    expect(custom!.finding?.severity).toBe('medium');
    expect(custom!.finding?.tags).toEqual([
      'zeek.note:Custom::Beacon_Interval',
      'zeek.action:Notice::ACTION_LOG',
      'zeek.action:Notice::ACTION_EMAIL',
    ]);
  });

  it('take severities from the configuration over the built-in table', () => {
    const r = run(logsText, {
      notice_severity: { 'SSL::Invalid_Server_Cert': 'high' },
      default_notice_severity: 'low',
    });
    const notices = r.events.filter((e) => e.finding);
    expect(notices.map((e) => e.finding?.severity)).toEqual(['medium', 'high', 'low']);
    expect(notices.map((e) => e.severity_id)).toEqual([3, 4, 2]);
  });

  it('reach the upstream detector only when severe enough', async () => {
    const alerts = await upstreamDetector().detect(logs.events);
    expect(alerts.map((a) => a.detection.rule_id)).toEqual([
      'zeek:Scan::Port_Scan',
      'zeek:Custom::Beacon_Interval',
    ]);
    expect(alerts[0]!.detection.tags).toContain('attack.t1046');
  });
});

describe('zeek ingestion behaviour', () => {
  it('uses the uid as the source event id and gives stable ids on re-ingestion', () => {
    expect(byLog('conn')[0]!.source_event_id).toBe('CHhAvVGS1DHFjwGM9');
    expect(run(logsText).events.map((e) => e.id)).toEqual(logs.events.map((e) => e.id));
    expect(new Set(logs.events.map((e) => e.id)).size).toBe(logs.events.length);
  });

  it('skips stats by default, and whatever logs the configuration names', () => {
    expect(logs.skipped).toBe(1);
    expect(logs.events.some((e) => e.metadata.log_name === 'stats')).toBe(false);
    const r = run(logsText, { skip_logs: ['weird', 'x509'] });
    expect(r.skipped).toBe(3);
    expect(r.events.some((e) => e.metadata.log_name === 'stats')).toBe(true);
  });

  it('dead-letters bad records, naming the field', () => {
    expect(logs.deadLetters.map((d) => d.field)).toEqual(['ts', 'orig_bytes']);
    expect(one({ ts: 1710234846.5, uid: 'C1', note: 'X::Y', _path: 'notice' }).finding?.uid).toBe('X::Y');
    const r = normaliseRecords(
      source(),
      [{ value: { _path: 'notice', ts: 1710234846.5 } }, { value: { _path: 'weird', ts: 1710234846.5 } }],
      '2030-01-01T00:00:00.000Z',
    );
    expect(r.deadLetters.map((d) => d.field)).toEqual(['note', 'name']);
  });

  it('infers the log of records without _path', () => {
    const r = run(read('nopath.ndjson'));
    expect(r.events.map((e) => e.metadata.log_name)).toEqual([
      'conn',
      'dns',
      'ssl',
      'ntlm',
      'kerberos',
      'files',
      'http',
      undefined,
    ]);
    expect(inferZeekLog({ _path: 'dns', conn_state: 'SF' })).toBe('dns');
    expect(inferZeekLog({ ts: 1, name: 'bad_TCP_checksum', notice: false })).toBe('weird');
    expect(inferZeekLog({ ts: 1, note: 'Scan::Port_Scan', msg: 'm' })).toBe('notice');
    expect(inferZeekLog({ ts: 1, action: 'SMB::FILE_OPEN', name: 'x' })).toBe('smb_files');
  });

  it('refuses unknown config keys and bad severities', () => {
    expect(ZeekConfig.safeParse({ skiplogs: [] }).success).toBe(false);
    const bad = ZeekConfig.safeParse({ notice_severity: { 'Scan::Port_Scan': 'severe' } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['notice_severity', 'Scan::Port_Scan']);
  });

  it('is detected from content, TSV or JSON, and not confused with Suricata', () => {
    const registry = new SourceRegistry({}, silentLogger());
    expect(detectSource({ name: 'conn.log', text: tsvText }, registry)).toBe('zeek');
    expect(detectSource({ name: 'http.log', text: customText }, registry)).toBe('zeek');
    expect(detectSource({ name: 'logs.json', text: logsText }, registry)).toBe('zeek');
    expect(detectSource({ name: 'nopath.json', text: read('nopath.ndjson') }, registry)).toBe('zeek');
    const eve = readFileSync(join(import.meta.dirname, '../suricata/fixtures/eve.ndjson'), 'utf8');
    expect(detectSource({ name: 'eve.json', text: eve }, registry)).toBe('suricata');
    expect(zeek.sniff?.({ event_type: 'alert', flow_id: 1, src_ip: '10.0.0.1' })).toBe(0);
  });
});
