import { describe, expect, it } from 'vitest';
import { checkVerdict, resolvePath, statedNumbers } from './checker.ts';

const event = {
  id: 'e1',
  actor: { user: { name: 'dev-alice' } },
  src_endpoint: { ip: '203.0.113.45', port: 50122 },
  raw: { requestParameters: { secretId: 'prod/db' }, items: [{ n: 6 }] },
  message: 'Failed password for root from 203.0.113.45 port 50122 ssh2 (47 attempts)',
};
const ctx = { records: new Map<string, unknown>([['e1', event]]), derivedNumbers: [12] };
const base = { summary: 'SSH brute force from 203.0.113.45', mitre_techniques: ['T1110'] };

describe('evidence checker', () => {
  it('accepts a verdict whose citations and numbers are all in the data', () => {
    const r = checkVerdict(
      {
        ...base,
        evidence: [
          {
            claim: 'Source 203.0.113.45 made 47 attempts on port 50122',
            event_ids: ['e1'],
            fields: ['src_endpoint.ip', 'message'],
          },
          { claim: '12 events in total', event_ids: [], fields: ['raw.items[0].n'] },
        ],
      },
      ctx,
    );
    expect(r).toEqual({ ok: true, findings: [] });
  });

  it('rejects unknown events, missing fields and invented numbers, saying where', () => {
    const r = checkVerdict(
      {
        ...base,
        summary: 'An attacker made 900 attempts',
        evidence: [
          {
            claim: 'The user downloaded 3 GB',
            event_ids: ['e1', 'e-invented'],
            fields: ['actor.user.name', 'network.bytes_out'],
          },
        ],
      },
      { ...ctx, knownTechniques: new Set(['T1078']) },
    );
    expect(r.ok).toBe(false);
    expect(r.findings.map((f) => f.path)).toEqual([
      'evidence[0].event_ids[1]',
      'evidence[0].fields[1]',
      'evidence[0].claim',
      'summary',
      'mitre_techniques[0]',
    ]);
    expect(r.findings[2]!.problem).toContain('3');
  });

  it('does not mistake addresses, technique ids, dates and identifiers for stated numbers', () => {
    expect(
      statedNumbers(
        'From 10.0.0.1/32 at 2026-11-19T08:00:00Z, T1110.001 by user2 with key AKIA123X: 5 tries and 2.5 GB',
      ),
    ).toEqual(['5', '2.5']);
  });

  it('resolves dotted paths with array indexes', () => {
    expect(resolvePath(event, 'raw.items[0].n')).toBe(6);
    expect(resolvePath(event, 'raw.items[3].n')).toBeUndefined();
    expect(resolvePath(event, 'actor.user.name.length')).toBeUndefined();
  });

  it('accepts only own fields of the cited records, never inherited properties', () => {
    const inherited = [
      'constructor',
      'toString',
      '__proto__',
      'hasOwnProperty',
      'valueOf',
      'actor.constructor',
      'actor.user.__proto__',
      'raw.items.length',
      'raw.items.constructor',
      'raw.items[0].constructor.name',
      'message.length',
    ];
    for (const field of inherited) {
      expect(resolvePath(event, field), field).toBeUndefined();
      const r = checkVerdict(
        { ...base, evidence: [{ claim: 'benign', event_ids: ['e1'], fields: [field] }] },
        ctx,
      );
      expect(r.ok, field).toBe(false);
      expect(r.findings[0]!.problem).toContain(`field ${field} is not present`);
      // Without a cited event the pool is every record: inherited names are refused there too.
      expect(
        checkVerdict({ ...base, evidence: [{ claim: 'x', event_ids: [], fields: [field] }] }, ctx).ok,
      ).toBe(false);
    }
    // A field that is really in the data under such a name (JSON can carry one) is its own, and counts.
    const odd = JSON.parse('{"id":"e2","__proto__":{"x":"y"},"constructor":"c"}') as Record<string, unknown>;
    expect(resolvePath(odd, 'constructor')).toBe('c');
    expect(resolvePath(odd, '__proto__.x')).toBe('y');
    // Prototype-less and class instances: only own enumerable data counts.
    expect(resolvePath(Object.assign(Object.create(null), { a: 1 }), 'a')).toBe(1);
    expect(resolvePath(new Map([['a', 1]]), 'size')).toBeUndefined();
  });
});
