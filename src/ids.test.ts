import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contentId, stableUuid, stableUuidOf, uuidv7 } from './ids.ts';

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
});
