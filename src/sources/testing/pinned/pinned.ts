import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { SHARED_DATA } from '../../../../test/helpers/data.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { readInputDocs } from '../../archive.ts';
import { frameBody } from '../../framing.ts';
import { SourceRegistry } from '../../index.ts';
import { normaliseRecords } from '../../normalise.ts';

/** The sources whose normalisation is pinned (those `npm run bench -- normalise` measures). */
export const PINNED_SOURCES = ['cloudtrail', 'suricata', 'zeek', 'windows'] as const;
export type PinnedSource = (typeof PINNED_SOURCES)[number];

const INGESTED_AT = '2030-01-01T00:00:00.000Z';
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function pinnedExpectedPath(name: PinnedSource): string {
  return join(import.meta.dirname, `${name}.expected.json`);
}

function files(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...files(p, suffix));
    else if (entry.endsWith(suffix)) out.push(p);
  }
  return out;
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/**
 * The records of a source sampled from the public data in ../shared/data,
 * as NDJSON text: the data is read where it is, never copied into the
 * repository (only digests of what normalisation makes of it are pinned).
 */
export function sampledInput(name: PinnedSource): string {
  // CloudTrail: every 40th record of the Invictus file, in its envelope (one line: pinned.ts adds more).
  const ct = JSON.parse(readFileSync(join(SHARED_DATA, 'cloudtrail/invictus/records-dev.json'), 'utf8')) as {
    Records: Array<Record<string, unknown>>;
  };
  const ctRecords: unknown[] = ct.Records.filter((_, i) => i % 40 === 0);
  if (name === 'cloudtrail') return `${JSON.stringify({ Records: ctRecords })}\n`;

  // Suricata: every 8th alert of each capture (JSON arrays), as NDJSON.
  const su: string[] = [];
  for (const f of files(join(SHARED_DATA, 'suricata'), 'alerts-only.json'))
    su.push(
      ...(JSON.parse(readFileSync(f, 'utf8')) as unknown[])
        .filter((_, i) => i % 8 === 0)
        .map((r) => JSON.stringify(r)),
    );
  if (name === 'suricata') return `${su.join('\n')}\n`;

  // Zeek: the first 6 and 4 more records of each log.
  const zk: string[] = [];
  for (const f of files(join(SHARED_DATA, 'zeek'), '.json.gz')) {
    const ls = lines(gunzipSync(readFileSync(f)).toString('utf8'));
    const step = Math.max(1, Math.floor(ls.length / 4));
    zk.push(...ls.slice(0, 6), ...ls.filter((_, i) => i > 6 && i % step === 0).slice(0, 4));
  }
  if (name === 'zeek') return `${zk.join('\n')}\n`;

  // Windows: per archive, the first record of each new (Channel, EventID) pair.
  const win: string[] = [];
  const seen = new Set<string>();
  for (const zip of files(join(SHARED_DATA, 'windows'), '.zip')) {
    for (const doc of readInputDocs(zip)) {
      for (const l of lines(doc.text)) {
        let r: Record<string, unknown>;
        try {
          r = JSON.parse(l) as Record<string, unknown>;
        } catch {
          continue;
        }
        const key = `${String(r.Channel)}|${String(r.EventID)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        win.push(l.trim());
      }
    }
  }
  return `${win.join('\n')}\n`;
}

/** A text above the default field limit (64 KiB). */
const LONG = 'x'.repeat(70_000);
/** A text that makes its record larger than the default raw limit (1 MiB). */
const HUGE = 'y'.repeat(1_100_000);

/** A value nesting deeper than the framing's limit. */
function deep(): unknown {
  let v: unknown = { leaf: 1 };
  for (let i = 0; i < 70; i++) v = { n: v };
  return v;
}

/** Edge cases, as NDJSON lines, made from the first record of the sampled input. */
function edgeLines(name: PinnedSource, firstLine: string): string[] {
  const json = (v: unknown) => JSON.stringify(v);
  if (name === 'cloudtrail') {
    const first = (JSON.parse(firstLine) as { Records: Array<Record<string, unknown>> }).Records[0]!;
    return [
      json({
        Records: [
          { ...first, userAgent: LONG, eventID: 'pinned-long-ua' },
          { ...first, requestParameters: { blob: HUGE }, eventID: 'pinned-huge' },
          { ...first, eventID: undefined, eventTime: undefined },
          { eventName: 42 },
          'not a record',
        ],
      }),
      json({ Records: [{ ...first, eventID: 'pinned-deep', requestParameters: deep() }] }),
      json({ ...first, eventID: 'pinned-bare' }),
      json({ Records: [] }),
    ];
  }
  const first = JSON.parse(firstLine) as Record<string, unknown>;
  const common = [
    json({ ...first, Extra: deep() }),
    json({ ...first, big: HUGE }),
    json({ ...first, [`k${LONG}`]: 1 }),
    json([first, first]),
    '"just a string"',
    json({ hello: 'world' }),
  ];
  if (name === 'suricata')
    return [
      ...common,
      json({ ...first, http: { hostname: LONG, url: '/' }, event_type: 'http' }),
      json({ ...first, flow_id: undefined }),
      json({ event_type: 'alert' }),
      json({ ...first, event_type: 'stats' }),
      json({ ...first, timestamp: 'not a time' }),
    ];
  if (name === 'zeek')
    return [
      ...common,
      json({ ...first, _path: 'http', host: LONG, uri: '/' }),
      json({ ...first, uid: undefined }),
      json({ ...first, ts: 'not a time' }),
      json({ ...first, _path: 'stats' }),
    ];
  return [
    ...common,
    json({ ...first, CommandLine: LONG }),
    json({ ...first, RecordNumber: undefined, EventRecordID: undefined }),
    json({ ...first, EventID: 'nope' }),
    json({ ...first, EventTime: 'not a time', TimeCreated: undefined }),
  ];
}

/** The pinned input of a source: the sampled records, then the edge cases. */
export function pinnedText(name: PinnedSource): string {
  const text = sampledInput(name);
  const firstLine = text.slice(0, text.indexOf('\n'));
  return `${text}${edgeLines(name, firstLine).join('\n')}\n`;
}

/**
 * What ingestion makes of a source's pinned input (framing, then
 * `normaliseRecords` in batches of 1,000 as the CLI runs it), as JSON: the
 * events whole (raw included), dead letters, errors and counts. A random
 * id (an event without a source id) becomes `<uuidv7>` once checked to be one.
 */
export function pinnedResult(name: PinnedSource): unknown {
  const source = new SourceRegistry({}, silentLogger()).get(name);
  const framed = frameBody(pinnedText(name), source.framing);
  const out: unknown[] = [];
  for (let i = 0; i < framed.length; i += 1000) {
    const r = normaliseRecords(source, framed.slice(i, i + 1000), INGESTED_AT);
    for (const e of r.events) if (!e.source_event_id && UUIDV7.test(e.id)) e.id = '<uuidv7>';
    out.push(r);
  }
  return JSON.parse(JSON.stringify(out));
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** What is pinned: the digest of the sampled input, and per batch of the rest and of each event, as JSON text. */
export interface PinnedDigests {
  input: string;
  batches: Array<{ rest: string; events: string[] }>;
}

/** The digests of {@link pinnedResult} (key order counts: they are of the JSON text). */
export function pinnedDigests(name: PinnedSource): PinnedDigests {
  const batches = pinnedResult(name) as Array<{ events: unknown[] } & Record<string, unknown>>;
  return {
    input: sha(sampledInput(name)),
    batches: batches.map(({ events, ...rest }) => ({
      rest: sha(JSON.stringify(rest)),
      events: events.map((e) => sha(JSON.stringify(e))),
    })),
  };
}
