import { basename } from 'node:path';
import type { InputDoc } from './archive.ts';
import { type FramedRecord, type Framing, frameBody } from './framing.ts';
import type { SourceRegistry } from './index.ts';

/**
 * Why a document is not ingested when no source is named:
 * - `empty`: nothing but white space;
 * - `not_telemetry`: content of a known kind that is not a log (a Sigma
 *   rule, Wazuh rules or ruleset tests, a STIX bundle, YAML metadata,
 *   documentation);
 * - `unsupported`: a format no source reads (packet captures and other
 *   binary data, CSV tables, XML);
 * - `unrecognised`: JSON or text lines that no source claims.
 */
export type SkipKind = 'empty' | 'not_telemetry' | 'unsupported' | 'unrecognised';

/** The outcome of {@link detectDoc}: the source that reads a document, or why none does. */
export type Detection =
  | { source: string; score: number }
  | { source?: undefined; kind: SkipKind; reason: string };

/** Records sniffed per framing: enough to outvote a stray line, few enough to stay fast on big files. */
const SAMPLE_RECORDS = 20;
/** Lines of the first sample: NDJSON and line formats are judged on their start. */
const SAMPLE_LINES = 50;
/** How far the structural checks and the sample cuts look. */
const HEAD_CHARS = 64 * 1024;
const CUT_SCAN_CHARS = 4 * 1024 * 1024;
/** Share of sampled records the winning source must claim, so one stray line decides nothing. */
const MIN_CLAIMED_SHARE = 0.25;

/**
 * Which source a document comes from, by content, or why no source reads
 * it. Known non-telemetry (Sigma rules, Wazuh rules and ruleset tests, STIX
 * bundles, binary data) is recognised first, by structure. Then each
 * distinct framing of the registry's sources (`json`, `lines`, and every
 * source's own framer function) cuts a sample of the document — the first
 * 50 lines, else the first top-level values of a pretty-printed sequence,
 * else the whole text — and the records it yields are offered to every
 * source's `sniff`. A record counts for the source that scores it best, and
 * only when that source frames documents that way, so a source claims a
 * document only by the records it would really receive. The best mean
 * score wins, provided its source claims at least a quarter of the sample.
 *
 * @example
 * detectDoc({ name: 'eve.json', text: eveNdjson }, registry) // { source: 'suricata', score: 0.95 }
 * detectDoc({ name: 'rule.yml', text: sigmaRule }, registry) // { kind: 'not_telemetry', reason: 'a Sigma rule …' }
 */
export function detectDoc(doc: InputDoc, registry: SourceRegistry, sample = SAMPLE_RECORDS): Detection {
  const text = doc.text;
  if (text.trim() === '') return { kind: 'empty', reason: 'the document is empty' };
  const known = knownStructure(doc);
  if (known) return known;

  const samples = sampler(text);
  const framingOf = new Map<string, Framing>();
  const framings: Framing[] = [];
  for (const type of registry.types()) {
    const f = registry.get(type).framing;
    framingOf.set(type, f);
    if (!framings.includes(f)) framings.push(f);
  }
  let jsonRecords: FramedRecord[] | undefined;
  let winner: { source: string; score: number } | undefined;
  for (const framing of framings) {
    const records = frameSample(samples, framing)?.slice(0, sample);
    if (!records || records.length === 0) continue;
    if (framing === 'json') jsonRecords = records;
    const totals = new Map<string, { score: number; claimed: number }>();
    for (const r of records) {
      const best = registry.sniff(r.value);
      if (!best || framingOf.get(best.type) !== framing) continue;
      const t = totals.get(best.type) ?? { score: 0, claimed: 0 };
      t.score += best.score;
      t.claimed++;
      totals.set(best.type, t);
    }
    for (const [type, t] of totals) {
      const mean = t.score / records.length;
      if (t.claimed / records.length < MIN_CLAIMED_SHARE) continue;
      if (!winner || mean > winner.score) winner = { source: type, score: mean };
    }
  }
  if (winner) return winner;
  return unclaimed(doc, jsonRecords);
}

/**
 * Which source a document comes from, by content; undefined when none
 * claims it (see {@link detectDoc} for the reason).
 *
 * @example detectSource({ name: 'eve.json', text: eveNdjson }, registry) // 'suricata'
 */
export function detectSource(
  doc: InputDoc,
  registry: SourceRegistry,
  sample = SAMPLE_RECORDS,
): string | undefined {
  return detectDoc(doc, registry, sample).source;
}

interface Samples {
  /** The first lines, the first top-level values of a pretty-printed sequence, the whole text; each once. */
  list: string[];
}

function sampler(text: string): Samples {
  const list: string[] = [];
  const head = firstLines(text, SAMPLE_LINES);
  list.push(head);
  const cut = topLevelCut(text, 5);
  if (cut !== undefined && cut !== head) list.push(cut);
  if (head !== text && cut !== text) list.push(text);
  return { list };
}

/** The records of the first sample the framing reads without error. */
function frameSample(samples: Samples, framing: Framing): FramedRecord[] | undefined {
  for (const s of samples.list) {
    try {
      const records = frameBody(s, framing);
      if (records.length > 0) return records;
    } catch {
      // A sample cut mid-value, or not this framing's format: try the next, larger one.
    }
  }
  return undefined;
}

function firstLines(text: string, n: number): string {
  let idx = 0;
  for (let i = 0; i < n; i++) {
    const next = text.indexOf('\n', idx);
    if (next < 0) return text;
    idx = next + 1;
  }
  return text.slice(0, idx);
}

/**
 * The text up to the end of the n-th line holding only a closing brace or
 * bracket at column 0: pretty-printers indent nested values, so such a line
 * ends a top-level value. Undefined when none is found near the start.
 */
function topLevelCut(text: string, n: number): string | undefined {
  const re = /^[}\]][ \t\r]*$/gm;
  const scan = text.length > CUT_SCAN_CHARS ? text.slice(0, CUT_SCAN_CHARS) : text;
  let end: number | undefined;
  for (let i = 0; i < n; i++) {
    const m = re.exec(scan);
    if (!m) break;
    end = m.index + m[0].length;
  }
  return end === undefined ? undefined : text.slice(0, end);
}

type Skip = { kind: SkipKind; reason: string };

/** Content of a known kind that is never telemetry, or binary data, recognised by structure. */
function knownStructure(doc: InputDoc): Skip | undefined {
  const head = doc.text.slice(0, HEAD_CHARS);
  const name = doc.name.toLowerCase();
  if (
    head.startsWith('\n\r\r\n') ||
    /\.(pcap|pcapng|cap)$/.test(name) ||
    head.startsWith('\uFFFD\uFFFD\u00F2\uFFFD')
  ) {
    if (head.includes('\u0000'))
      return {
        kind: 'unsupported',
        reason: 'a packet capture (pcap): run it through Zeek or Suricata and ingest their logs',
      };
  }
  if (head.includes('\u0000')) return { kind: 'unsupported', reason: 'binary data, not a text log' };
  if (/^title:[ \t]*\S/m.test(head) && /^logsource:/m.test(head) && /^detection:/m.test(head))
    return {
      kind: 'not_telemetry',
      reason: 'a Sigma rule (YAML): detection content, not telemetry (aisoc rules lint checks rules)',
    };
  if (/^\s*\{/.test(head) && /"type"\s*:\s*"bundle"/.test(head) && /"objects"\s*:\s*\[/.test(head))
    return {
      kind: 'not_telemetry',
      reason:
        'a STIX bundle (threat intelligence such as MITRE ATT&CK), not telemetry (aisoc kb load --attack <file> loads ATT&CK)',
    };
  // XML starts with a declaration, a comment or a tag; a syslog <PRI> is digits, which no tag name starts with.
  if (/^\s*(<\?xml|<!--|<[A-Za-z_])/.test(head)) {
    if (/<group\s+name=/.test(head) && /<rule\s+id=/.test(head))
      return { kind: 'not_telemetry', reason: 'Wazuh rules (XML): detection content, not telemetry' };
    if (/<decoder\s+name=/.test(head))
      return { kind: 'not_telemetry', reason: 'Wazuh decoders (XML): parser configuration, not telemetry' };
    return { kind: 'unsupported', reason: 'an XML document; no source reads XML' };
  }
  // Cases commented out with `;` are still test cases (some files hold nothing else).
  if (/^;?[ \t]*\[[^\]\n]+\][ \t\r]*$/m.test(head) && /^;?[ \t]*log \d+ (pass|fail) =/m.test(head))
    return {
      kind: 'not_telemetry',
      reason: 'Wazuh ruleset test cases (INI): sample log lines with the rules they must fire, not a log',
    };
  return undefined;
}

/** Why no source claims a document: its format when it has a recognisable one, else what it starts with. */
function unclaimed(doc: InputDoc, jsonRecords: FramedRecord[] | undefined): Skip {
  const base = basename(doc.name.slice(doc.name.lastIndexOf('!') + 1)).toLowerCase();
  if (
    /^(readme|licen[cs]e|copying|notice|changelog|authors)([.-].*)?$/.test(base) ||
    /\.(md|markdown|rst)$/.test(base)
  )
    return { kind: 'not_telemetry', reason: 'documentation (README, licence or Markdown), not telemetry' };
  if (jsonRecords && jsonRecords.length > 0) {
    const first = jsonRecords[0]!.value;
    const shape =
      typeof first === 'object' && first !== null && !Array.isArray(first)
        ? `first record's keys: ${Object.keys(first).slice(0, 6).join(', ') || 'none'}`
        : `first record: a ${Array.isArray(first) ? 'array' : typeof first}`;
    return {
      kind: 'unrecognised',
      reason: `JSON that no source recognises (${shape}); pass --source to choose one`,
    };
  }
  const lines = significantLines(doc.text, 10);
  const csv = csvHeader(lines);
  if (csv)
    return {
      kind: 'unsupported',
      reason: `a CSV table (${csv.length} columns: ${csv.slice(0, 5).join(', ')}${csv.length > 5 ? ', …' : ''}); no source reads CSV`,
    };
  if (looksLikeYaml(lines))
    return { kind: 'not_telemetry', reason: 'a YAML document (metadata or configuration), not telemetry' };
  const firstLine = (lines[0] ?? '').slice(0, 80);
  return {
    kind: 'unrecognised',
    reason: `text that no source recognises (first line: ${JSON.stringify(firstLine)}); pass --source to choose one`,
  };
}

/** The first non-blank lines that are not `#` comments. */
function significantLines(text: string, n: number): string[] {
  const out: string[] = [];
  let idx = 0;
  while (out.length < n && idx < text.length && idx < HEAD_CHARS) {
    let next = text.indexOf('\n', idx);
    if (next < 0) next = text.length;
    const line = text.slice(idx, next).replace(/\r$/, '');
    if (line.trim() !== '' && !line.startsWith('#')) out.push(line);
    idx = next + 1;
  }
  return out;
}

/** Split a CSV line on commas outside double quotes (RFC 4180 quoting). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * The header of a CSV table: a first line of at least three named columns,
 * and following lines with as many fields. Undefined otherwise.
 */
function csvHeader(lines: string[]): string[] | undefined {
  if (lines.length < 2) return undefined;
  const header = csvFields(lines[0]!).map((h) => h.trim());
  if (header.length < 3 || header.some((h) => h === '' || /^-?\d+(\.\d+)?$/.test(h))) return undefined;
  const rows = lines.slice(1, 5);
  return rows.every((l) => csvFields(l).length === header.length) ? header : undefined;
}

/** YAML mappings and sequences: `key: value`, `key:`, `- item`, `---`, and indented continuations. */
function looksLikeYaml(lines: string[]): boolean {
  if (lines.length === 0 || !/^(---\s*$|[A-Za-z_][\w.-]*:(\s|$))/.test(lines[0]!)) return false;
  const yamlish = lines.filter((l) =>
    /^(---|\.\.\.)\s*$|^\s*- |^\s*[A-Za-z_"'][\w .'"-]*:(\s|$)|^\s+\S/.test(l),
  );
  return yamlish.length / lines.length >= 0.8;
}
