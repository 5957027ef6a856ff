import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { AisocError } from '../errors.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import { SourceRegistry } from '../sources/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { type ReplayDetector, type ReplayInput, type ReplayItem, replay, replaySync } from './replay.ts';
import { SigmaConfig } from './sigma/config.ts';
import { buildSigma, sigmaDetector } from './sigma/index.ts';
import type { AlertCandidate } from './types.ts';
import { upstreamDetector } from './upstream.ts';

const dir = mkdtempSync(join(tmpdir(), 'aisoc-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sources = new SourceRegistry({}, silentLogger());

/** A CloudTrail record; `eventName` decides what our rules make of it. */
function record(id: number, eventName: string, time = `2024-05-02T09:00:${String(id).padStart(2, '0')}Z`) {
  return {
    eventVersion: '1.08',
    eventID: `5e0c1f1a-0000-4000-8000-0000000000${String(id).padStart(2, '0')}`,
    eventTime: time,
    eventSource: eventName === 'StopLogging' ? 'cloudtrail.amazonaws.com' : 's3.amazonaws.com',
    eventName,
    awsRegion: 'eu-west-1',
    sourceIPAddress: '203.0.113.7',
    recipientAccountId: '111122223333',
    userIdentity: { type: 'IAMUser', accountId: '111122223333', userName: 'mallory' },
    requestParameters: { name: 'main' },
  };
}

function file(name: string, body: string | Buffer | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

const ndjson = (...records: unknown[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;

/** Every event id a detector was handed, per call. */
function recorder(): ReplayDetector<string> & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    name: 'recorder',
    calls,
    detect(events) {
      calls.push(events.map((e) => e.source_event_id ?? ''));
      return [];
    },
  };
}

const kinds = <A>(items: ReplayItem<A>[]) => items.map((i) => `${i.kind} ${i.file.slice(dir.length + 1)}`);

describe('replay', () => {
  it('reads several files, gzip and zip entries included, one document after another', () => {
    const plain = file('a.json', ndjson(record(1, 'ListBuckets'), record(2, 'ListBuckets')));
    const gz = file('b.json.gz', gzipSync(ndjson(record(3, 'ListBuckets'))));
    const zip = file(
      'c.zip',
      zipSync({
        'one.json': new TextEncoder().encode(ndjson(record(4, 'ListBuckets'))),
        'two.json': new TextEncoder().encode(JSON.stringify({ Records: [record(5, 'ListBuckets')] })),
      }),
    );
    const run = replaySync([plain, gz, zip], { sources });
    const items = [...run];
    expect(kinds(items)).toEqual([
      'document a.json',
      'events a.json',
      'document b.json.gz',
      'events b.json.gz',
      'document c.zip!one.json',
      'events c.zip!one.json',
      'document c.zip!two.json',
      'events c.zip!two.json',
    ]);
    expect(items.filter((i) => i.kind === 'document').map((i) => i.source)).toEqual([
      'cloudtrail',
      'cloudtrail',
      'cloudtrail',
      'cloudtrail',
    ]);
    expect(run.counts).toMatchObject({ files: 3, documents: 4, events: 5, skipped: 0, deadLetters: 0 });
  });

  it('skips what it cannot read or no source claims, with the reason, and goes on', () => {
    const rule = file(
      'rule.yml',
      'title: Whoami\nlogsource:\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: whoami.exe\n  condition: sel\n',
    );
    const cut = file('cut.json.gz', gzipSync(ndjson(record(1, 'ListBuckets'))).subarray(0, 20));
    const good = file('good.json', ndjson(record(2, 'ListBuckets')));
    const run = replaySync([rule, join(dir, 'missing.json'), cut, good], { sources });
    const items = [...run];
    const skipped = items.filter((i) => i.kind === 'skipped');
    expect(skipped).toEqual([
      { kind: 'skipped', file: rule, step: 'source', reason: expect.stringContaining('a Sigma rule') },
      {
        kind: 'skipped',
        file: join(dir, 'missing.json'),
        step: 'read',
        reason: expect.stringContaining('ENOENT'),
      },
      { kind: 'skipped', file: cut, step: 'read', reason: expect.stringContaining('is not valid gzip') },
    ]);
    expect(kinds(items).slice(-2)).toEqual(['document good.json', 'events good.json']);
    expect(run.counts).toMatchObject({ files: 4, documents: 2, skipped: 3, events: 1 });
  });

  it('names a source that does not exist as the reason a document is skipped', () => {
    const items = [...replaySync([{ name: 'mem', source: 'nosuch', records: [{}] }], { sources })];
    expect(items).toEqual([
      { kind: 'skipped', file: 'mem', step: 'frame', reason: expect.stringContaining('nosuch') },
    ]);
  });

  it('makes a bad record a dead letter and detects on the rest', () => {
    const { engine } = buildSigma(SigmaConfig.parse({}));
    const mixed = join(import.meta.dirname, 'sigma/fixtures/cloudtrail-mixed.json');
    const run = replaySync([mixed], { sources, detectors: [sigmaDetector(engine)] });
    const items = [...run];
    const doc = items.find((i) => i.kind === 'document')!;
    expect(doc).toMatchObject({ source: 'cloudtrail', received: 4, normalised: 3 });
    expect(doc.kind === 'document' && doc.deadLetters).toEqual([
      expect.objectContaining({ source: 'cloudtrail', stage: 'normalise', record: '{"eventName":17}' }),
    ]);
    expect(doc.kind === 'document' && doc.errors[0]?.at).toBe('[0][2]');
    const titles = items.flatMap((i) => (i.kind === 'alert' ? [i.alert.detection.rule_title] : []));
    expect(titles.sort()).toEqual([
      'Administrator policy attached to an IAM identity',
      'CloudTrail trail stopped or deleted',
    ]);
    expect(run.counts).toMatchObject({ events: 3, deadLetters: 1, alerts: 2 });
  });

  it('runs the pipeline detectors as they are: a rule of our pack raises its alert, with the file it came from', async () => {
    const { engine } = buildSigma(SigmaConfig.parse({}));
    const stop = file('stop.json', ndjson(record(1, 'ListBuckets'), record(2, 'StopLogging')));
    const found: Array<{ file: string; detector: string; alert: AlertCandidate }> = [];
    for await (const item of replay([stop], {
      sources,
      detectors: [upstreamDetector(), sigmaDetector(engine)],
    }))
      if (item.kind === 'alert') found.push(item);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ file: stop, detector: 'sigma' });
    expect(found[0]!.alert.detection).toMatchObject({
      engine: 'sigma',
      rule_title: 'CloudTrail trail stopped or deleted',
      level: 'high',
    });
    expect(found[0]!.alert.events.map((e) => e.source_event_id)).toEqual([
      '5e0c1f1a-0000-4000-8000-000000000002',
    ]);
  });

  it('streams: what the first input yields arrives before the second input is read', async () => {
    const { engine } = buildSigma(SigmaConfig.parse({}));
    const first = file('first.json', ndjson(record(1, 'StopLogging')));
    const second = join(dir, 'second.json');
    const log: string[] = [];
    function* inputs(): Generator<ReplayInput> {
      log.push('read first');
      yield first;
      // Written only now: a replay that read its inputs up front would find no file here.
      writeFileSync(second, ndjson(record(2, 'StopLogging')));
      log.push('read second');
      yield second;
    }
    for await (const item of replay(inputs(), { sources, detectors: [sigmaDetector(engine)] }))
      if (item.kind === 'alert') log.push(`alert from ${item.file === first ? 'first' : 'second'}`);
    expect(log).toEqual(['read first', 'alert from first', 'read second', 'alert from second']);
  });

  it('holds to the order, the batch size and the selection asked for, and flushes once at the end', () => {
    const late = record(1, 'ListBuckets', '2024-05-02T10:00:00Z');
    const early = record(2, 'ListBuckets', '2024-05-02T09:00:00Z');
    const other = record(3, 'GetObject', '2024-05-02T09:30:00Z');
    const input = { name: 'mem', source: 'cloudtrail', records: [late, early, other] };
    const ids = (r: { eventID: string }) => r.eventID;

    const byTime = recorder();
    [...replaySync([input], { sources, detectors: [byTime] })];
    expect(byTime.calls).toEqual([[early, other, late].map(ids)]);

    const asGiven = recorder();
    [...replaySync([input], { sources, detectors: [asGiven], order: 'input', batchSize: 2 })];
    expect(asGiven.calls).toEqual([[late, early].map(ids), [other].map(ids)]);

    const selected = recorder();
    [
      ...replaySync([input], {
        sources,
        detectors: [selected],
        select: (e) => e.activity_name !== 'GetObject',
      }),
    ];
    expect(selected.calls).toEqual([[early, late].map(ids)]);

    const hooks: ReplayDetector<string> = {
      name: 'hooks',
      detect: () => ['batch'],
      endDocument: () => ['end of document'],
      flush: () => ['end of input'],
    };
    const items = [...replaySync([input, { ...input, name: 'mem2' }], { sources, detectors: [hooks] })];
    expect(items.flatMap((i) => (i.kind === 'alert' ? [`${i.alert} (${i.file})`] : []))).toEqual([
      'batch (mem)',
      'end of document (mem)',
      'batch (mem2)',
      'end of document (mem2)',
      'end of input (mem2)',
    ]);
  });

  it('skips the event a detector fails on, reports it, and keeps the rest of the batch', () => {
    const failing: ReplayDetector<string> = {
      name: 'picky',
      detect(events: NormalisedEvent[]) {
        if (events.some((e) => e.activity_name === 'GetObject')) throw new Error('cannot read GetObject');
        return events.map((e) => e.source_event_id ?? '');
      },
    };
    const records = [record(1, 'ListBuckets'), record(2, 'GetObject'), record(3, 'ListBuckets')];
    const run = replaySync([{ name: 'mem', source: 'cloudtrail', records }], {
      sources,
      detectors: [failing],
    });
    const items = [...run];
    const errors = items.filter((i) => i.kind === 'detector-error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ detector: 'picky', error: new Error('cannot read GetObject') });
    expect(errors[0]!.kind === 'detector-error' && errors[0]!.event.source_event_id).toBe(
      records[1]!.eventID,
    );
    expect(items.flatMap((i) => (i.kind === 'alert' ? [i.alert] : []))).toEqual([
      records[0]!.eventID,
      records[2]!.eventID,
    ]);
    expect(run.counts).toMatchObject({ alerts: 2, detectorErrors: 1 });
  });

  it('awaits asynchronous detectors; replaySync refuses them', async () => {
    const later: ReplayDetector<string> = {
      name: 'later',
      detect: async (events) => events.map(() => 'found'),
    };
    const input = { name: 'mem', source: 'cloudtrail', records: [record(1, 'ListBuckets')] };
    const found: string[] = [];
    for await (const item of replay([input], { sources, detectors: [later] }))
      if (item.kind === 'alert') found.push(item.alert);
    expect(found).toEqual(['found']);
    let error: unknown;
    try {
      [...replaySync([input], { sources, detectors: [later] })];
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AisocError);
    expect((error as AisocError).code).toBe('AISOC_ERR_INTERNAL');
  });

  it('detects the source of each document unless one is given', () => {
    const eve = readFileSync(join(import.meta.dirname, '../sources/suricata/fixtures/eve.ndjson'), 'utf8');
    const suricata = file('eve.json', eve);
    const docs = [...replaySync([suricata], { sources })].filter((i) => i.kind === 'document');
    expect(docs.map((d) => d.source)).toEqual(['suricata']);
    const forced = [...replaySync([suricata], { sources, source: 'generic' })].filter(
      (i) => i.kind === 'document',
    );
    expect(forced.map((d) => d.source)).toEqual(['generic']);
  });
});
