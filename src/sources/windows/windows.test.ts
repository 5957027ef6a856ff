import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NormalisedEvent } from '../../schema/event.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { describeSourceConformance, normaliseText } from '../testing/conformance.ts';
import { splitConcatenatedJson } from './framing.ts';
import { windows } from './index.ts';
import { sniffWindows } from './parse.ts';
import { auditOf } from './record.ts';
import { dnsAnswers } from './sysmon.ts';
import { parseHashes, pidOf } from './values.ts';

const fixturesDir = join(import.meta.dirname, 'fixtures');
const otrfLines = readFileSync(join(fixturesDir, 'otrf.ndjson'), 'utf8').split('\n').filter(Boolean);

describeSourceConformance({ factory: windows, fixturesDir, sampleRecord: JSON.parse(otrfLines[0]!) });

const source = windows.create({}, { logger: silentLogger() });
const load = (file: string) => normaliseText(source, readFileSync(join(fixturesDir, file), 'utf8'));
const byRecord = (events: NormalisedEvent[], id: string) => {
  const e = events.find((x) => x.source_event_id === id);
  if (!e) throw new Error(`no event with record id ${id}`);
  return e;
};

describe('windows: winlogbeat', () => {
  const r = load('winlogbeat.ndjson');

  it('maps Sysmon 1 to Process Activity with process, parent, hashes and user, keeping event data for Sigma', () => {
    const e = byRecord(r.events, '884213');
    expect(e.class_uid).toBe(1007);
    expect(e.time).toBe('2026-03-09T10:14:22.318Z');
    expect(e.metadata).toEqual({
      product: 'Sysmon',
      vendor: 'Microsoft',
      event_code: '1',
      log_name: 'Microsoft-Windows-Sysmon/Operational',
    });
    expect(e.device).toEqual({ hostname: 'fin-ws-042.corp.example' });
    expect(e.actor?.user).toEqual({ name: 'jdoe', domain: 'CORP' });
    expect(e.process).toMatchObject({
      pid: 7420,
      name: 'powershell.exe',
      cmd_line: 'powershell.exe -NoP -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=',
      integrity: 'Medium',
      hashes: {
        sha1: '4A1F0E5B2C3D4E5F60718293A4B5C6D7E8F90123',
        imphash: 'A1B2C3D4E5F60718293A4B5C6D7E8F90',
      },
      parent: { pid: 6688, name: 'WINWORD.EXE' },
    });
    expect(e.unmapped).toMatchObject({
      Image: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      ParentImage: 'C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE',
      OriginalFileName: 'PowerShell.EXE',
      EventID: 1,
      Channel: 'Microsoft-Windows-Sysmon/Operational',
      Provider_Name: 'Microsoft-Windows-Sysmon',
      Computer: 'fin-ws-042.corp.example',
      UserID: 'S-1-5-18',
    });
  });

  it('maps Sysmon 3 to Network Activity with both endpoints and direction', () => {
    const e = byRecord(r.events, '884219');
    expect(e.class_uid).toBe(4001);
    expect(e.src_endpoint).toEqual({ ip: '10.40.12.42', port: 53122, hostname: 'fin-ws-042.corp.example' });
    expect(e.dst_endpoint).toEqual({ ip: '198.51.100.210', port: 443 });
    expect(e.network).toEqual({ direction: 'outbound', protocol: 'tcp' });
  });

  it('maps Sysmon 22 to DNS Activity with the answers', () => {
    const e = byRecord(r.events, '884217');
    expect(e.class_uid).toBe(4003);
    expect(e.dns).toEqual({
      query: 'cdn-update.badexample.net',
      rcode: '0',
      answers: ['edge.badexample.net', '198.51.100.210'],
    });
    expect(e.observables).toContainEqual({
      type: 'domain',
      value: 'cdn-update.badexample.net',
      name: 'dns.query',
    });
  });

  it('maps Sysmon 13 to Registry Key Activity with TargetObject and EventType in unmapped', () => {
    const e = byRecord(r.events, '884230');
    expect(e.class_uid).toBe(201001);
    expect(e.unmapped).toMatchObject({
      EventType: 'SetValue',
      TargetObject: expect.stringContaining('\\Run\\'),
    });
  });

  it('maps 4624 and 4625 to Authentication with logon type, source and outcome', () => {
    const ok = byRecord(r.events, '2210567');
    expect(ok.class_uid).toBe(3002);
    expect(ok.status).toBe('success');
    expect(ok.status_detail).toBe('Logon type 10 (RemoteInteractive)');
    expect(ok.actor?.user).toEqual({
      name: 'jdoe',
      domain: 'CORP',
      uid: 'S-1-5-21-3623811015-3361044348-30300820-1013',
    });
    expect(ok.src_endpoint).toEqual({ ip: '10.40.8.17', hostname: 'FIN-WS-042' });
    expect(ok.unmapped?.LogonType).toBe('10');
    const bad = byRecord(r.events, '2210498');
    expect(bad.status).toBe('failure');
    expect(bad.severity_id).toBe(2);
    expect(bad.src_endpoint).toEqual({ ip: '203.0.113.45', port: 49822, hostname: 'KALI' });
    expect(bad.actor?.user).toEqual({ name: 'administrator', domain: 'CORP' });
    expect(bad.status_detail).toBe('Wrong password (0xC000006A)');
    expect(bad.process).toBeUndefined();
  });

  it('reads 1102 from user_data and 7045 from the System channel', () => {
    const cleared = byRecord(r.events, '2210790');
    expect(cleared.class_uid).toBe(1008);
    expect(cleared.actor?.user?.name).toBe('jdoe');
    expect(cleared.unmapped).toMatchObject({ SubjectUserName: 'jdoe', EventID: 1102 });
    expect(cleared.unmapped?.xml_name).toBeUndefined();
    const svc = byRecord(r.events, '48122');
    expect(svc.class_uid).toBe(6002);
    expect(svc.unmapped).toMatchObject({
      ServiceName: 'WinUpdSvc',
      ImagePath: expect.stringContaining('powershell'),
    });
    expect(svc.process?.cmd_line).toContain('%COMSPEC%');
    // The installer is the account the event was logged under, not the service's LocalSystem.
    expect(svc.actor?.user).toEqual({ uid: 'S-1-5-21-3623811015-3361044348-30300820-1013' });
  });

  it('keeps events it has no mapping for as Base Events, with level-based severity', () => {
    const e = byRecord(r.events, '9931');
    expect(e.class_uid).toBe(0);
    expect(e.severity_id).toBe(3);
    expect(e.message).toBe('Faulting application name: odsync.exe');
    expect(e.unmapped).toMatchObject({ param1: 'odsync.exe', EventID: 1000, Channel: 'Application' });
  });

  it('dead-letters a bad event id and a missing time, naming the field', () => {
    expect(r.deadLetters.map((d) => d.field)).toEqual(['winlog.event_id', '@timestamp']);
    expect(r.deadLetters[0]!.reason).toContain('"forty-two"');
  });
});

describe('windows: winlogbeat 6', () => {
  const source = windows.create({}, { logger: silentLogger() });
  const base = { '@timestamp': '2019-05-18T20:19:20.052Z', event_id: 4624, log_name: 'security' };

  it('reads the top-level names: channel, provider, computer and record id', () => {
    const r = normaliseText(
      source,
      JSON.stringify({
        ...base,
        source_name: 'Microsoft-Windows-Security-Auditing',
        computer_name: 'hr1',
        record_number: '7',
        event_data: { LogonType: '3' },
      }),
    );
    expect(r.deadLetters).toEqual([]);
    expect(r.events[0]).toMatchObject({
      source_event_id: '7',
      device: { hostname: 'hr1' },
      metadata: { event_code: '4624', log_name: 'Security', product: 'Microsoft-Windows-Security-Auditing' },
    });
    expect(sniffWindows(base)).toBeGreaterThan(0.5);
  });

  it('names a bad field as winlogbeat 6 spells it', () => {
    const r = normaliseText(
      source,
      [
        { ...base, event_id: 'x' },
        { ...base, event_data: 5 },
      ]
        .map((x) => JSON.stringify(x))
        .join('\n'),
    );
    expect(r.deadLetters.map((d) => d.field)).toEqual(['event_id', 'event_data']);
    expect(r.deadLetters[1]!.reason).toBe('event_data must be an object, got a number');
  });
});

describe('windows: OTRF / NXLog flat records', () => {
  const r = load('otrf.ndjson');

  it('takes Sysmon time from UtcTime, drops collector fields, keeps event data', () => {
    const e = byRecord(r.events, '1204411');
    expect(e.time).toBe('2026-02-14T16:02:09.112Z');
    expect(e.device?.hostname).toBe('WKSTN-07.lab.internal');
    expect(e.unmapped).toMatchObject({
      CommandLine: expect.stringContaining('comsvcs.dll, MiniDump'),
      ParentImage: 'C:\\Windows\\System32\\cmd.exe',
      AccountName: 'SYSTEM',
    });
    for (const envelope of [
      '@timestamp',
      'host',
      'port',
      'tags',
      'EventReceivedTime',
      'Message',
      'Keywords',
      'EventType',
    ])
      expect(e.unmapped, envelope).not.toHaveProperty(envelope);
    expect(e.message).toContain('Process Create:');
  });

  it('maps Sysmon 10 with the source process as actor and the target as process', () => {
    const e = byRecord(r.events, '1204414');
    expect(e.class_uid).toBe(1007);
    expect(e.actor?.process).toMatchObject({ name: 'rundll32.exe', pid: 5312 });
    expect(e.process).toMatchObject({ name: 'lsass.exe', pid: 712, user: 'NT AUTHORITY\\SYSTEM' });
    expect(e.unmapped?.GrantedAccess).toBe('0x1fffff');
  });

  it("restores Sysmon EventType that the dataset renamed NXLog's around", () => {
    expect(byRecord(r.events, '1204502').unmapped).toMatchObject({ EventType: 'SetValue' });
    expect(byRecord(r.events, '1204503').unmapped).toMatchObject({ EventType: 'CreateKey' });
    expect(byRecord(r.events, '1204502').unmapped).not.toHaveProperty('EventTypeOrignal');
  });

  it('maps file, image-load and delete events with file paths and hashes', () => {
    expect(byRecord(r.events, '1204419').file).toEqual({
      path: 'C:\\Users\\Public\\lsass.dmp',
      name: 'lsass.dmp',
    });
    const load7 = byRecord(r.events, '1204530');
    expect(load7.class_uid).toBe(1005);
    expect(load7.file).toMatchObject({
      name: 'samlib.dll',
      hashes: { md5: '5C2B1A0F9E8D7C6B5A4F3E2D1C0B9A8F' },
    });
    expect(byRecord(r.events, '1204611').class_uid).toBe(1001);
  });

  it('maps 4688 with hex process ids and the lower-case security channel', () => {
    const e = byRecord(r.events, '885120');
    expect(e.class_uid).toBe(1007);
    expect(e.process).toMatchObject({
      pid: 0x14c0,
      name: 'rundll32.exe',
      parent: { pid: 0x130c, path: 'C:\\Windows\\System32\\cmd.exe' },
    });
    expect(e.actor?.user).toMatchObject({ name: 'svc-admin', domain: 'LAB' });
    expect(e.status).toBe('success');
    expect(e.metadata.log_name).toBe('Security');
    expect(e.unmapped?.Channel).toBe('Security');
  });

  it('maps account, group, task, service and firewall events', () => {
    const created = byRecord(r.events, '3301877');
    expect(created.class_uid).toBe(3001);
    expect(created.actor?.user?.name).toBe('svc-admin');
    expect(created.observables).toContainEqual({
      type: 'user',
      value: 'helpdesk2',
      name: 'unmapped.TargetUserName',
    });
    expect(byRecord(r.events, '3301880').class_uid).toBe(3006);
    expect(byRecord(r.events, '885301').class_uid).toBe(1006);
    expect(byRecord(r.events, '885322')).toMatchObject({
      class_uid: 6002,
      process: { cmd_line: '%SystemRoot%\\PSEXESVC.exe' },
    });
    const fw = byRecord(r.events, '885330');
    expect(fw.class_uid).toBe(4001);
    expect(fw.network).toEqual({ direction: 'inbound', protocol: 'tcp' });
    expect(fw.src_endpoint).toEqual({ ip: '10.40.8.99', port: 50211 });
    expect(fw.dst_endpoint).toEqual({ ip: '10.40.12.7', port: 445 });
  });

  it('keeps PowerShell script blocks with ScriptBlockText, timed by TimeCreated', () => {
    const e = r.events.find((x) => x.metadata.event_code === '4104')!;
    expect(e.time).toBe('2026-02-14T16:15:07.441Z');
    expect(e.unmapped?.ScriptBlockText).toContain('DownloadString');
    // No RecordNumber in this export: the id is a hash of the event's content.
    expect(e.source_event_id).toMatch(/^sha256:[0-9a-f]{32}$/);
  });

  it('reads audit failure from NXLog EventType and maps IPv4-mapped addresses to IPv4', () => {
    const e = r.events.find((x) => x.metadata.event_code === '4625')!;
    expect(e.status).toBe('failure');
    expect(e.src_endpoint).toEqual({ ip: '10.40.12.7', port: 51002, hostname: 'WKSTN-07' });
  });

  it('dead-letters a record without any time and one with a bad EventID', () => {
    expect(r.deadLetters.map((d) => d.field)).toEqual(['@timestamp', 'EventID']);
  });
});

describe('windows: events without a record number', () => {
  const line = otrfLines.find((l) => l.includes('"EventID":4104'))!;
  const rec = JSON.parse(line) as Record<string, unknown>;
  const idOf = (r: unknown) => source.normalise(r)[0]!.source_event_id;

  it('get a content-hash id: the same for the same event, whatever the key order and shipper fields', () => {
    const id = idOf(rec);
    expect(id).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(idOf(JSON.parse(line))).toBe(id);
    const reordered = Object.fromEntries(Object.entries(rec).reverse());
    expect(idOf(reordered)).toBe(id);
    // Fields a shipper adds or changes on the way (Logstash's @version, port, tags) are not the event.
    expect(idOf({ ...rec, '@version': '1', port: 51514, tags: ['beats'] })).toBe(id);
  });

  it('differ when anything of the event differs: data, time, host or channel', () => {
    const id = idOf(rec);
    const variants = [
      { ...rec, ScriptBlockText: `${String(rec.ScriptBlockText)} ` },
      { ...rec, TimeCreated: '2026-02-14T16:15:07.442Z' },
      { ...rec, Hostname: 'WKSTN-08.lab.internal' },
      { ...rec, Channel: 'Windows PowerShell' },
      { ...rec, EventID: 4103 },
    ];
    const ids = variants.map(idOf);
    expect(new Set([id, ...ids]).size).toBe(variants.length + 1);
  });

  it('keep the record number as the id when there is one', () => {
    expect(idOf({ ...rec, RecordNumber: 4711 })).toBe('4711');
  });
});

describe('windows: XML as JSON', () => {
  it('reads evtx dumps written as concatenated pretty-printed objects, with UserData', () => {
    const r = load('evtx.json');
    const p = byRecord(r.events, '55120');
    expect(p.time).toBe('2026-01-20T08:41:17.552Z');
    expect(p.process).toMatchObject({ pid: 9112, name: 'certutil.exe', parent: { pid: 7700 } });
    expect(p.unmapped).toMatchObject({
      Image: 'C:\\Windows\\System32\\certutil.exe',
      UserID: 'S-1-5-18',
      EventID: 1,
    });
    const cleared = byRecord(r.events, '310045');
    expect(cleared).toMatchObject({ class_uid: 1008, status: 'success', actor: { user: { name: 'dev' } } });
    const group = byRecord(r.events, '310061');
    expect(group.class_uid).toBe(3006);
    expect(r.deadLetters).toEqual([
      expect.objectContaining({ field: 'Event.System.TimeCreated.SystemTime' }),
    ]);
  });

  it('reads xmltodict-style Data lists, EventID objects and unnamed data', () => {
    const r = load('xmltodict.json');
    const logon = byRecord(r.events, '771204');
    expect(logon).toMatchObject({
      class_uid: 3002,
      status: 'success',
      actor: { user: { name: 'svc-backup', domain: 'CORP' } },
      src_endpoint: { ip: '10.40.12.7', port: 50991 },
    });
    expect(logon.unmapped).toMatchObject({ LogonType: '3', LmPackageName: 'NTLM V2', EventID: 4624 });
    const svc = byRecord(r.events, '40918');
    expect(svc.unmapped).toMatchObject({
      ServiceName: 'BTOBTO',
      UserID: 'S-1-5-21-3623811015-3361044348-30300820-1107',
    });
    expect(byRecord(r.events, '99120').unmapped).toMatchObject({
      param1: '2026-04-03T22:14:00Z',
      param2: 'RulesEngine',
    });
  });
});

describe('windows: helpers', () => {
  it('splits concatenated JSON values and refuses anything else', () => {
    expect(splitConcatenatedJson('{"a":"}{"}\n{"b":[1,{"c":"\\"}"}]}')).toEqual([
      '{"a":"}{"}',
      '{"b":[1,{"c":"\\"}"}]}',
    ]);
    expect(splitConcatenatedJson('{"a":1} x {"b":2}')).toBeUndefined();
    expect(splitConcatenatedJson('{"a":1')).toBeUndefined();
    expect(splitConcatenatedJson('"str"')).toBeUndefined();
  });

  it('refuses a body that is neither JSON nor concatenated JSON, naming the line', () => {
    expect(() => normaliseText(source, '{"EventID": 1}\n{"EventID": \n')).toThrow(/Line 2/);
  });

  it('reads audit keywords in every spelling', () => {
    expect(auditOf('0x8020000000000000')).toBe('success');
    expect(auditOf('0x8010000000000000')).toBe('failure');
    // NXLog writes keywords as a signed 64-bit decimal; JSON.parse rounds it, and the audit bits must survive that.
    expect(auditOf(JSON.parse('-9214364837600034816'))).toBe('success');
    expect(auditOf(['Audit Failure'])).toBe('failure');
    expect(auditOf('0x8000000000000000')).toBeUndefined();
  });

  it('reads pids, hashes and DNS answers', () => {
    expect([pidOf('0x1d20'), pidOf('7420'), pidOf(12), pidOf('-'), pidOf('12abc')]).toEqual([
      7456,
      7420,
      12,
      undefined,
      undefined,
    ]);
    expect(parseHashes('SHA1=AB12CD34EF56,MD5=,bogus,IMPHASH=00112233445566778899AABBCCDDEEFF')).toEqual({
      sha1: 'AB12CD34EF56',
      imphash: '00112233445566778899AABBCCDDEEFF',
    });
    expect(dnsAnswers('type:  5 a.example;::ffff:192.0.2.1;2001:db8::1;')).toEqual([
      'a.example',
      '192.0.2.1',
      '2001:db8::1',
    ]);
  });

  it('claims Windows records and not those of other sources', () => {
    expect(sniffWindows({ winlog: { event_id: 1, channel: 'x' } })).toBeGreaterThan(0.9);
    expect(sniffWindows({ Event: { System: { EventID: 1 } } })).toBeGreaterThan(0.9);
    expect(sniffWindows(JSON.parse(otrfLines[0]!))).toBeGreaterThan(0.9);
    for (const other of [
      { eventName: 'ConsoleLogin', eventSource: 'signin.amazonaws.com', eventTime: '2026-01-01T00:00:00Z' },
      { rule: { id: '60122' }, agent: { id: '001' }, data: { win: { system: { eventID: '4625' } } } },
      { timestamp: '2026-01-01T00:00:00Z', event_type: 'alert', src_ip: '10.0.0.1' },
      'Mar  9 07:02:18 host sshd[1]: x',
    ]) {
      expect(sniffWindows(other)).toBe(0);
    }
  });
});
