import { describe, expect, it } from 'vitest';
import { canonicalHash } from './cache-key.ts';
import { disputeReason } from './dispute.ts';

describe('disputeReason', () => {
  const builtin = { is_true_positive: true, severity: 'high' as const, confidence: 0.85 };

  it('disputes a true positive called false, and a severity two or more levels lower', () => {
    expect(disputeReason({ is_true_positive: false, severity: 'high' }, builtin)).toMatch(
      /false positive where the built-in analyst found a true positive \(confidence 0.85\)/,
    );
    expect(disputeReason({ is_true_positive: true, severity: 'low' }, builtin)).toMatch(/2 levels below/);
    expect(disputeReason({ is_true_positive: false, severity: 'informational' }, builtin)).toMatch(
      /false positive.*; the model rated it informational, 3 levels below/,
    );
  });

  it('accepts agreement, one level lower, and anything stronger', () => {
    expect(disputeReason({ is_true_positive: true, severity: 'high' }, builtin)).toBeUndefined();
    expect(disputeReason({ is_true_positive: true, severity: 'medium' }, builtin)).toBeUndefined();
    expect(disputeReason({ is_true_positive: true, severity: 'critical' }, builtin)).toBeUndefined();
    const fp = { is_true_positive: false, severity: 'medium' as const, confidence: 0.6 };
    expect(disputeReason({ is_true_positive: true, severity: 'critical' }, fp)).toBeUndefined();
    expect(disputeReason({ is_true_positive: false, severity: 'low' }, fp)).toBeUndefined();
    expect(disputeReason({ is_true_positive: false, severity: 'informational' }, fp)).toMatch(
      /2 levels below/,
    );
  });
});

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
});
