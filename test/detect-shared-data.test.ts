import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { glob } from 'tinyglobby';
import { afterAll, describe, expect, it } from 'vitest';
import { AisocError } from '../src/errors.ts';
import { type InputDoc, readInputDocs } from '../src/sources/archive.ts';
import { type Detection, detectDoc } from '../src/sources/classify.ts';
import { SourceRegistry } from '../src/sources/index.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { sharedData } from './helpers/data.ts';
import { tempDir } from './helpers/runtime.ts';

/**
 * Source detection on every file of ../shared/data: telemetry is attributed
 * to the source that reads it, everything else is reported with the reason
 * it is not read. The table below is the expectation, written from what the
 * files are (see ../shared/data/README.md), not from what detection says.
 */

type Expect =
  | { source: string }
  | { kind: 'empty' | 'not_telemetry' | 'unsupported' | 'unrecognised'; reason: RegExp };

/**
 * Files that are telemetry no source reads correctly yet. Each names what it
 * should be and what detection says today, so the test fails (and this
 * entry goes) the day the gap is closed.
 */
interface Gap {
  should: string;
  today: string;
  why: string;
}

/** Path patterns (relative to ../shared/data), first match wins. Every file must match one. */
const TABLE: Array<[RegExp, Expect | Gap]> = [
  // Telemetry.
  [/^cloudtrail\/stratus-detonation\/[^/]+\.json$/, { source: 'cloudtrail' }],
  [/^cloudtrail\/invictus\/[^/]+\.json$/, { source: 'cloudtrail' }],
  [/^cloudtrail\/otrf\/ec2_proxy_s3_exfiltration\.zip$/, { source: 'cloudtrail' }],
  [/^guardduty\/[^/]+\.json$/, { source: 'guardduty' }],
  [/^suricata\/[^/]+\/alerts-only\.json$/, { source: 'suricata' }],
  [/^zeek\/[^/]+\.json\.gz$/, { source: 'zeek' }],
  // OTRF network datasets are packet captures (zipped .pcapng, or a bare .cap).
  [
    /^windows\/otrf\/atomic\/windows\/[^/]+\/network\/[^/]+\.(zip|cap)$/,
    { kind: 'unsupported', reason: /packet capture/ },
  ],
  [
    /^windows\/otrf\/atomic\/windows\/credential_access\/network\/purplesharp_[^/]+\.json$/,
    { kind: 'empty', reason: /empty/ },
  ],
  [/^windows\/otrf\/atomic\/windows\/.+\.zip$/, { source: 'windows' }],
  // The 2019 datasets: NXLog exports and winlogbeat 6 (pre-ECS: top-level event_id, log_name, event_data).
  [/^windows\/otrf\/atomic\/windows\/.+\.tar\.gz$/, { source: 'windows' }],
  [/^sigma\/regression\/.+\.json$/, { source: 'windows' }],
  [
    /^sigma\/regression\/.+\.raw$/,
    {
      should: 'syslog',
      today: 'unrecognised',
      why: 'a Cisco IOS message as relayed ("172.16.5.10 6705: Feb 17 13:40:03.673: %PARSER-5-…"): the syslog source reads neither its sequence-number prefix nor its timestamp',
    },
  ],
  // Not telemetry.
  [/^sigma\/rules[^/]*\/.+\.yml$/, { kind: 'not_telemetry', reason: /Sigma rule/ }],
  [/^sigma\/regression\/.+\/info\.yml$/, { kind: 'not_telemetry', reason: /YAML/ }],
  [/^windows\/otrf\/atomic\/_metadata\/[^/]+\.yaml$/, { kind: 'not_telemetry', reason: /YAML/ }],
  [/^cloudtrail\/stratus-detonation\/index\.yaml$/, { kind: 'not_telemetry', reason: /YAML/ }],
  [/^attack\/(enterprise|mobile|ics)-attack\.json$/, { kind: 'not_telemetry', reason: /STIX bundle/ }],
  [/^wazuh\/ruleset\/rules\/[^/]+\.xml$/, { kind: 'not_telemetry', reason: /Wazuh rules/ }],
  [
    /^wazuh\/ruleset\/testing\/tests\/[^/]+\.ini$/,
    { kind: 'not_telemetry', reason: /Wazuh ruleset test cases/ },
  ],
  [/(^|\/)(README|LICENSE)[^/]*$|\.md$/, { kind: 'not_telemetry', reason: /documentation/ }],
  [/^netflow\/[^/]+\.csv$/, { kind: 'unsupported', reason: /CSV table \(91 columns/ }],
  // Honey-bucket alerts exported as CSV (CloudTrail S3 data-event fields with the honeypot's own columns): no log format.
  [
    /^cloudtrail\/otrf\/aws_s3_honeybucketlogs\.zip$/,
    { kind: 'unsupported', reason: /CSV table \(12 columns: Event Type/ },
  ],
  [/^text2ttp\/[^/]+\.jsonl?$/, { kind: 'unrecognised', reason: /JSON that no source recognises/ }],
  [
    /^suricata\/[^/]+\/(ids|signature)-list\.txt$/,
    { kind: 'unrecognised', reason: /text that no source recognises/ },
  ],
];

const registry = new SourceRegistry({}, silentLogger());

/** What detection says of a document, in the terms of the table. */
function said(d: Detection): string {
  return d.source ?? d.kind;
}

/**
 * Detect on the first MiB of each document; a document cut short that no
 * source claims (a single JSON value larger than the sample) is read whole.
 */
function detectFile(path: string): Array<{ doc: InputDoc; detection: Detection }> {
  const sampled = readInputDocs(path, { sampleBytes: 1024 * 1024 });
  if (sampled.some((d) => d.truncated && detectDoc(d, registry).source === undefined)) {
    return readInputDocs(path).map((doc) => ({ doc, detection: detectDoc(doc, registry) }));
  }
  return sampled.map((doc) => ({ doc, detection: detectDoc(doc, registry) }));
}

const root = sharedData();

describe.skipIf(!root)('source detection on every file of ../shared/data', async () => {
  const files = root ? (await glob('**/*', { cwd: root, onlyFiles: true })).sort() : [];
  const groups = new Map<string, string[]>();
  for (const f of files) {
    const top = f.includes('/') ? f.slice(0, f.indexOf('/')) : '.';
    groups.set(top, [...(groups.get(top) ?? []), f]);
  }
  const checked = { telemetry: 0, other: 0, gaps: 0 };

  it('finds the data', () => {
    expect(files.length).toBeGreaterThan(4000);
  });

  for (const [top, group] of groups) {
    it(`${top}: ${group.length} files detected as the table says`, { timeout: 300_000 }, () => {
      const wrong: string[] = [];
      for (const rel of group) {
        const entry = TABLE.find(([re]) => re.test(rel));
        if (!entry) {
          wrong.push(`${rel}: no expectation in the table (add one)`);
          continue;
        }
        const want = entry[1];
        for (const { doc, detection } of detectFile(join(root!, rel))) {
          const name = relative(root!, doc.name);
          const got = detection.source ?? `${detection.kind}: ${detection.reason}`;
          if ('should' in want) {
            checked.gaps++;
            if (said(detection) !== want.today)
              wrong.push(`${name}: gap entry says ${want.today}, got ${got}`);
          } else if ('source' in want) {
            checked.telemetry++;
            if (detection.source !== want.source) wrong.push(`${name}: want ${want.source}, got ${got}`);
          } else {
            checked.other++;
            if (
              detection.source !== undefined ||
              detection.kind !== want.kind ||
              !want.reason.test(detection.reason)
            )
              wrong.push(`${name}: want ${want.kind} (${want.reason}), got ${got}`);
          }
        }
      }
      expect(wrong).toEqual([]);
    });
  }

  it('covered telemetry and non-telemetry alike', () => {
    // Documents, not files: archives hold one or more.
    expect(checked.telemetry).toBeGreaterThan(250);
    expect(checked.other).toBeGreaterThan(4000);
  });
});

describe('detection by structure and by each source own framer', () => {
  const doc = (text: string, name = 'input') => ({ name, text });

  it('reads pretty-printed Windows events written one after another with the windows framer', () => {
    const event = (id: number) =>
      JSON.stringify(
        {
          Event: {
            System: {
              Provider: { '#attributes': { Name: 'Microsoft-Windows-Sysmon' } },
              EventID: 1,
              EventRecordID: id,
              Channel: 'Microsoft-Windows-Sysmon/Operational',
              Computer: 'ws-01',
              TimeCreated: { '#attributes': { SystemTime: '2025-10-24T23:34:34.640670Z' } },
            },
            EventData: { Image: 'C:\\Windows\\System32\\cmd.exe' },
          },
        },
        null,
        2,
      );
    // More than the 50-line first sample, so the cut at top-level closing braces is what makes it readable.
    const text = [1, 2, 3, 4, 5, 6, 7].map(event).join('\n');
    expect(text.split('\n').length).toBeGreaterThan(50);
    expect(detectDoc(doc(text), registry)).toMatchObject({ source: 'windows' });
  });

  it('tells a syslog <PRI> from XML, and XML from Wazuh rules', () => {
    expect(
      detectDoc(doc('<34>Oct 11 22:14:15 mymachine su: su root failed on /dev/pts/8\n'), registry),
    ).toMatchObject({
      source: 'syslog',
    });
    expect(detectDoc(doc('<events><event id="1"/></events>\n'), registry)).toMatchObject({
      kind: 'unsupported',
      reason: expect.stringContaining('XML'),
    });
    expect(
      detectDoc(doc('<group name="sshd,">\n  <rule id="5700" level="0">\n  </rule>\n</group>\n'), registry),
    ).toMatchObject({ kind: 'not_telemetry', reason: expect.stringContaining('Wazuh rules') });
  });

  it('reports Sigma rules, STIX bundles, CSV tables, binary data and empty documents with their reason', () => {
    const sigma =
      'title: Whoami\nid: 1\nlogsource:\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: whoami.exe\n  condition: sel\n';
    expect(detectDoc(doc(sigma), registry)).toMatchObject({
      kind: 'not_telemetry',
      reason: expect.stringContaining('Sigma rule'),
    });
    expect(detectDoc(doc('{"type": "bundle", "id": "bundle--1", "objects": []}'), registry)).toMatchObject({
      kind: 'not_telemetry',
      reason: expect.stringContaining('STIX'),
    });
    expect(detectDoc(doc('a,b,c\n1,2,3\n4,5,6\n'), registry)).toMatchObject({
      kind: 'unsupported',
      reason: expect.stringContaining('CSV table (3 columns: a, b, c)'),
    });
    expect(detectDoc(doc('\u0000\u0001\u0002garbage'), registry)).toMatchObject({ kind: 'unsupported' });
    expect(detectDoc(doc(' \n\n'), registry)).toMatchObject({ kind: 'empty' });
    expect(detectDoc(doc('{"text": "a sentence", "label": "T1003"}\n'), registry)).toMatchObject({
      kind: 'unrecognised',
      reason: expect.stringContaining('keys: text, label'),
    });
  });

  it('does not let one stray line decide: a source must claim a quarter of the sample', () => {
    const prose = ['Notes from the incident review.', 'Oct 11 22:14:15 host sshd[1]: one quoted log line'];
    for (let i = 0; i < 10; i++) prose.push(`Paragraph ${i} says nothing a log would.`);
    expect(detectDoc(doc(prose.join('\n')), registry).source).toBeUndefined();
  });
});

describe('reading archives and samples', () => {
  const { dir, cleanup } = tempDir('aisoc-read-');
  afterAll(cleanup);
  const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ n: i, pad: 'x'.repeat(100) })).join(
    '\n',
  );

  it('reads .tar.gz archives entry by entry, long names included', () => {
    const src = join(dir, 'tree');
    const long = `${'d'.repeat(60)}/${'f'.repeat(90)}.json`;
    mkdirSync(join(src, 'd'.repeat(60)), { recursive: true });
    writeFileSync(join(src, 'a.json'), '{"a": 1}\n');
    writeFileSync(join(src, long), '{"b": 2}\n');
    const archive = join(dir, 'both.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', src, 'a.json', long]);
    const docs = readInputDocs(archive);
    expect(docs.map((d) => d.name.slice(d.name.indexOf('!') + 1))).toEqual(['a.json', long]);
    expect(docs.map((d) => d.text)).toEqual(['{"a": 1}\n', '{"b": 2}\n']);
  });

  it('accepts a gzip member followed by padding bytes, and refuses a gzip cut short', () => {
    const gz = gzipSync(Buffer.from(lines));
    writeFileSync(join(dir, 'padded.json.gz'), Buffer.concat([gz, Buffer.from('\n')]));
    expect(readInputDocs(join(dir, 'padded.json.gz'))[0]!.text).toBe(lines);
    writeFileSync(join(dir, 'cut.json.gz'), gz.subarray(0, gz.length - 100));
    let error: unknown;
    try {
      readInputDocs(join(dir, 'cut.json.gz'));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AisocError);
    expect((error as AisocError).code).toBe('AISOC_ERR_BAD_ENCODING');
    expect((error as AisocError).field).toContain('cut.json.gz');
  });

  it('samples the start of plain, gzip and zip documents, cut at a line end', () => {
    writeFileSync(join(dir, 'plain.json'), lines);
    writeFileSync(join(dir, 'gz.json.gz'), gzipSync(Buffer.from(lines)));
    writeFileSync(join(dir, 'z.zip'), zipSync({ 'in.json': new TextEncoder().encode(lines) }));
    for (const f of ['plain.json', 'gz.json.gz', 'z.zip']) {
      const [d] = readInputDocs(join(dir, f), { sampleBytes: 10_000 });
      expect(d!.truncated, f).toBe(true);
      expect(d!.text.length, f).toBeLessThanOrEqual(10_000);
      expect(lines.startsWith(d!.text), f).toBe(true);
      expect(d!.text.endsWith('\n'), f).toBe(true);
      const whole = readInputDocs(join(dir, f), { sampleBytes: 10_000_000 });
      expect(whole[0]!.truncated, f).toBeUndefined();
      expect(whole[0]!.text, f).toBe(lines);
    }
  });
});
