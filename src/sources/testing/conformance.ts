import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NormalisedEvent } from '../../schema/event.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { bodyText, frameBody } from '../framing.ts';
import { DEFAULT_EVENT_LIMITS, truncationMarker } from '../limits.ts';
import { normaliseRecords } from '../normalise.ts';
import type { Source, SourceFactory } from '../types.ts';

const FIXED_INGEST = '2030-01-01T00:00:00.000Z';

/** Strip what varies between runs (random ids, ingestion time) and what repeats the input (raw). */
export function comparable(events: NormalisedEvent[]): unknown[] {
  return events.map((e) => {
    const { ingested_at: _i, raw: _r, ...rest } = e;
    return { ...rest, id: e.source_event_id ? e.id : '<random>' };
  });
}

/** Normalise a fixture file's text the way ingestion does. */
export function normaliseText(source: Source, text: string) {
  const framed = frameBody(text, source.framing);
  return normaliseRecords(source, framed, FIXED_INGEST);
}

/** Every text in a value: its strings and its keys. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      strings(x, out);
    }
  return out;
}

export interface ConformanceOptions<C> {
  factory: SourceFactory<C>;
  /** Config for the source (default `{}` parsed by its schema). */
  config?: unknown;
  /** The source's fixtures directory: `<case>.<ext>` inputs beside `<case>.expected.json`. */
  fixturesDir: string;
  /** A valid record, used as the seed for mutation fuzzing. */
  sampleRecord: unknown;
}

function makeSource<C>(factory: SourceFactory<C>, config: unknown): Source {
  return factory.create(factory.configSchema.parse(config ?? {}), { logger: silentLogger() });
}

/**
 * The shared conformance suite every source passes: fixtures parse to the
 * expected events, every event satisfies the schema, and no input — random
 * bytes, truncation, wrong types, deep nesting, 10 MB lines, a BOM, invalid
 * UTF-8 — throws out of normalisation: bad records become dead letters with
 * a reason and the rest of the batch goes on.
 *
 * Set UPDATE_FIXTURES=1 to (re)write `<case>.expected.json` files; review them.
 */
export function describeSourceConformance<C>(options: ConformanceOptions<C>): void {
  const { factory, fixturesDir } = options;
  const source = makeSource(factory, options.config);

  describe(`source ${factory.type}: conformance`, () => {
    const inputs = existsSync(fixturesDir)
      ? readdirSync(fixturesDir).filter((f) => !f.endsWith('.expected.json') && !f.startsWith('.'))
      : [];

    it('has fixtures of its own', () => {
      expect(inputs.length).toBeGreaterThan(0);
    });

    for (const file of inputs) {
      it(`parses fixture ${file} to the expected events`, () => {
        const text = bodyText(readFileSync(join(fixturesDir, file)));
        const result = normaliseText(source, text);
        for (const e of result.events) {
          const parsed = NormalisedEvent.safeParse(e);
          if (!parsed.success) throw new Error(`${file}: event fails the schema: ${parsed.error.message}`);
        }
        const expectedFile = join(fixturesDir, `${file.replace(/\.[^.]+$/, '')}.expected.json`);
        const actual = {
          events: comparable(result.events),
          dead_letters: result.deadLetters.map((d) => ({ reason: d.reason, field: d.field })),
          skipped: result.skipped,
        };
        if (process.env.UPDATE_FIXTURES) writeFileSync(expectedFile, `${JSON.stringify(actual, null, 2)}\n`);
        expect(
          existsSync(expectedFile),
          `${expectedFile} is missing (run with UPDATE_FIXTURES=1 and review it)`,
        ).toBe(true);
        expect(actual).toEqual(JSON.parse(readFileSync(expectedFile, 'utf8')));
      });
    }

    it('every event it produces satisfies the schema and keeps the raw record', () => {
      const result = normaliseRecords(source, [{ value: options.sampleRecord }], FIXED_INGEST);
      expect(result.deadLetters).toEqual([]);
      expect(result.events.length).toBeGreaterThan(0);
      for (const e of result.events) {
        expect(NormalisedEvent.safeParse(e).success).toBe(true);
        expect(e.raw).toBeDefined();
        expect(e.source).toBe(factory.type);
      }
    });

    const survives = (records: unknown[]) => {
      const framed = records.map((value) => ({ value }));
      const result = normaliseRecords(source, framed, FIXED_INGEST);
      // Every record is accounted for: an event, a skip, or a dead letter with a reason.
      expect(result.received).toBeGreaterThanOrEqual(records.length);
      for (const d of result.deadLetters) expect(d.reason.length).toBeGreaterThan(0);
      for (const e of result.events) expect(NormalisedEvent.safeParse(e).success).toBe(true);
      return result;
    };

    it('survives random JSON values without throwing', () => {
      fc.assert(
        fc.property(fc.array(fc.jsonValue({ maxDepth: 6 }), { minLength: 1, maxLength: 8 }), (values) => {
          survives(values);
        }),
        { numRuns: 300 },
      );
    });

    it('survives the sample record with fields replaced by wrong types', () => {
      const sample = options.sampleRecord;
      if (typeof sample !== 'object' || sample === null) return;
      const paths: string[][] = [];
      const walk = (v: unknown, path: string[]) => {
        if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
          for (const [k, x] of Object.entries(v)) {
            paths.push([...path, k]);
            if (path.length < 4) walk(x, [...path, k]);
          }
        }
      };
      walk(sample, []);
      const weird = [
        null,
        42,
        -1,
        1e308,
        true,
        'x',
        '',
        [],
        {},
        [1, 2],
        { a: { b: 1 } },
        '\u0000',
        '9'.repeat(400),
      ];
      fc.assert(
        fc.property(fc.constantFrom(...paths), fc.constantFrom(...weird), (path, value) => {
          const copy = structuredClone(sample) as Record<string, unknown>;
          let cur = copy;
          for (const p of path.slice(0, -1)) cur = cur[p] as Record<string, unknown>;
          cur[path[path.length - 1]!] = value;
          // The good sample beside the broken one must still come through.
          const result = survives([copy, sample]);
          expect(result.events.length).toBeGreaterThan(0);
        }),
        { numRuns: Math.min(400, paths.length * weird.length) },
      );
    });

    it('survives random bytes, truncation, a BOM and invalid UTF-8 in the body', () => {
      const good =
        typeof options.sampleRecord === 'string'
          ? options.sampleRecord
          : JSON.stringify(options.sampleRecord);
      const bodies: Buffer[] = [
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(good)]),
        Buffer.concat([Buffer.from(good.slice(0, good.length - 1)), Buffer.from([0xff, 0xfe, 0xc3])]),
        Buffer.from(good.slice(0, Math.floor(good.length / 2))),
      ];
      for (let i = 0; i < 50; i++)
        bodies.push(Buffer.from(fc.sample(fc.uint8Array({ minLength: 1, maxLength: 512 }), 1)[0]!));
      for (const body of bodies) {
        const text = bodyText(body);
        let framed: ReturnType<typeof frameBody>;
        try {
          framed = frameBody(text, source.framing);
        } catch (err) {
          // Malformed JSON is refused whole with a typed error, which is the contract.
          expect((err as { code?: string }).code).toBe('AISOC_ERR_BAD_JSON');
          continue;
        }
        const result = normaliseRecords(source, framed, FIXED_INGEST);
        for (const e of result.events) expect(NormalisedEvent.safeParse(e).success).toBe(true);
      }
      // The BOM-prefixed body is the good record and must parse.
      const bom = normaliseRecords(source, frameBody(bodyText(bodies[0]!), source.framing), FIXED_INGEST);
      expect(bom.events.length).toBeGreaterThan(0);
    });

    it('refuses deep nesting as a dead letter instead of overflowing the stack', () => {
      let deep: unknown = 'x';
      for (let i = 0; i < 5000; i++) deep = [deep];
      const nested =
        typeof options.sampleRecord === 'object'
          ? { ...(options.sampleRecord as object), extra: deep }
          : deep;
      const result = survives([nested, options.sampleRecord]);
      expect(result.deadLetters.length).toBeGreaterThanOrEqual(1);
      expect(result.events.length).toBeGreaterThan(0);
    });

    it('handles a 10 MB line, and stores it cut to the size limits', () => {
      const big = 'A'.repeat(10 * 1024 * 1024);
      const record =
        typeof options.sampleRecord === 'object' && options.sampleRecord !== null
          ? { ...(options.sampleRecord as object), huge: big }
          : `${String(options.sampleRecord)} ${big}`;
      const result = survives([record]);
      expect(result.events.length + result.deadLetters.length + result.skipped).toBeGreaterThan(0);
      const { maxFieldBytes, maxRawBytes } = DEFAULT_EVENT_LIMITS;
      for (const e of result.events) {
        // The big text survives only as its start, in the raw record at least, and says so.
        expect(e.truncated).toBe(true);
        expect(JSON.stringify(e.raw)).toContain(truncationMarker(big.length).slice(0, 14));
        expect(Buffer.byteLength(JSON.stringify(e.raw), 'utf8')).toBeLessThanOrEqual(maxRawBytes + 2);
        const { raw: _raw, ...doc } = e;
        for (const text of strings(doc))
          expect(Buffer.byteLength(text, 'utf8')).toBeLessThanOrEqual(maxFieldBytes);
      }
    });
  });
}
