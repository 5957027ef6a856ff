import { describe, expect, it } from 'vitest';
import type { SecurityAlert, TriageResponse } from '../schema/verdict.ts';
import { labelAlertsByEvents, scoreTriage } from './eval.ts';

const alert = (id: string): SecurityAlert => ({
  alert_id: id,
  timestamp: '2024-05-06T10:00:00Z',
  rule_id: 'r1',
  rule_description: 'CloudTrail trail stopped or deleted',
  rule_level: 10,
});
const verdict = (isTp: boolean) => ({ response: { is_true_positive: isTp } as TriageResponse });

describe('ground-truth labels for alerts', () => {
  const attack = new Set(['e1', 'e2']);
  const alerts = [
    { alert: alert('a'), event_ids: ['e1'] },
    { alert: alert('b'), event_ids: ['e3', 'e4'] },
    { alert: alert('c'), event_ids: ['e2', 'e5'] },
  ];

  it('calls an alert a true positive when its events belong to an attack, whatever the alert says', () => {
    const { cases, mixed } = labelAlertsByEvents(alerts, (id) => attack.has(id), 'test');
    expect(cases.map((c) => c.label.is_true_positive)).toEqual([true, false, true]);
    expect(cases.every((c) => c.origin === 'test')).toBe(true);
    // 'c' cites one attack event and one routine one.
    expect(mixed).toBe(1);
  });

  it('scores verdicts against that ground truth', () => {
    const { cases } = labelAlertsByEvents(alerts, (id) => attack.has(id));
    // The analyst calls every alert a true positive: right twice, one false positive.
    const s = scoreTriage(cases, [verdict(true), verdict(true), verdict(true)]);
    expect(s.confusion).toEqual({ tp: 2, fp: 1, tn: 0, fn: 0 });
    expect(s.precision).toBeCloseTo(2 / 3, 4);
    expect(s.recall).toBe(1);
  });

  it('refuses an alert that cites no events, naming it', () => {
    expect(() => labelAlertsByEvents([{ alert: alert('x'), event_ids: [] }], () => true)).toThrow(
      /alert x cites no events/,
    );
  });
});
