import { describe, expect, it } from 'vitest';
import { HEURISTIC_LABELLERS, labelRecord } from './label.ts';

describe('heuristic CloudTrail labeller', () => {
  it('labels declared attack files, then the Stratus user agent, else benign — naming the labeller', async () => {
    const benign = { eventName: 'ListBuckets', userAgent: 'aws-cli/2' };
    const stratus = { eventName: 'GetPasswordData', userAgent: 'stratus-red-team_abc' };
    expect(await labelRecord(benign, HEURISTIC_LABELLERS, { declaredAttack: false })).toMatchObject({
      label: 'benign',
      labeller: 'heuristic:default-benign',
    });
    expect(await labelRecord(stratus, HEURISTIC_LABELLERS, { declaredAttack: false })).toMatchObject({
      label: 'attack',
      labeller: 'heuristic:stratus-user-agent',
    });
    expect(await labelRecord(benign, HEURISTIC_LABELLERS, { declaredAttack: true })).toMatchObject({
      label: 'attack',
      labeller: 'heuristic:declared-attack-file',
    });
    expect((await labelRecord('not a record', HEURISTIC_LABELLERS, { declaredAttack: false })).label).toBe(
      'benign',
    );
  });
});
