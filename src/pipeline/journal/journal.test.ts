import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeEvent } from '../../../test/helpers/builders.ts';
import { captureLogs } from '../../../test/helpers/log-capture.ts';
import { type TestServer, tempDir, testServer } from '../../../test/helpers/runtime.ts';
import { loadConfig } from '../../app-config.ts';
import { AisocError } from '../../errors.ts';
import { openRuntime } from '../../runtime.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../../telemetry/metrics.ts';
import type { AnyStage } from '../stage.ts';
import { encodeFrame } from './frame.ts';
import { Journal } from './journal.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Wait until `check` holds, looking again at each turn of the event loop's timers. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}

function dir(): string {
  const t = tempDir('aisoc-journal-');
  cleanups.push(t.cleanup);
  return t.dir;
}

async function server(journalDir: string, pipeline: Record<string, unknown> = {}, stages?: AnyStage[]) {
  const t = await testServer(
    { pipeline: { ...pipeline, journal: { enabled: true, dir: journalDir, ...(pipeline.journal ?? {}) } } },
    stages ? { stages } : {},
  );
  cleanups.push(() => t.close());
  return t;
}

let eventNo = 0;
function cloudtrail(n: number, tag = `r${++eventNo}`): string {
  return JSON.stringify({
    Records: Array.from({ length: n }, (_, i) => ({
      eventVersion: '1.08',
      eventTime: new Date(Date.UTC(2026, 10, 19, 10, 0, 0) + i).toISOString(),
      eventSource: 's3.amazonaws.com',
      eventName: 'GetObject',
      awsRegion: 'us-east-1',
      sourceIPAddress: '198.51.100.10',
      userIdentity: { type: 'IAMUser', userName: 'journal', accessKeyId: 'AKIAJOURNAL000000001' },
      eventID: `${tag}-${i}`,
    })),
  });
}

async function post(t: TestServer, key: string, body: string | Buffer) {
  return t.app.inject({
    method: 'POST',
    url: '/ingest/cloudtrail',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    payload: body,
  });
}

function metric(metrics: Metrics, name: string): Promise<number> {
  return metrics.registry
    .getSingleMetric(name)!
    .get()
    .then((m) => m.values.reduce((n, v) => n + v.value, 0));
}

function segments(d: string): string[] {
  return readdirSync(d)
    .filter((f) => f.endsWith('.seg'))
    .sort();
}

/** Write a journal of `frames` frames of `perFrame` events each, as a process that died before loading them left it. */
async function writeJournal(d: string, frames: number, perFrame: number) {
  const metrics = createMetrics({ defaultMetrics: false });
  const journal = new Journal({ dir: d, segmentBytes: 64 << 20, logger: silentLogger(), metrics });
  await journal.open(0);
  const written: Array<{ events: NormalisedEvent[]; frame: Buffer }> = [];
  for (let f = 0; f < frames; f++) {
    const events = Array.from({ length: perFrame }, () => makeEvent());
    const payload = Buffer.from(JSON.stringify({ events, deadLetters: [] }));
    await journal.append(payload, events.length);
    written.push({ events, frame: encodeFrame(payload, events.length) });
  }
  await journal.close();
  return { written, segment: join(d, segments(d)[0]!) };
}

async function storedIds(t: {
  runtime: { store: { events: { list(f: object): Promise<{ items: NormalisedEvent[] }> } } };
}) {
  const page = await t.runtime.store.events.list({ limit: 1000 });
  return page.items.map((e) => e.id).sort();
}

describe('ingest journal', () => {
  it('acknowledges from the journal and loads the events into the store once, dropping duplicates', async () => {
    const d = dir();
    const t = await server(d, { journal: { segment_bytes: 64 * 1024 } });
    const key = await t.key(['ingest', 'read']);
    const body = cloudtrail(3, 'round');
    const res = await post(t, key, body);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ received: 3, stored: 3, duplicates: 0, journaled: true });
    await t.runtime.runner.drain(30_000);
    expect(await t.runtime.store.events.count({ source: 'cloudtrail' })).toBe(3);

    // Sent again: acknowledged from the journal again, and dropped as duplicates when loaded.
    expect((await post(t, key, body)).statusCode).toBe(202);
    // Enough requests to fill several 64 KiB segments.
    for (let i = 0; i < 12; i++) expect((await post(t, key, cloudtrail(50))).statusCode).toBe(202);
    await t.runtime.runner.drain(60_000);
    expect(await t.runtime.store.events.count({ source: 'cloudtrail' })).toBe(3 + 12 * 50);
    expect(await metric(t.runtime.metrics, 'aisoc_journal_frames_loaded_total')).toBe(14);
    // Loaded segments are deleted; the one appends go to stays.
    expect(segments(d)).toHaveLength(1);

    const p = await t.app.inject({ url: '/pipeline', headers: { authorization: `Bearer ${key}` } });
    expect(p.json()).toMatchObject({
      pending: 0,
      journal: { pending_bytes: 0, pending_frames: 0, pending_events: 0, segments: 1 },
    });
    const m = await t.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${key}` } });
    expect(m.body).toMatch(/^aisoc_journal_pending_bytes 0$/m);
    expect(m.body).toMatch(/^aisoc_journal_pending_frames 0$/m);
  }, 60_000);

  it('shares one fdatasync among submissions that arrive together', async () => {
    const t = await server(dir());
    const before = await metric(t.runtime.metrics, 'aisoc_journal_fsyncs_total');
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        t.runtime.runner.submit({ events: [makeEvent(), makeEvent()], deadLetters: [] }),
      ),
    );
    expect(results.every((r) => r.journaled && r.stored === 2)).toBe(true);
    expect((await metric(t.runtime.metrics, 'aisoc_journal_fsyncs_total')) - before).toBe(1);
    expect(await metric(t.runtime.metrics, 'aisoc_journal_frames_appended_total')).toBe(10);
    await t.runtime.runner.drain(30_000);
    expect(await t.runtime.store.events.count()).toBe(20);
  });

  it('cuts a torn frame off the end at start and loads the frames before it', async () => {
    const d = dir();
    const { written, segment } = await writeJournal(d, 3, 4);
    const good = statSync(segment).size;
    // A fourth frame written only in part (the process died in the write): never acknowledged.
    const torn = encodeFrame(Buffer.from(JSON.stringify({ events: [makeEvent()], deadLetters: [] })), 1);
    writeFileSync(segment, torn.subarray(0, torn.length - 7), { flag: 'a' });
    const t = await server(d);
    await t.runtime.runner.drain(30_000);
    expect(await storedIds(t)).toEqual(written.flatMap((w) => w.events.map((e) => e.id)).sort());
    expect(statSync(segment).size).toBe(good);
    expect(await metric(t.runtime.metrics, 'aisoc_journal_torn_tails_total')).toBe(1);
    // Appends go on after the good frames.
    expect((await t.runtime.runner.submit({ events: [makeEvent()], deadLetters: [] })).journaled).toBe(true);
    await t.runtime.runner.drain(30_000);
    expect(await t.runtime.store.events.count()).toBe(13);
  });

  it('treats a CRC mismatch in the last frame of the journal as a torn tail', async () => {
    const d = dir();
    const { written, segment } = await writeJournal(d, 3, 2);
    const bytes = readFileSync(segment);
    bytes[bytes.length - 3]! ^= 0xff;
    writeFileSync(segment, bytes);
    const t = await server(d);
    await t.runtime.runner.drain(30_000);
    expect(await storedIds(t)).toEqual(
      written
        .slice(0, 2)
        .flatMap((w) => w.events.map((e) => e.id))
        .sort(),
    );
    expect(statSync(segment).size).toBe(written[0]!.frame.length + written[1]!.frame.length);
  });

  it('moves damage in the middle aside and loads the frames after it', async () => {
    const d = dir();
    const { written, segment } = await writeJournal(d, 3, 3);
    const bytes = readFileSync(segment);
    const second = written[0]!.frame.length;
    bytes[second + 40]! ^= 0xff;
    writeFileSync(segment, bytes);
    const t = await server(d);
    await t.runtime.runner.drain(30_000);
    expect(await storedIds(t)).toEqual(
      [...written[0]!.events, ...written[2]!.events].map((e) => e.id).sort(),
    );
    const corrupt = readdirSync(d).filter((f) => f.endsWith('.corrupt'));
    expect(corrupt).toEqual([`${segments(d)[0]}.${second}.corrupt`]);
    // The damaged bytes, exactly: the second frame with its flipped byte.
    expect(readFileSync(join(d, corrupt[0]!))).toEqual(
      bytes.subarray(second, second + written[1]!.frame.length),
    );
    expect(await metric(t.runtime.metrics, 'aisoc_journal_corrupt_bytes_total')).toBe(
      written[1]!.frame.length,
    );
    expect(t.runtime.runner.stats().journal).toMatchObject({ pending_frames: 0, pending_bytes: 0 });
  });

  it('dead-letters a frame the store keeps refusing and loads the frames after it', async () => {
    const d = dir();
    const metrics = createMetrics({ defaultMetrics: false });
    const journal = new Journal({ dir: d, segmentBytes: 64 << 20, logger: silentLogger(), metrics });
    await journal.open(0);
    const frames = [[makeEvent()], [makeEvent({ time: 'not a time' })], [makeEvent(), makeEvent()]];
    for (const events of frames)
      await journal.append(Buffer.from(JSON.stringify({ events, deadLetters: [] })), events.length);
    await journal.close();
    const t = await server(d);
    await t.runtime.runner.drain(60_000);
    expect(await storedIds(t)).toEqual([frames[0]![0]!.id, frames[2]![0]!.id, frames[2]![1]!.id].sort());
    const { items } = await t.runtime.store.deadLetters.list({ source: 'journal' });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ stage: 'journal', code: 'AISOC_ERR_STORE' });
    expect(items[0]!.reason).toContain('not a timestamp');
    expect(JSON.parse(items[0]!.record).events[0].id).toBe(frames[1]![0]!.id);
    // The whole frame is kept on disk, where the reason says.
    const kept = /kept in (\S+)$/.exec(items[0]!.reason)?.[1];
    expect(kept).toBeDefined();
    expect(JSON.parse(readFileSync(kept!, 'utf8')).events[0].id).toBe(frames[1]![0]!.id);
  }, 60_000);

  it('moves aside damage found while loading, after the start-up check', async () => {
    const d = dir();
    const metrics = createMetrics({ defaultMetrics: false });
    const journal = new Journal({ dir: d, segmentBytes: 64 << 20, logger: silentLogger(), metrics });
    await journal.open(0);
    const frames: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const payload = Buffer.from(JSON.stringify({ n: i, pad: 'x'.repeat(100) }));
      await journal.append(payload, 1);
      frames.push(encodeFrame(payload, 1));
    }
    const segment = join(d, segments(d)[0]!);
    const bytes = readFileSync(segment);
    bytes[frames[0]!.length + 20]! ^= 0x01;
    writeFileSync(segment, bytes);
    const first = await journal.read(0, 1 << 20);
    expect(first.frames.map((f) => JSON.parse(f.payload.toString()).n)).toEqual([0]);
    const skip = await journal.read(first.next, 1 << 20);
    expect(skip.frames).toEqual([]);
    expect(skip.next).toBe(frames[0]!.length + frames[1]!.length);
    const last = await journal.read(skip.next, 1 << 20);
    expect(last.frames.map((f) => JSON.parse(f.payload.toString()).n)).toEqual([2]);
    expect(await metric(metrics, 'aisoc_journal_corrupt_bytes_total')).toBe(frames[1]!.length);
    await journal.close();
  });

  it('refuses ingestion with 429 and a retry hint above max_pending_bytes, and loads it all once the store catches up', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const stuck: AnyStage = {
      name: 'stuck',
      async process(batch) {
        await gate;
        return { outputs: batch };
      },
    };
    const t = await server(dir(), { queue_capacity: 1, journal: { max_pending_bytes: 64 * 1024 } }, [stuck]);
    cleanups.push(() => release());
    const key = await t.key(['ingest', 'read']);
    let accepted = 0;
    let refused: Awaited<ReturnType<typeof post>> | undefined;
    // The stage holds its first batch, the loader waits for room, and the journal fills up.
    while (!refused) {
      const res = await post(t, key, cloudtrail(40));
      if (res.statusCode === 202) accepted++;
      else refused = res;
    }
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'AISOC_ERR_OVERLOADED' });
    expect(refused.json().message).toContain('pipeline.journal.max_pending_bytes');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Refused because this request would take it past the limit: what is pending stays under it.
    const pending = t.runtime.runner.stats().journal!.pending_bytes;
    expect(pending).toBeGreaterThan(0);
    expect(pending).toBeLessThanOrEqual(64 * 1024);
    expect(await metric(t.runtime.metrics, 'aisoc_journal_pending_bytes')).toBe(pending);
    release();
    await t.runtime.runner.drain(60_000);
    expect(await t.runtime.store.events.count()).toBe(accepted * 40);
    expect((await post(t, key, cloudtrail(40))).statusCode).toBe(202);
  }, 60_000);

  it('refuses malformed and oversized bodies before anything is journaled; dead letters are still kept', async () => {
    const d = dir();
    const t = await server(d);
    const tight = await testServer({
      server: { body_limit_bytes: 1024 },
      pipeline: { journal: { enabled: true, dir: dir() } },
    });
    cleanups.push(() => tight.close());
    const key = await t.key(['ingest']);
    const bad = await post(t, key, '{"Records": [');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'AISOC_ERR_BAD_JSON' });
    const big = await post(tight, await tight.key(['ingest']), cloudtrail(100));
    expect(big.statusCode).toBe(413);
    for (const rt of [t.runtime, tight.runtime])
      expect(await metric(rt.metrics, 'aisoc_journal_frames_appended_total')).toBe(0);
    expect(segments(d).map((s) => statSync(join(d, s)).size)).toEqual([0]);

    // No record normalises: refused naming the field, and the dead letters go through the journal to their table.
    const records = JSON.parse(cloudtrail(2)) as { Records: Array<Record<string, unknown>> };
    for (const r of records.Records) r.eventTime = 'not a time';
    const unnormalisable = await post(t, key, JSON.stringify(records));
    expect(unnormalisable.statusCode).toBe(400);
    expect(unnormalisable.json().field).toMatch(/eventTime$/);
    await t.runtime.runner.drain(30_000);
    expect(await t.runtime.store.deadLetters.count()).toBe(2);
    expect(await t.runtime.store.events.count()).toBe(0);
  });

  it('stops within its drain timeout and loads what is left at the next start, once', async () => {
    const data = dir();
    const config = loadConfig({
      env: {},
      overrides: {
        data_dir: data,
        pipeline: {
          queue_capacity: 1,
          max_event_loop_delay_ms: 0,
          max_rss_bytes: 0,
          journal: { enabled: true },
        },
      },
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const stuck: AnyStage = {
      name: 'stuck',
      async process(batch) {
        await gate;
        return { outputs: batch };
      },
    };
    const log = captureLogs('warn');
    const first = await openRuntime(config, { stages: [stuck], logger: log.logger });
    const events = Array.from({ length: 5 }, () => makeEvent());
    for (const e of events) await first.runner.submit({ events: [e], deadLetters: [] });
    // The first event is loaded and held by the stage; the loader waits for room for the next.
    await until(
      () => first.runner.stats().journal!.pending_frames === 4 && first.runner.stats().pending === 5,
    );
    const stopping = first.runner.stop(100);
    await until(() => log.lines.some((l) => String(l.msg).includes('not fully loaded before stop')));
    release();
    await stopping;
    await first.close();
    expect(segments(join(data, 'journal')).length).toBeGreaterThan(0);

    const second = await openRuntime(config, { logger: silentLogger() });
    try {
      await second.runner.drain(30_000);
      expect((await storedIds({ runtime: second })).sort()).toEqual(events.map((e) => e.id).sort());
      // The four frames the first process had not loaded, and only those.
      expect(await metric(second.metrics, 'aisoc_journal_frames_loaded_total')).toBe(4);
      expect(second.runner.stats().journal).toMatchObject({ pending_frames: 0, pending_bytes: 0 });
    } finally {
      await second.close();
    }
  }, 60_000);

  it('refuses pipeline.journal.enabled with the nats runner, naming the field', async () => {
    const config = loadConfig({
      env: {},
      overrides: { pipeline: { runner: 'nats', journal: { enabled: true } } },
    });
    const err = await openRuntime(config, { inMemory: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AisocError);
    expect(err).toMatchObject({ code: 'AISOC_ERR_CONFIG', field: 'pipeline.journal.enabled' });
    expect((err as Error).message).toMatch(/pipeline\.journal\.enabled.*nats/);
  });
});
