import { describe, expect, it } from 'vitest';
import { evaluate } from './metrics.ts';

describe('classification metrics', () => {
  // truth:     B B B B A A C
  // predicted: B B A B A C C
  const labels = ['A', 'B', 'C', 'D'];
  const truth = [1, 1, 1, 1, 0, 0, 2];
  const pred = [1, 1, 0, 1, 0, 2, 2];
  const r = evaluate(truth, pred, labels, 'B');

  it('computes per-class precision, recall, F1 and support by hand-checkable counts', () => {
    // A: tp 1, predicted 2, support 2 → p 0.5, r 0.5; B: tp 3, predicted 3, support 4 → p 1, r 0.75;
    // C: tp 1, predicted 2, support 1 → p 0.5, r 1.
    expect(r.per_class.A).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(r.per_class.B!.recall).toBe(0.75);
    expect(r.per_class.B!.f1).toBeCloseTo((2 * 0.75) / 1.75, 12);
    expect(r.per_class.C!.f1).toBeCloseTo(2 / 3, 12);
    expect(r.confusion[1]).toEqual([1, 3, 0, 0]);
  });

  it('averages macro-F1 over classes present (D is absent) and reports accuracy and benign FPR', () => {
    expect(r.macro_f1).toBeCloseTo((0.5 + (2 * 0.75) / 1.75 + 2 / 3) / 3, 12);
    expect(r.accuracy).toBeCloseTo(5 / 7, 12);
    // One of four benign (B) rows was called an attack.
    expect(r.false_positive_rate).toBe(0.25);
    expect(r.rows).toBe(7);
  });
});
