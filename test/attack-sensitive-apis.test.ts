/**
 * The `cloudtrail-behavioral` sensitive-API list comes from ATT&CK, by the
 * rule scripts/attack-cloudtrail-apis.ts states — not from a test data set's
 * catalogue. A small bundle of our own checks the rule; the real bundle
 * (../shared/data/attack) checks that the committed list is what it gives.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apiNames, sensitiveApis } from '../scripts/attack-cloudtrail-apis.ts';
import { SENSITIVE_API_SOURCES } from '../src/detect/ml/features/cloudtrail-behavioral.ts';
import { sharedData } from './helpers/data.ts';

/** A technique, its detection strategy and one analytic whose CloudTrail channel names `channel`. */
function technique(n: number, tactic: string, channel: string, extra: Record<string, unknown> = {}) {
  return [
    {
      type: 'attack-pattern',
      id: `attack-pattern--${n}`,
      external_references: [{ source_name: 'mitre-attack', external_id: `T9${String(n).padStart(3, '0')}` }],
      kill_chain_phases: [{ phase_name: tactic }],
      ...extra,
    },
    {
      type: 'x-mitre-analytic',
      id: `x-mitre-analytic--${n}`,
      x_mitre_log_source_references: [{ name: 'AWS:CloudTrail', channel }],
    },
    {
      type: 'x-mitre-detection-strategy',
      id: `x-mitre-detection-strategy--${n}`,
      x_mitre_analytic_refs: [`x-mitre-analytic--${n}`],
    },
    {
      type: 'relationship',
      id: `relationship--${n}`,
      relationship_type: 'detects',
      source_ref: `x-mitre-detection-strategy--${n}`,
      target_ref: `attack-pattern--${n}`,
    },
  ];
}

describe('sensitive CloudTrail APIs from ATT&CK', () => {
  it('keeps calls ATT&CK cites for attack tactics, drops routine and read calls, and names the techniques', () => {
    const bundle = {
      objects: [
        ...technique(1, 'defense-evasion', 'StopLogging, DeleteTrail: calls that disable logging'),
        ...technique(2, 'credential-access', 'sts:GetSessionToken'),
        // Discovery cites it too: a routine call, even though evasion also names it.
        ...technique(3, 'discovery', 'DescribeInstances'),
        ...technique(4, 'defense-evasion', 'DescribeInstances'),
        // A read verb outside credential access.
        ...technique(5, 'defense-evasion', 'GetCallerIdentity'),
        // Revoked techniques do not count.
        ...technique(6, 'persistence', 'CreateUser', { revoked: true }),
        // A product name is not a call.
        ...technique(7, 'defense-evasion', 'CloudTrail configuration changes'),
      ],
    };
    expect(sensitiveApis(bundle)).toEqual([
      { api: 'DeleteTrail', techniques: ['T9001'], tactics: ['defense-evasion'] },
      { api: 'GetSessionToken', techniques: ['T9002'], tactics: ['credential-access'] },
      { api: 'StopLogging', techniques: ['T9001'], tactics: ['defense-evasion'] },
    ]);
    expect(apiNames('AWS IAM: ListUsers, ListRoles; rds:ExecuteStatement')).toEqual([
      'ListUsers',
      'ListRoles',
      'ExecuteStatement',
    ]);
  });

  const bundlePath = sharedData('attack', 'enterprise-attack.json');
  it.skipIf(!bundlePath)(
    'the committed list is exactly what the ATT&CK bundle gives, with its citations',
    () => {
      const derived = sensitiveApis(JSON.parse(readFileSync(bundlePath!, 'utf8')));
      expect(SENSITIVE_API_SOURCES.map(([api, t]) => [api, t])).toEqual(
        derived.map((a) => [a.api, a.techniques.join(' ')]),
      );
    },
    120_000,
  );
});
