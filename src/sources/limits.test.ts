import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/helpers/builders.ts';
import { type TestServer, testServer } from '../../test/helpers/runtime.ts';
import { loadConfig } from '../app-config.ts';
import { NormalisedEvent } from '../schema/event.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { frameBody, MAX_DEPTH } from './framing.ts';
import { SourceRegistry } from './index.ts';
import {
  cutText,
  DEFAULT_EVENT_LIMITS,
  limitEvent,
  recordsWithin,
  scanEnvelope,
  scanRecord,
  textWithin,
  truncationMarker,
} from './limits.ts';
import { normaliseRecords } from './normalise.ts';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const MARKER_START = '…[truncated: ';

describe('cutText', () => {
  it('leaves text that fits alone, and cuts longer text to the limit with a marker naming the size', () => {
    expect(cutText('a'.repeat(1024), 1024)).toBeUndefined();
    const cut = cutText('a'.repeat(5000), 1024)!;
    expect(bytes(cut)).toBeLessThanOrEqual(1024);
    expect(cut.endsWith(truncationMarker(5000))).toBe(true);
    expect(cut.startsWith('a'.repeat(900))).toBe(true);
  });

  it('counts UTF-8 bytes, not characters, and never splits a character or a surrogate pair', () => {
    // 'é' is 2 bytes, '😀' is 4 (two UTF-16 units): 600 of them are over 1024 bytes though under 1024 units.
    for (const ch of ['é', '😀', '中']) {
      const s = ch.repeat(600);
      const cut = cutText(s, 1024)!;
      expect(cut, ch).toBeDefined();
      expect(bytes(cut)).toBeLessThanOrEqual(1024);
      const kept = cut.slice(0, cut.indexOf(MARKER_START));
      expect(kept.length % ch.length).toBe(0);
      expect(kept).toBe(ch.repeat(kept.length / ch.length));
      expect(cut.endsWith(truncationMarker(bytes(s)))).toBe(true);
    }
  });

  it('keeps a lone surrogate out of the cut text rather than splitting it into invalid UTF-8', () => {
    const s = `${'x'.repeat(1000)}\ud800${'y'.repeat(2000)}`;
    const cut = cutText(s, 1024)!;
    expect(bytes(cut)).toBeLessThanOrEqual(1024);
    expect(cut.startsWith('x'.repeat(900))).toBe(true);
  });
});

describe('limitEvent', () => {
  const limits = { maxFieldBytes: 2048, maxRawBytes: 8192 };

  it('changes nothing and adds no flag on an event within the limits', () => {
    const e = makeEvent({ raw: { a: 'b', n: [1, 2, 3] } });
    const before = structuredClone(e);
    expect(limitEvent(e, limits)).toEqual(before);
    expect(e.truncated).toBeUndefined();
  });

  it('cuts every long text of the event and of its raw record, keys included, and marks it truncated', () => {
    const long = 'z'.repeat(10_000);
    const raw = { userAgent: long, nested: { list: [long, 'short'] }, [long]: 1 };
    const e = makeEvent({
      message: long,
      cloud: { provider: 'aws', user_agent: long },
      observables: [{ type: 'user_agent', value: long, name: 'cloud.user_agent' }],
      unmapped: { deep: { deeper: [long] } },
      raw,
    });
    limitEvent(e, limits);
    expect(e.truncated).toBe(true);
    expect(NormalisedEvent.safeParse(e).success).toBe(true);
    for (const text of [
      e.message!,
      e.cloud!.user_agent!,
      e.observables[0]!.value,
      ((e.unmapped!.deep as { deeper: string[] }).deeper[0] as string) ?? '',
    ]) {
      expect(bytes(text)).toBeLessThanOrEqual(2048);
      expect(text.endsWith(truncationMarker(10_000))).toBe(true);
    }
    const r = e.raw as Record<string, unknown>;
    expect(bytes(r.userAgent as string)).toBeLessThanOrEqual(2048);
    expect((r.nested as { list: string[] }).list[1]).toBe('short');
    const keys = Object.keys(r);
    expect(keys).toHaveLength(3);
    for (const k of keys) expect(bytes(k)).toBeLessThanOrEqual(2048);
  });

  it('never changes the record it was given: containers on the way to a cut are copied', () => {
    const raw = { userAgent: 'q'.repeat(10_000), inner: { s: 'q'.repeat(10_000) } };
    const copy = structuredClone(raw);
    const e = makeEvent({ raw, unmapped: { inner: raw.inner } });
    limitEvent(e, limits);
    expect(raw).toEqual(copy);
    expect(e.raw).not.toBe(raw);
  });

  it('keeps a "__proto__" key of hostile JSON as a plain key while cutting under it, polluting nothing', () => {
    const raw = JSON.parse(`{"__proto__": {"polluted": "${'x'.repeat(5000)}"}, "a": "${'y'.repeat(5000)}"}`);
    const e = makeEvent({ raw });
    limitEvent(e, limits);
    expect(e.truncated).toBe(true);
    const text = JSON.stringify(e.raw);
    expect(text.startsWith('{"__proto__":{"polluted":"xxx')).toBe(true);
    // An own "__proto__" key, read as data, not as the accessor.
    const inner = Object.getOwnPropertyDescriptor(JSON.parse(text), '__proto__')?.value as {
      polluted: string;
    };
    expect(bytes(inner.polluted)).toBeLessThanOrEqual(2048);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('caps a record of many short fields by its total size', () => {
    const raw = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]));
    const e = makeEvent({ raw });
    limitEvent(e, limits);
    expect(e.truncated).toBe(true);
    expect(bytes(e.raw as string)).toBeLessThanOrEqual(8192);
    expect((e.raw as string).startsWith('{"k0":0,"k1":1,')).toBe(true);
  });

  it('keeps a raw record above the raw cap as the start of its JSON text, with the marker', () => {
    // Each field is under the field limit, together they are far over the raw cap.
    const raw = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`field${i}`, 'w'.repeat(1000)]));
    const whole = bytes(JSON.stringify(raw));
    const e = makeEvent({ raw });
    limitEvent(e, limits);
    expect(e.truncated).toBe(true);
    expect(typeof e.raw).toBe('string');
    const text = e.raw as string;
    expect(bytes(text)).toBeLessThanOrEqual(8192);
    expect(text.startsWith('{"field0":"www')).toBe(true);
    expect(text.endsWith(truncationMarker(whole))).toBe(true);
  });

  it('caps the unmapped fields as it caps the raw record they copy, so the whole event is bounded', () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`extra${i}`, 'e'.repeat(2000)]));
    const e = makeEvent({ unmapped: { ...many }, raw: { ...many } });
    limitEvent(e, limits);
    expect(e.truncated).toBe(true);
    expect(Object.keys(e.unmapped!)).toEqual(['_truncated']);
    const text = e.unmapped!._truncated as string;
    expect(text.startsWith('{"extra0":"eee')).toBe(true);
    expect(bytes(text)).toBeLessThanOrEqual(8192);
    expect(NormalisedEvent.safeParse(e).success).toBe(true);
    const { raw: _r, unmapped: _u, ...rest } = e;
    const whole = bytes(JSON.stringify(e));
    // The two capped parts (their JSON texts gain escapes when stored as strings) and the rest.
    expect(whole).toBeLessThanOrEqual(2 * 8192 + bytes(JSON.stringify(rest)) + 1024);
  });

  it('cuts a raw text line (syslog) as one field', () => {
    const line = `<13>Mar  9 07:02:14 bastion-01 sshd[1]: Failed password ${'p'.repeat(50_000)}`;
    const e = makeEvent({ source: 'syslog', message: line, raw: line });
    limitEvent(e, limits);
    expect(typeof e.raw).toBe('string');
    expect((e.raw as string).startsWith('<13>Mar  9 07:02:14 bastion-01 sshd[1]')).toBe(true);
    expect(bytes(e.raw as string)).toBeLessThanOrEqual(2048);
    expect(e.message).toBe(e.raw);
  });

  it('has the documented defaults: 64 KiB per field, 1 MiB of raw record', () => {
    const { pipeline } = loadConfig({ env: {} });
    expect(pipeline.max_field_bytes).toBe(DEFAULT_EVENT_LIMITS.maxFieldBytes);
    expect(pipeline.max_field_bytes).toBe(65_536);
    expect(pipeline.max_raw_bytes).toBe(1_048_576);
  });

  it('refuses limits too small to hold text beside the marker, naming the field', () => {
    expect(() => loadConfig({ env: {}, overrides: { pipeline: { max_field_bytes: 10 } } })).toThrow(
      /pipeline\.max_field_bytes/,
    );
    expect(() => loadConfig({ env: {}, overrides: { pipeline: { max_raw_bytes: 100 } } })).toThrow(
      /pipeline\.max_raw_bytes/,
    );
  });
});

const record = JSON.parse(readFileSync(join(import.meta.dirname, 'cloudtrail/fixtures/records.json'), 'utf8'))
  .Records[0] as Record<string, unknown>;

describe('a 10 MB userAgent through POST /ingest/cloudtrail', () => {
  let t: TestServer;
  let key: string;
  const post = (body: string) =>
    t.app.inject({
      method: 'POST',
      url: '/ingest/cloudtrail',
      payload: body,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    });
  /** The stored row's size: its whole text, as PostgreSQL holds it. */
  const rowBytes = async (id: string) =>
    Number(
      (
        await t.runtime.store.client.query<{ n: unknown }>(
          'SELECT octet_length(e::text) AS n FROM events e WHERE id = $1',
          [id],
        )
      ).rows[0]?.n,
    );

  beforeAll(async () => {
    t = await testServer();
    key = await t.key(['ingest', 'read']);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('stores each copy of the field cut to 64 KiB with the marker, truncated: true, and a row of bounded size', async () => {
    const ua = `Mozilla/5.0 ${'U'.repeat(10 * 1024 * 1024)}`;
    const r = await post(JSON.stringify({ Records: [{ ...record, eventID: 'big-ua-1', userAgent: ua }] }));
    expect(r.statusCode, r.body.slice(0, 300)).toBe(202);
    expect(r.json().stored).toBe(1);
    const list = await t.app.inject({
      method: 'GET',
      url: '/events?source=cloudtrail',
      headers: { authorization: `Bearer ${key}` },
    });
    const e = (list.json().items as NormalisedEvent[]).find((x) => x.source_event_id === 'big-ua-1')!;
    expect(e.truncated).toBe(true);
    const marker = truncationMarker(bytes(ua));
    const copies = [
      e.cloud!.user_agent!,
      e.http!.user_agent!,
      e.observables.find((o) => o.type === 'user_agent')!.value,
      (e.raw as { userAgent: string }).userAgent,
    ];
    for (const text of copies) {
      expect(bytes(text)).toBeLessThanOrEqual(65_536);
      expect(bytes(text)).toBeGreaterThan(65_536 - 64);
      expect(text.startsWith('Mozilla/5.0 UUUU')).toBe(true);
      expect(text.endsWith(marker)).toBe(true);
    }
    // The rest of the record is whole.
    expect((e.raw as { eventName: string }).eventName).toBe(record.eventName);
    // 42 MB before: four whole copies. Now four cut copies and the rest of the event.
    expect(await rowBytes(e.id)).toBeLessThan(5 * 65_536);
  }, 120_000);
});

describe('size limits from config', () => {
  let t: TestServer;
  let key: string;

  beforeAll(async () => {
    t = await testServer({ pipeline: { max_field_bytes: 4096, max_raw_bytes: 16_384 } });
    key = await t.key(['ingest', 'read']);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('cut fields to max_field_bytes and raw records to max_raw_bytes, for every source alike', async () => {
    const wide = { ...record, eventID: 'wide-1', requestParameters: { policy: 'P'.repeat(3000) } };
    for (let i = 0; i < 20; i++)
      (wide.requestParameters as Record<string, string>)[`tag${i}`] = `${i}`.repeat(3000);
    const syslogLine = `Mar  9 07:02:14 bastion-01 sshd[42103]: Invalid user ${'o'.repeat(20_000)} from 203.0.113.77`;
    const auth = { authorization: `Bearer ${key}` };
    const a = await t.app.inject({
      method: 'POST',
      url: '/ingest/cloudtrail',
      payload: JSON.stringify(wide),
      headers: { ...auth, 'content-type': 'application/json' },
    });
    expect(a.statusCode, a.body).toBe(202);
    const b = await t.app.inject({
      method: 'POST',
      url: '/ingest/syslog',
      payload: `${syslogLine}\n`,
      headers: { ...auth, 'content-type': 'text/plain' },
    });
    expect(b.statusCode, b.body).toBe(202);
    const items = (await t.app.inject({ method: 'GET', url: '/events?limit=10', headers: auth })).json()
      .items as NormalisedEvent[];
    const ct = items.find((e) => e.source === 'cloudtrail')!;
    expect(ct.truncated).toBe(true);
    expect(typeof ct.raw).toBe('string');
    expect(bytes(ct.raw as string)).toBeLessThanOrEqual(16_384);
    expect((ct.raw as string).startsWith('{')).toBe(true);
    expect((ct.raw as string).endsWith(' bytes in all]')).toBe(true);
    // The normalised fields stay whole: they are short.
    expect(ct.activity_name).toBe(record.eventName);
    const sl = items.find((e) => e.source === 'syslog')!;
    expect(sl.truncated).toBe(true);
    expect(bytes(sl.raw as string)).toBeLessThanOrEqual(4096);
    expect((sl.raw as string).startsWith('Mar  9 07:02:14 bastion-01 sshd[42103]: Invalid user ooo')).toBe(
      true,
    );
    expect(bytes(sl.message!)).toBeLessThanOrEqual(4096);
  });
});

describe('a record whose text the framing measured (textWithin)', () => {
  it('is within the limits only where scanRecord would say so, for any JSON value and any limits', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(text, tie('value'), { maxKeys: 5 }),
      ),
    })).value;
    fc.assert(
      fc.property(
        json,
        fc.integer({ min: 3, max: 200 }),
        fc.integer({ min: 6, max: 2000 }),
        (v, field, raw) => {
          const limits = { maxFieldBytes: field, maxRawBytes: raw };
          const framed = frameBody(JSON.stringify(v), 'json');
          // An array body is framed element by element, with no text of its own.
          if (Array.isArray(v)) return;
          expect(framed[0]!.textLength).toBe(JSON.stringify(v).length);
          if (textWithin(framed[0]!.textLength, limits))
            expect(scanRecord(v, MAX_DEPTH, limits)).toBe('within');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('gives no text length to a line with more opening brackets than a record may nest, and the line is still refused for depth', () => {
    const deep = `${'['.repeat(MAX_DEPTH + 1)}${']'.repeat(MAX_DEPTH + 1)}`;
    const inString = JSON.stringify({ ts: 1, s: '{'.repeat(MAX_DEPTH + 1) });
    const framed = frameBody(`{"ts":1}\n${JSON.stringify({ d: JSON.parse(deep) })}\n${inString}`, 'json');
    expect(framed.map((f) => f.textLength)).toEqual([8, undefined, undefined]);
    const source = new SourceRegistry({}, silentLogger()).get('generic');
    const r = normaliseRecords(source, framed, '2030-01-01T00:00:00.000Z');
    expect(r.deadLetters.map((d) => d.reason)).toEqual([`The record nests deeper than ${MAX_DEPTH} levels`]);
  });

  it('is judged against the limits given: a field limit below the text length leaves the record to the walk', () => {
    expect(textWithin(21_845, DEFAULT_EVENT_LIMITS)).toBe(true);
    expect(textWithin(21_846, DEFAULT_EVENT_LIMITS)).toBe(false);
    expect(textWithin(1000, { maxFieldBytes: 65_536, maxRawBytes: 5999 })).toBe(false);
    expect(textWithin(undefined, DEFAULT_EVENT_LIMITS)).toBe(false);
  });
});

describe('scanEnvelope', () => {
  const limits = { maxFieldBytes: 3000, maxRawBytes: 6000 };
  // Strings around the per-field threshold (1,000 UTF-16 units) and records around the raw cap.
  const lengths = [0, 5, 400, 999, 1000, 1001, 2500];
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const value = (depth: number): unknown => {
    const kind = rnd(depth > 3 ? 2 : 5);
    if (kind === 0) return 'x'.repeat(lengths[rnd(lengths.length)]!);
    if (kind === 1) return rnd(100);
    if (kind === 2) return Array.from({ length: rnd(4) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = rnd(5); i > 0; i--)
      o[rnd(3) === 0 ? 'k'.repeat(lengths[rnd(lengths.length)]!) : `f${i}`] = value(depth + 1);
    return o;
  };

  it('answers as scanRecord for the value, and for each element of its first arrays as scanRecord for that element', () => {
    for (let t = 0; t < 300; t++) {
      const records = Array.from({ length: rnd(6) }, () => value(1));
      const shapes: Array<[unknown, unknown[]]> = [
        [{ Records: records, other: value(1) }, records],
        [{ detail: { findings: records } }, records],
        [records, records],
      ];
      for (const [v, recs] of shapes) {
        expect(scanEnvelope(v, MAX_DEPTH, limits)).toBe(scanRecord(v, MAX_DEPTH, limits));
        const within = recordsWithin(recs);
        if (scanRecord(v, MAX_DEPTH, limits) === 'deep') continue;
        expect(within).toBeDefined();
        const expected = recs.map((r) => (scanRecord(r, MAX_DEPTH, limits) === 'within' ? 1 : 0));
        expect([...within!]).toEqual(expected);
      }
    }
  });

  it('knows nothing of records unwrap built rather than found in the value', () => {
    const hits = [{ _source: { a: 'b' } }, { _source: { c: 'd' } }];
    scanEnvelope({ hits: { hits } }, MAX_DEPTH, limits);
    expect(recordsWithin(hits.map((h) => h._source))).toBeUndefined();
    expect(recordsWithin(hits)).toBeDefined();
  });

  it('still finds a value nested too deeply, wherever the depth is', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < MAX_DEPTH + 1; i++) deep = [deep];
    expect(scanEnvelope({ Records: [{ a: 1 }, { b: deep }] }, MAX_DEPTH, limits)).toBe('deep');
    expect(scanEnvelope({ Records: [{ a: 1 }], aside: { b: deep } }, MAX_DEPTH, limits)).toBe('deep');
    expect(scanEnvelope({ Records: [{ a: 1 }], aside: { b: deep } }, MAX_DEPTH + 5, limits)).not.toBe('deep');
  });
});

describe('an envelope through normaliseRecords', () => {
  const limits = { maxFieldBytes: 2048, maxRawBytes: 8192 };
  const cloudtrail = new SourceRegistry({}, silentLogger()).get('cloudtrail');
  const record = (id: string, extra: Record<string, unknown> = {}) => ({
    eventVersion: '1.08',
    eventTime: '2026-01-01T00:00:00Z',
    eventSource: 'iam.amazonaws.com',
    eventName: 'ListUsers',
    awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.9',
    userAgent: 'aws-cli/2',
    eventID: id,
    userIdentity: { type: 'IAMUser', userName: 'alice', accountId: '111122223333' },
    ...extra,
  });

  it('holds each record to the limits on its own: the small one untouched, the long field cut, the large one kept as text', () => {
    const small = record('small');
    const long = record('long', { userAgent: 'u'.repeat(10_000) });
    const large = record(
      'large',
      Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`p${i}`, 'v'.repeat(20)])),
    );
    const envelope = { Records: [small, long, large] };
    const before = structuredClone(envelope);
    const r = normaliseRecords(cloudtrail, [{ value: envelope }], '2026-01-01T00:00:01Z', limits);
    expect(r.events).toHaveLength(3);
    const [a, b, c] = r.events;
    expect(a!.raw).toBe(small);
    expect(a!.truncated).toBeUndefined();
    expect(b!.truncated).toBe(true);
    expect((b!.raw as { userAgent: string }).userAgent.endsWith(truncationMarker(10_000))).toBe(true);
    expect(b!.cloud?.user_agent?.endsWith(truncationMarker(10_000))).toBe(true);
    expect(c!.truncated).toBe(true);
    expect(typeof c!.raw).toBe('string');
    expect(bytes(c!.raw as string)).toBeLessThanOrEqual(limits.maxRawBytes);
    expect((c!.raw as string).includes(MARKER_START)).toBe(true);
    // The envelope the caller gave is as it was.
    expect(envelope).toEqual(before);
  });

  it('refuses an envelope with a record nested too deeply whole, as one dead letter', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 70; i++) deep = { d: deep };
    const r = normaliseRecords(
      cloudtrail,
      [{ value: { Records: [record('ok'), record('deep', { requestParameters: deep })] } }],
      '2026-01-01T00:00:01Z',
      limits,
    );
    expect(r.events).toHaveLength(0);
    expect(r.received).toBe(1);
    expect(r.deadLetters).toHaveLength(1);
    expect(r.deadLetters[0]!.record).toBe('[record nested too deeply]');
  });
});
