import { describe, expect, it } from 'vitest';
import { SigmaEngine, type SigmaMatch } from './engine.ts';
import { ruleSetFromText, testEvent } from './testing.ts';

const BASE = `title: Failed login
id: failed
name: failed_login
logsource: {product: test, service: auth}
detection:
  sel: {outcome: failure}
  condition: sel
level: low
---
title: Successful login
id: success
name: successful_login
logsource: {product: test, service: auth}
detection:
  sel: {outcome: success}
  condition: sel
level: low
`;

function engine(correlations: string, limits = {}): SigmaEngine {
  const set = ruleSetFromText(`${BASE}---\n${correlations}`);
  const errors = set.issues.filter((i) => i.kind !== 'warning');
  if (errors.length) throw new Error(errors.map((e) => `${e.line}: ${e.message}`).join('; '));
  return new SigmaEngine(set, { correlation: limits });
}

const t0 = Date.parse('2024-05-01T12:00:00Z');
const login = (outcome: string, src: string, user: string, atSeconds: number) =>
  testEvent(
    { outcome, src, user },
    { time: new Date(t0 + atSeconds * 1000).toISOString(), metadata: { log_name: 'auth' } },
  );
const titles = (ms: SigmaMatch[]) => ms.map((m) => m.rule.title);

describe('correlation rules', () => {
  const bruteForce = `title: Brute force
id: brute
name: brute_force
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [src]
  timespan: 5m
  condition: {gte: 3}
level: high
`;

  it('event_count fires once the count is met within the timespan, per group', () => {
    const e = engine(bruteForce);
    const out = e.process([
      login('failure', '10.0.0.1', 'a', 0),
      login('failure', '10.0.0.2', 'a', 10),
      login('failure', '10.0.0.1', 'a', 20),
      login('failure', '10.0.0.1', 'b', 30),
    ]);
    expect(titles(out)).toEqual(['Brute force']);
    expect(out[0]!.group).toEqual({ src: '10.0.0.1' });
    expect(out[0]!.events).toHaveLength(3);
    expect(out[0]!.count).toBe(3);
  });

  it('event_count does not fire when the events are spread wider than the timespan', () => {
    const e = engine(bruteForce);
    const out = e.process([
      login('failure', '10.0.0.1', 'a', 0),
      login('failure', '10.0.0.1', 'a', 200),
      login('failure', '10.0.0.1', 'a', 400),
    ]);
    expect(out).toEqual([]);
  });

  it('the referenced rules do not alert on their own unless generate is true', () => {
    const quiet = engine(bruteForce);
    expect(quiet.process([login('failure', '10.0.0.1', 'a', 0)])).toEqual([]);
    const loud = engine(bruteForce.replace('timespan: 5m', 'timespan: 5m\n  generate: true'));
    expect(titles(loud.process([login('failure', '10.0.0.1', 'a', 0)]))).toEqual(['Failed login']);
  });

  it('value_count counts distinct values of a field', () => {
    const e = engine(`title: Spray
id: spray
correlation:
  type: value_count
  rules: [failed_login]
  group-by: [src]
  timespan: 10m
  condition: {field: user, gte: 3}
`);
    const same = e.process([0, 1, 2, 3].map((i) => login('failure', '10.0.0.9', 'alice', i)));
    expect(same).toEqual([]);
    const many = e.process(['bob', 'carol', 'dave'].map((u, i) => login('failure', '10.0.0.9', u, 10 + i)));
    expect(titles(many)).toEqual(['Spray']);
    expect(many[0]!.count).toBe(3);
  });

  it('temporal needs every rule within the timespan, in any order', () => {
    const e = engine(`title: Both
id: both
correlation:
  type: temporal
  rules: [successful_login, failed_login]
  group-by: [user]
  timespan: 1m
`);
    expect(e.process([login('success', 'x', 'u1', 0), login('failure', 'x', 'u2', 5)])).toEqual([]);
    expect(titles(e.process([login('failure', 'x', 'u1', 10)]))).toEqual(['Both']);
  });

  it('temporal_ordered needs the rules in order', () => {
    const text = `title: Fail then succeed
id: ordered
correlation:
  type: temporal_ordered
  rules: [failed_login, successful_login]
  group-by: [user]
  timespan: 1m
`;
    const wrongOrder = engine(text);
    expect(wrongOrder.process([login('success', 'x', 'u', 0), login('failure', 'x', 'u', 5)])).toEqual([]);
    const rightOrder = engine(text);
    const out = rightOrder.process([login('failure', 'x', 'u', 0), login('success', 'x', 'u', 5)]);
    expect(titles(out)).toEqual(['Fail then succeed']);
    expect(out[0]!.events.map((ev) => (ev.raw as { outcome: string }).outcome)).toEqual([
      'failure',
      'success',
    ]);
    const tooLate = engine(text);
    expect(tooLate.process([login('failure', 'x', 'u', 0), login('success', 'x', 'u', 120)])).toEqual([]);
  });

  it('chains correlations: brute force followed by a success from the same source', () => {
    const e = engine(`${bruteForce}---
title: Brute force then success
id: chain
correlation:
  type: temporal_ordered
  rules: [brute_force, successful_login]
  group-by: [src]
  timespan: 10m
level: critical
`);
    const out = e.process([
      login('failure', '10.0.0.1', 'a', 0),
      login('failure', '10.0.0.1', 'a', 1),
      login('failure', '10.0.0.1', 'a', 2),
      login('success', '10.0.0.2', 'a', 3),
      login('success', '10.0.0.1', 'a', 4),
    ]);
    // The brute force is only a step of the chain: it does not alert by itself.
    expect(titles(out)).toEqual(['Brute force then success']);
    expect(out[0]!.rule.level).toBe('critical');
    expect(out[0]!.events).toHaveLength(4);
  });

  it('judges upper-bounded conditions when the window closes', () => {
    const e = engine(`title: Exactly two
id: two
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [src]
  timespan: 1m
  condition: {eq: 2}
`);
    expect(e.process([login('failure', 'a', 'u', 0), login('failure', 'a', 'u', 10)])).toEqual([]);
    // A later event closes the first window.
    expect(titles(e.process([login('failure', 'b', 'u', 120)]))).toEqual(['Exactly two']);
    expect(e.flush()).toEqual([]);
  });

  it('keeps memory bounded: groups are capped and expire in event time', () => {
    const e = engine(bruteForce, { maxGroups: 50 });
    e.process(Array.from({ length: 500 }, (_, i) => login('failure', `10.1.${i >> 8}.${i & 255}`, 'u', i)));
    expect(e.correlationGroups()).toBeLessThanOrEqual(50);
    e.process([login('failure', '10.9.9.9', 'u', 5000)]);
    e.expire();
    expect(e.correlationGroups()).toBe(1);
  });
});

describe('correlation rule validation', () => {
  it('names unknown rule references and bad timespans with their lines', () => {
    const set = ruleSetFromText(`${BASE}---
title: Broken
id: broken
correlation:
  type: event_count
  rules: [nope]
  group-by: [src]
  timespan: 5m
  condition: {gte: 2}
---
title: Bad span
id: badspan
correlation:
  type: temporal
  rules: [failed_login]
  timespan: five minutes
`);
    const errors = set.issues.filter((i) => i.kind === 'invalid');
    expect(errors.map((i) => i.message)).toEqual([
      expect.stringContaining('"nope"'),
      expect.stringContaining('timespan'),
    ]);
    expect(errors.map((i) => i.line)).toEqual([23, 33]);
    expect(set.correlations).toHaveLength(0);
  });
});

describe('correlation aliases', () => {
  it('group events whose grouping field has different names in different rules', () => {
    const e = engine(`title: Same host, two names
id: alias
correlation:
  type: temporal
  rules: [failed_login, successful_login]
  group-by: [account]
  timespan: 1m
  aliases:
    account:
      failed_login: user
      successful_login: src
`);
    // The failure's user equals the success's src: the alias joins them.
    expect(titles(e.process([login('failure', 'x', 'bob', 0), login('success', 'bob', 'other', 5)]))).toEqual(
      ['Same host, two names'],
    );
    expect(e.process([login('failure', 'x', 'carol', 10), login('success', 'dave', 'carol', 15)])).toEqual(
      [],
    );
  });
});

describe('correlation alert volume', () => {
  it('a burst gives one alert per group per timespan', () => {
    const e = engine(`title: Brute force
id: brute
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [src]
  timespan: 5m
  condition: {gte: 3}
`);
    const burst = Array.from({ length: 50 }, (_, i) => login('failure', '10.0.0.1', 'a', i));
    expect(e.process(burst)).toHaveLength(1);
    // After the quiet period, a new burst alerts again.
    const later = Array.from({ length: 3 }, (_, i) => login('failure', '10.0.0.1', 'a', 400 + i));
    expect(e.process(later)).toHaveLength(1);
  });
});
