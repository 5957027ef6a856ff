import { describe, expect, it } from 'vitest';
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
