import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalHash } from './cache-key.ts';

/**
 * The reference: JSON text with every object's keys sorted by code unit
 * (written by hand: a JS object would list integer-like keys first whatever
 * their order).
 */
function sortedJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${sortedJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

describe('canonicalHash', () => {
  it('ignores key order and undefined members, and sees every other difference', () => {
    const a = { x: 1, y: { b: [1, 'two', null], a: true }, z: undefined };
    const b = { y: { a: true, b: [1, 'two', null] }, x: 1 };
    expect(canonicalHash(a)).toBe(canonicalHash(b));
    expect(canonicalHash(a)).toMatch(/^[0-9a-f]{64}$/);
    for (const other of [
      { x: 2, y: { a: true, b: [1, 'two', null] } },
      { x: 1, y: { a: true, b: [1, 'two'] } },
      { x: 1, y: { a: true, b: ['two', 1, null] } },
      { x: 1, y: { a: 'true', b: [1, 'two', null] } },
      { x: 1, y: { a: true, b: [1, 'two', null], c: 0 } },
      { x: '1', y: { a: true, b: [1, 'two', null] } },
    ])
      expect(canonicalHash(other)).not.toBe(canonicalHash(b));
    // A key cannot masquerade as structure.
    expect(canonicalHash({ 'a":1,"b': 2 })).not.toBe(canonicalHash({ a: 1, b: 2 }));
  });

  it('is the sha256 of the JSON with sorted keys, for any JSON value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const reference = createHash('sha256').update(sortedJson(v)).digest('hex');
        expect(canonicalHash(v)).toBe(reference);
      }),
      { numRuns: 300 },
    );
  });

  it('hashes input nested deeper than the call stack allows recursion', () => {
    const n = 50_000;
    const deep = JSON.parse(`${'['.repeat(n)}${']'.repeat(n)}`) as unknown;
    expect(canonicalHash({ full_log: deep })).toMatch(/^[0-9a-f]{64}$/);
  });
});
