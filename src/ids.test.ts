import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalText, canonicalTextByParts, contentId, stableUuid, stableUuidOf, uuidv7 } from './ids.ts';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('is a version-7 UUID whose first 48 bits are the millisecond time', () => {
    const now = Date.UTC(2026, 10, 21, 10, 0, 0, 123);
    const id = uuidv7(now);
    expect(id).toMatch(V7);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
  });

  it('sorts by time and never repeats', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => uuidv7(1_700_000_000_000 + Math.floor(i / 100)));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(V7);
    for (let i = 100; i < ids.length; i += 100) expect(ids[i]! > ids[i - 100]!).toBe(true);
  });

  it('keeps the random part random: each of its 74 bits is set about half the time', () => {
    const n = 4000;
    const counts = new Array<number>(32).fill(0);
    for (let i = 0; i < n; i++) {
      const hex = uuidv7(0).replace(/-/g, '');
      // the 32 hex digits after the version digit and the variant digit
      const tail = hex.slice(13, 16) + hex.slice(17);
      for (let d = 0; d < tail.length && d < 32; d++) counts[d]! += Number.parseInt(tail[d]!, 16) & 1;
    }
    for (const c of counts.slice(0, 18)) expect(Math.abs(c / n - 0.5)).toBeLessThan(0.05);
  });
});

describe('uuidv7 variant', () => {
  it('sets the variant bits to 10 and draws the two bits after them at random', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++) seen.add(uuidv7(0).charAt(19));
    expect([...seen].sort()).toEqual(['8', '9', 'a', 'b']);
  });

  it('clamps times outside 48 bits rather than writing them wrong', () => {
    expect(uuidv7(-5).startsWith('00000000-0000-7')).toBe(true);
    expect(uuidv7(2 ** 60).startsWith('ffffffff-ffff-7')).toBe(true);
    expect(uuidv7(Number.NaN)).toMatch(V7);
  });
});

/** The id as first written: SHA-256 of the parts joined by NUL, first 16 bytes, version 8, variant 10. */
function referenceUuid(...parts: string[]): string {
  const b = createHash('sha256').update(parts.join('\u0000')).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

describe('stableUuid', () => {
  it('keeps the ids already stored: the same text for the same parts as ever', () => {
    // Events ingested again must get the ids they got before, or re-ingestion would duplicate them.
    expect(stableUuid('cloudtrail', '083dc4ad-1234', '2024-01-01T00:00:00Z', 'ConsoleLogin', '', '')).toBe(
      '28ddeb2c-3362-81d8-86cc-347cc2edd8d4',
    );
    const samples = [
      ['zeek', 'CAbc123', '2024-01-01T00:00:00.000Z', 'conn', 'conn', ''],
      ['windows', '42', '2020-06-10T02:50:54.631Z', 'Process Create', 'Security', 'WS1.example'],
      ['generic', 'é😀中\ud800', '', '', '', ''],
      ['', ''],
    ];
    for (let i = 0; i < 200; i++) samples.push(['suricata', `${i * 7919}`, `t${i}`, 'x'.repeat(i)]);
    for (const parts of samples) {
      expect(stableUuid(...parts)).toBe(referenceUuid(...parts));
      expect(stableUuidOf(parts.join('\u0000'))).toBe(referenceUuid(...parts));
    }
  });

  it('gives the same id for the same parts and a different one otherwise', () => {
    expect(stableUuid('cloudtrail', 'a')).toBe(stableUuid('cloudtrail', 'a'));
    expect(stableUuid('cloudtrail', 'a')).not.toBe(stableUuid('cloudtrail', 'b'));
    expect(stableUuid('a', 'bc')).not.toBe(stableUuid('ab', 'c'));
  });
});

describe('contentId', () => {
  it('is the same for the same content in any key order, at any depth', () => {
    const a = { channel: 'Security', data: { B: '2', A: 1, nested: { y: [1, { q: 1, p: 2 }], x: null } } };
    const b = { data: { nested: { x: null, y: [1, { p: 2, q: 1 }] }, A: 1, B: '2' }, channel: 'Security' };
    expect(contentId(a)).toBe(contentId(b));
    expect(contentId(a)).toMatch(/^sha256:[0-9a-f]{32}$/);
  });

  it('differs when a value, a type, an array order or a key differs; undefined members count as absent', () => {
    const base = { data: { A: '1', B: [1, 2] } };
    const ids = [
      base,
      { data: { A: 1, B: [1, 2] } },
      { data: { A: '1', B: [2, 1] } },
      { data: { a: '1', B: [1, 2] } },
      { data: { A: '1', B: [1, 2], C: null } },
    ].map(contentId);
    expect(new Set(ids).size).toBe(5);
    expect(contentId({ data: { A: '1', B: [1, 2], C: undefined } })).toBe(contentId(base));
  });

  // Values as before the sorted-copy canonical text, including the ones it hands back to the text by parts.
  const cases: Array<[string, unknown]> = [
    [
      'flat record',
      { channel: 'Security', data: { TargetUserName: 'bob', LogonType: 3, IpAddress: '10.0.0.5' } },
    ],
    [
      'escapes and non-ASCII',
      {
        data: {
          Path: 'C:\\Windows\\cmd.exe',
          Q: 'say "hi"\n\t',
          E: 'é – 😀',
          L: '\ud800',
          C: '\u0001\u007f\u2028',
        },
      },
    ],
    [
      'numbers',
      {
        a: 1,
        b: -0,
        c: 1.5e300,
        d: 1e21,
        e: 0.1,
        f: Number.NaN,
        g: Number.POSITIVE_INFINITY,
        h: [Number.NaN, -0],
      },
    ],
    [
      'undefined and functions',
      { a: undefined, b: () => 1, c: [undefined, () => 1], d: { e: undefined, f: () => 1, g: 1 } },
    ],
    [
      'integer-like keys, flat and nested',
      { flat: { '10': 1, '9': 2, a: 3 }, nested: { '10': { x: 1 }, '9': 2, b: [1] } },
    ],
    [
      '__proto__ keys',
      JSON.parse('{"flat": {"__proto__": 1, "z": 2}, "nested": {"__proto__": {"y": 1}, "z": [2]}}'),
    ],
    ['empty containers', { a: {}, b: [], c: [[], {}], d: '' }],
    ['arrays at the top', [3, 'x', { b: 1, a: [{ d: 2, c: 1 }] }, null, true]],
    ['scalars', 'text'],
    ['number', 42],
    ['null', null],
    ['undefined', undefined],
    ['boolean', false],
    ['symbols', { flat: { s: Symbol('q'), t: 1 }, nested: { s: Symbol('q'), o: {} } }],
    ['toJSON and dates', { t: { toJSON: () => 1, k: 1 }, d: new Date(0), n: { toJSON: null, k: [1] } }],
    ['bigint in a nested object', { big: 1n, o: {} }],
    ['bigint in a flat object', { big: 1n }],
    ['deep keys sort', { z: { y: { x: { b: 2, a: 1, '': 0, A: 3, 'a b': 4, é: 5, '~': 6 } } } }],
  ];
  const pinned: Record<string, string> = Object.fromEntries([
    ['flat record', 'sha256:ad71780b8ec432b79aabf514dc0eca05'],
    ['escapes and non-ASCII', 'sha256:f5c9c1fc80408ccccaef346311cc0ee7'],
    ['numbers', 'sha256:f35297883d930e60b74eb9ed7ed9d2a2'],
    ['undefined and functions', 'sha256:c6be4cc7bba4f939c77ebab0f01b0040'],
    ['integer-like keys, flat and nested', 'sha256:094b4a89822af774466c3bb2b377fc89'],
    ['__proto__ keys', 'sha256:51efd8163c095d71394cdda0573710de'],
    ['empty containers', 'sha256:59c0aa308b3452a4769ea269f3a634a6'],
    ['arrays at the top', 'sha256:ef35dbd419d1505031b5a9ac06982f9e'],
    ['scalars', 'sha256:1e1d0f251d3a76fa2b1bfc8116407857'],
    ['number', 'sha256:73475cb40a568e8da8a045ced110137e'],
    ['null', 'sha256:74234e98afe7498fb5daf1f36ac2d78a'],
    ['undefined', 'sha256:74234e98afe7498fb5daf1f36ac2d78a'],
    ['boolean', 'sha256:fcbcf165908dd18a9e49f7ff27810176'],
    ['symbols', 'sha256:1d1eb0cf31d4fa49f49700a180589d4f'],
    ['toJSON and dates', 'sha256:9e195a4ede63c4395d93ed1104e4ede3'],
    ['bigint in a nested object', 'sha256:b2d6b99f2a3c4d5a1c7f63ad4fbb4a41'],
    ['bigint in a flat object', 'throws TypeError'],
    ['deep keys sort', 'sha256:2f6a5c0e51ae02dd900db45f658a73f0'],
  ]);

  it('keeps the ids it gave before, for ordinary values and for every odd one', () => {
    for (const [name, v] of cases) {
      let id: string;
      try {
        id = contentId(v);
      } catch (err) {
        id = `throws ${(err as Error).name}`;
      }
      expect(id, name).toBe(pinned[name]);
    }
  });

  it('makes the same canonical text with one JSON.stringify of a sorted copy as by parts, for any JSON-like value', () => {
    const key = fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.constantFrom('10', '9', '__proto__', 'toJSON', 'a', 'A', ''),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.string({ unit: 'binary', maxLength: 8 }),
        fc.double(),
        fc.boolean(),
        fc.constantFrom(null, undefined),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(key, tie('v'), { maxKeys: 5 }),
      ),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalText(v)).toBe(canonicalTextByParts(v));
      }),
      { numRuns: 3000 },
    );
  });
});
