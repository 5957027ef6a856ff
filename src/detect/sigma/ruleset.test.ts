import { describe, expect, it } from 'vitest';
import { toCandidate } from './candidate.ts';
import { SigmaEngine } from './engine.ts';
import { matchingRules, ruleSetFromText, testEvent } from './testing.ts';

const GOOD = `title: Good rule
id: 11111111-1111-4111-8111-111111111111
logsource: {product: test}
detection:
  sel: {A: x}
  condition: sel
level: high
tags: [attack.t1078]
`;

describe('loading rules', () => {
  it('collects every error with its line and keeps loading the other rules', () => {
    const text = [
      GOOD,
      // 2: unknown modifier (line 15 of the file).
      `title: Bad modifier
id: 22222222-2222-4222-8222-222222222222
logsource: {product: test}
detection:
  sel:
    A|containz: x
  condition: sel
`,
      // 3: condition refers to a missing identifier.
      `title: Bad condition
id: 33333333-3333-4333-8333-333333333333
logsource: {product: test}
detection:
  sel: {A: x}
  condition: sel and filter
`,
      // 4: deprecated aggregation: valid Sigma 1, unsupported here.
      `title: Aggregation
id: 44444444-4444-4444-8444-444444444444
logsource: {product: test}
detection:
  sel: {A: x}
  condition: sel | count() by B > 5
`,
      // 5: missing title and a level out of the enum.
      `id: 55555555-5555-4555-8555-555555555555
logsource: {product: test}
detection:
  sel: {A: x}
  condition: sel
level: severe
`,
    ].join('---\n');
    const set = ruleSetFromText(text, {}, 'pack.yml');
    expect(set.rules.map((r) => r.title)).toEqual(['Good rule']);
    const errors = set.issues.filter((i) => i.kind !== 'warning');
    expect(errors.map((e) => [e.kind, e.line])).toEqual([
      ['invalid', 15],
      ['invalid', 23],
      ['unsupported', 30],
      ['invalid', 32],
      ['invalid', 37],
    ]);
    expect(errors[0]!.message).toContain('containz');
    expect(errors[1]!.message).toContain('unknown search identifier "filter"');
    expect(errors[2]!.message).toContain('correlation rule');
    expect(errors.every((e) => e.file === 'pack.yml')).toBe(true);
  });

  it('reports YAML syntax errors with their line', () => {
    const set = ruleSetFromText('title: x\ndetection:\n  sel: [a, b\n  condition: sel\n');
    expect(set.rules).toHaveLength(0);
    expect(set.issues[0]?.kind).toBe('invalid');
    expect(set.issues[0]?.message).toMatch(/^YAML/);
    expect(set.issues[0]?.line).toBeGreaterThanOrEqual(3);
  });

  it('refuses duplicate ids', () => {
    const set = ruleSetFromText(`${GOOD}---\n${GOOD}`);
    expect(set.rules).toHaveLength(1);
    expect(set.issues.find((i) => i.kind === 'invalid')?.message).toContain('duplicate rule id');
  });

  it('warns about search identifiers the condition never uses', () => {
    const set = ruleSetFromText(GOOD.replace('condition: sel', 'unused: {B: 1}\n  condition: sel'));
    expect(set.rules).toHaveLength(1);
    expect(set.issues).toEqual([expect.objectContaining({ kind: 'warning', line: 6 })]);
  });

  it('skips deprecated rules when asked, counting them', () => {
    const set = ruleSetFromText(GOOD.replace('level: high', 'level: high\nstatus: deprecated'), {
      skipDeprecated: true,
    });
    expect(set.rules).toHaveLength(0);
    expect(set.stats().skipped_deprecated).toBe(1);
  });

  it('counts rules no pipeline maps as loaded but unmapped', () => {
    const set = ruleSetFromText(GOOD.replace('product: test', 'product: okta'));
    expect(set.stats()).toMatchObject({ detection: 1, runnable: 0, unmapped: 1 });
  });
});

describe('Sigma filters', () => {
  it('are ANDed to the conditions of the rules they name', () => {
    const text = `${GOOD}---
title: Ignore the build server
logsource: {product: test}
filter:
  rules: [11111111-1111-4111-8111-111111111111]
  selection: {Host: build01}
  condition: not selection
`;
    const set = ruleSetFromText(text);
    expect(set.issues.filter((i) => i.kind !== 'warning')).toEqual([]);
    const engine = new SigmaEngine(set);
    expect(matchingRules(engine, testEvent({ A: 'x', Host: 'build01' }))).toEqual([]);
    expect(matchingRules(engine, testEvent({ A: 'x', Host: 'laptop' }))).toEqual([
      '11111111-1111-4111-8111-111111111111',
    ]);
  });
});

describe('the level of a rule: status caps and configured overrides', () => {
  const rule = (id: string, title: string, status: string, level: string) => `title: ${title}
id: ${id}
status: ${status}
logsource: {product: test}
detection:
  sel: {A: x}
  condition: sel
level: ${level}
`;
  const text = [
    rule('a0000000-0000-4000-8000-000000000001', 'Experimental high', 'experimental', 'high'),
    rule('a0000000-0000-4000-8000-000000000002', 'Test critical', 'test', 'critical'),
    rule('a0000000-0000-4000-8000-000000000003', 'Test medium', 'test', 'medium'),
    rule('a0000000-0000-4000-8000-000000000004', 'Stable critical', 'stable', 'critical'),
    rule('a0000000-0000-4000-8000-000000000005', 'Experimental low', 'experimental', 'low'),
  ].join('---\n');
  const caps = { experimental: 'low', test: 'high' } as const;
  const levels = (options: Parameters<typeof ruleSetFromText>[1]) =>
    Object.fromEntries(
      ruleSetFromText(text, options).rules.map((r) => [r.title, [r.level, r.ruleLevel ?? null]]),
    );

  it('caps a rule’s default level by its status, keeping its own level beside', () => {
    expect(levels({ statusCaps: caps })).toEqual({
      'Experimental high': ['low', 'high'],
      'Test critical': ['high', 'critical'],
      'Test medium': ['medium', null],
      'Stable critical': ['critical', null],
      'Experimental low': ['low', null],
    });
    const set = ruleSetFromText(text, { statusCaps: caps });
    expect(set.rules[0]?.levelReason).toMatch(/status experimental caps the rule's level at low/);
  });

  it('sets levels by id or by title, over the cap', () => {
    const l = levels({
      statusCaps: caps,
      levelOverrides: { 'a0000000-0000-4000-8000-000000000001': 'critical', 'Test medium': 'informational' },
    });
    expect(l['Experimental high']).toEqual(['critical', 'high']);
    expect(l['Test medium']).toEqual(['informational', 'medium']);
    expect(l['Test critical']).toEqual(['high', 'critical']);
  });

  it('takes detect.level_overrides too, after the Sigma key, and names the key that set a level', () => {
    const set = ruleSetFromText(text, {
      statusCaps: caps,
      levelOverrides: { 'Test medium': 'informational' },
      generalLevelOverrides: { 'Test medium': 'critical', 'Stable critical': 'low' },
    });
    const by = new Map(set.rules.map((r) => [r.title, r]));
    expect(by.get('Test medium')).toMatchObject({
      level: 'informational',
      levelReason: 'set to informational by detect.sigma.level_overrides',
    });
    expect(by.get('Stable critical')).toMatchObject({
      level: 'low',
      ruleLevel: 'critical',
      levelReason: 'set to low by detect.level_overrides',
    });
  });

  it('carries the rule’s own level and the reason into the detection', () => {
    const engine = new SigmaEngine(ruleSetFromText(text, { statusCaps: caps }));
    const matches = engine.process([testEvent({ A: 'x' })]);
    const d = matches.map((m) => toCandidate(m).detection).find((x) => x.rule_title === 'Experimental high');
    expect(d).toMatchObject({
      level: 'low',
      rule_level: 'high',
      level_reasons: [expect.stringMatching(/experimental/)],
    });
    const plain = matches.map((m) => toCandidate(m).detection).find((x) => x.rule_title === 'Test medium');
    expect(plain?.rule_level).toBeUndefined();
  });
});
