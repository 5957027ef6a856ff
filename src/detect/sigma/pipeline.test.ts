import { describe, expect, it } from 'vitest';
import { SourceRegistry } from '../../sources/index.ts';
import { normaliseRecords } from '../../sources/normalise.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { SigmaConfig } from './config.ts';
import { BUILTIN_PIPELINES_DIR } from './content.ts';
import { SigmaEngine } from './engine.ts';
import { FieldRegistry } from './fields.ts';
import { parseRuleText } from './files.ts';
import { loadPipelineDir, Pipelines } from './pipeline.ts';
import { RuleSet } from './ruleset.ts';

const sources = new SourceRegistry({}, silentLogger());

/** An engine over the built-in pipelines and rules given as text. */
function engine(rules: string): SigmaEngine {
  const registry = new FieldRegistry();
  const pipelines = new Pipelines(registry);
  for (const { file, doc } of loadPipelineDir(BUILTIN_PIPELINES_DIR)) pipelines.add(doc, file);
  const set = new RuleSet(pipelines, registry, { regexEngine: SigmaConfig.parse({}).regex_engine })
    .addDocs(parseRuleText(rules, 'inline.yml'))
    .finish();
  expect(set.issues.filter((i) => i.kind !== 'warning')).toEqual([]);
  return new SigmaEngine(set);
}

/** Titles of the rules matching each record, read through the named source. */
function run(e: SigmaEngine, source: string, records: unknown[]): string[][] {
  const n = normaliseRecords(
    sources.get(source),
    records.map((value) => ({ value })),
    '2024-01-01T00:00:00Z',
  );
  expect(n.errors).toEqual([]);
  return n.events.map((ev) => {
    const titles: string[] = [];
    e.matchEvent(ev, (r) => titles.push(r.title));
    return titles.sort();
  });
}

const rule = (title: string, logsource: string, detection: string) =>
  `title: ${title}\nlogsource: {${logsource}}\ndetection:\n${detection}\n  condition: sel\n`;

describe('the zeek pipeline', () => {
  const zeek = engine(
    [
      rule('zeek dns', 'product: zeek, service: dns', "  sel:\n    query|endswith: '.evil.example'"),
      rule(
        'generic dns',
        'category: dns',
        "  sel:\n    query|endswith: '.evil.example'\n    src_ip|cidr: '10.0.0.0/8'",
      ),
      rule('proxy', 'category: proxy', "  sel:\n    c-uri|contains: '/shell.php'\n    cs-method: GET"),
      rule('network', 'category: network, service: connection', '  sel:\n    destination.port: 4444'),
      rule('firewall', 'category: firewall', '  sel:\n    dst_port: 4444\n    src_ip: 10.0.0.5'),
    ].join('---\n'),
  );
  const dns = {
    _path: 'dns',
    ts: 1714640000.1,
    uid: 'CdnsA1',
    'id.orig_h': '10.0.0.5',
    'id.orig_p': 53211,
    'id.resp_h': '10.0.0.1',
    'id.resp_p': 53,
    proto: 'udp',
    query: 'c2.evil.example',
    qtype_name: 'A',
  };

  it('maps Zeek logs by log type with Zeek field names, dotted keys included', () => {
    expect(run(zeek, 'zeek', [dns, { ...dns, uid: 'CdnsA2', query: 'www.example.org' }])).toEqual([
      ['generic dns', 'zeek dns'],
      [],
    ]);
  });

  it('translates the proxy, firewall and network categories onto http and conn', () => {
    const http = {
      _path: 'http',
      ts: 1714640001.2,
      uid: 'ChttpB2',
      'id.orig_h': '10.0.0.5',
      'id.orig_p': 50000,
      'id.resp_h': '203.0.113.80',
      'id.resp_p': 80,
      method: 'GET',
      host: 'shop.example',
      uri: '/uploads/shell.php?cmd=id',
    };
    const conn = {
      _path: 'conn',
      ts: 1714640002.3,
      uid: 'CconnC3',
      'id.orig_h': '10.0.0.5',
      'id.orig_p': 50001,
      'id.resp_h': '203.0.113.44',
      'id.resp_p': 4444,
      proto: 'tcp',
    };
    expect(run(zeek, 'zeek', [http, conn])).toEqual([['proxy'], ['firewall', 'network']]);
  });
});

describe('the linux-syslog pipeline', () => {
  const linux = engine(
    [
      rule('sshd keyword', 'product: linux, service: sshd', "  sel:\n    - 'error in libcrypto'"),
      rule(
        'auth kind',
        'product: linux, service: auth',
        '  sel:\n    unmapped.auth.kind: ssh_accepted\n    User: root',
      ),
      rule('sudo only', 'product: linux, service: sudo', "  sel:\n    - 'COMMAND='"),
    ].join('---\n'),
  );

  it('selects programs by service and reads parsed auth fields and the message', () => {
    expect(
      run(linux, 'syslog', [
        'Mar  4 10:15:09 web1 sshd[1234]: Accepted publickey for root from 203.0.113.9 port 50022 ssh2',
        'Mar  4 10:15:10 web1 sshd[1235]: error: kex_exchange_identification: error in libcrypto',
        'Mar  4 10:16:00 web1 sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/id',
        'Mar  4 10:16:01 web1 cron[99]: (root) CMD (COMMAND=/bin/true)',
      ]),
    ).toEqual([['auth kind'], ['sshd keyword'], ['sudo only'], []]);
  });
});

describe('the windows pipeline', () => {
  const win = engine(
    rule(
      'encoded powershell',
      'category: process_creation, product: windows',
      "  sel:\n    Image|endswith: '\\powershell.exe'\n    ParentImage|endswith: '\\cmd.exe'\n    CommandLine|contains: ' -enc '",
    ),
  );
  const base = { Hostname: 'ws1.example.test', '@timestamp': '2024-05-02T10:00:00Z' };

  it('runs process_creation rules on Sysmon 1 and on Security 4688 with its own field names', () => {
    const sysmon = {
      ...base,
      Channel: 'Microsoft-Windows-Sysmon/Operational',
      SourceName: 'Microsoft-Windows-Sysmon',
      EventID: 1,
      RecordNumber: 11,
      Image: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      ParentImage: 'C:\\Windows\\System32\\cmd.exe',
      CommandLine: 'powershell -nop -enc SQBFAFgA',
    };
    const security = {
      ...base,
      Channel: 'Security',
      SourceName: 'Microsoft-Windows-Security-Auditing',
      EventID: 4688,
      RecordNumber: 12,
      NewProcessName: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      ParentProcessName: 'C:\\Windows\\System32\\cmd.exe',
      CommandLine: 'powershell -nop -enc SQBFAFgA',
    };
    const otherChannel = { ...security, Channel: 'System', RecordNumber: 13 };
    expect(run(win, 'windows', [sysmon, security, otherChannel])).toEqual([
      ['encoded powershell'],
      ['encoded powershell'],
      [],
    ]);
  });

  it('reports a rule once per event although several branches of the pipeline offer it the event', () => {
    const broad = engine(
      [
        rule('any windows, by field', 'product: windows', "  sel:\n    CommandLine|contains: 'WDigest'"),
        `title: any windows, by keyword\nlogsource: {product: windows}\ndetection:\n  kw:\n    - 'UseLogonCredential'\n  condition: kw\n`,
      ].join('---\n'),
    );
    const sysmon = {
      ...base,
      Channel: 'Microsoft-Windows-Sysmon/Operational',
      SourceName: 'Microsoft-Windows-Sysmon',
      EventID: 1,
      RecordNumber: 21,
      Image: 'C:\\Windows\\System32\\reg.exe',
      CommandLine:
        'reg add HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\WDigest /v UseLogonCredential /d 1',
    };
    expect(run(broad, 'windows', [sysmon])).toEqual([['any windows, by field', 'any windows, by keyword']]);
  });
});

describe('pipeline files', () => {
  it('every built-in pipeline validates and names a registered source', () => {
    const docs = loadPipelineDir(BUILTIN_PIPELINES_DIR);
    expect(docs.map((d) => d.doc.name).sort()).toEqual([
      'cloudtrail',
      'guardduty',
      'linux-syslog',
      'suricata',
      'windows',
      'zeek',
    ]);
    for (const d of docs) expect(sources.has(d.doc.source), d.doc.name).toBe(true);
  });
});
