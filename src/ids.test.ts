import { describe, expect, it } from 'vitest';
import { stableUuid, uuidv7 } from './ids.ts';

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

describe('stableUuid', () => {
  it('gives the same id for the same parts and a different one otherwise', () => {
    expect(stableUuid('cloudtrail', 'a')).toBe(stableUuid('cloudtrail', 'a'));
    expect(stableUuid('cloudtrail', 'a')).not.toBe(stableUuid('cloudtrail', 'b'));
    expect(stableUuid('a', 'bc')).not.toBe(stableUuid('ab', 'c'));
  });
});
