import { describe, expect, it } from 'vitest';
import type { Detection } from '../schema/alert.ts';
import { scorePriority } from './priority.ts';

const det = (
  rule: string,
  level: Detection['level'],
  engine: Detection['engine'] = 'sigma',
  confidence?: number,
): Detection => ({
  engine,
  rule_id: rule,
  rule_title: rule,
  level,
  tags: [],
  event_ids: [],
  ...(confidence === undefined ? {} : { confidence }),
});

const alert = (
  detections: Detection[],
  extra: Partial<{
    entities: Array<{ type: 'user' | 'host' | 'account'; value: string }>;
    mitre_tactics: string[];
  }> = {},
) => ({
  detections,
  entities: extra.entities ?? [{ type: 'user' as const, value: 'dev-alice' }],
  mitre_tactics: extra.mitre_tactics ?? [],
});

describe('priority formula', () => {
  it('starts from the highest detection level', () => {
    expect(scorePriority({ alert: alert([det('a', 'low')]) }).score).toBe(20);
    expect(scorePriority({ alert: alert([det('a', 'low'), det('b', 'critical')]) }).score).toBe(85 + 5);
  });

  it('adds ML confidence, critical assets, late tactics and correlation, each explained', () => {
    const r = scorePriority({
      alert: alert([det('a', 'medium'), det('m', 'high', 'ml', 0.9)], {
        entities: [
          { type: 'user', value: 'Root' },
          { type: 'host', value: 'db-01' },
        ],
        mitre_tactics: ['discovery', 'exfiltration'],
      }),
      assets: { critical_hosts: ['db-01'], privileged_users: [], crown_jewel_accounts: [] },
      incidentSize: 4,
    });
    expect(r.components.map((c) => [c.factor, c.points])).toEqual([
      ['severity', 70],
      ['ml', 9],
      ['rules', 5],
      ['asset', 10],
      ['tactic', 10],
      ['correlation', 6],
    ]);
    expect(r.score).toBe(100);
  });

  it('lets the built-in analyst lower a false positive but caps what an LLM verdict can take away', () => {
    const a = alert([det('a', 'high')]);
    expect(
      scorePriority({ alert: a, verdict: { is_true_positive: false, confidence: 1, source: 'builtin' } })
        .score,
    ).toBe(40);
    expect(
      scorePriority({ alert: a, verdict: { is_true_positive: false, confidence: 1, source: 'llm' } }).score,
    ).toBe(60);
    expect(
      scorePriority({ alert: a, verdict: { is_true_positive: true, confidence: 0.5, source: 'llm' } }).score,
    ).toBe(75);
  });

  it('stays within 0–100', () => {
    const many = [
      det('a', 'critical'),
      det('b', 'critical'),
      det('c', 'critical'),
      det('m', 'critical', 'ml', 1),
    ];
    expect(scorePriority({ alert: alert(many, { mitre_tactics: ['impact'] }), incidentSize: 50 }).score).toBe(
      100,
    );
    expect(
      scorePriority({
        alert: alert([det('a', 'informational')]),
        verdict: { is_true_positive: false, confidence: 1, source: 'builtin' },
      }).score,
    ).toBe(0);
  });
});
