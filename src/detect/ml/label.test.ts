import { describe, expect, it } from 'vitest';
import { defaultBenignLabeller, HEURISTIC_LABELLERS, type Labeller, labelRecord } from './label.ts';

describe('heuristic CloudTrail labeller', () => {
  it('labels declared attack files, else benign — naming the labeller', async () => {
    const benign = { eventName: 'ListBuckets', userAgent: 'aws-cli/2' };
    expect(await labelRecord(benign, HEURISTIC_LABELLERS, { declaredAttack: false })).toMatchObject({
      label: 'benign',
      labeller: 'heuristic:default-benign',
    });
    expect(await labelRecord(benign, HEURISTIC_LABELLERS, { declaredAttack: true })).toMatchObject({
      label: 'attack',
      labeller: 'heuristic:declared-attack-file',
    });
    expect((await labelRecord('not a record', HEURISTIC_LABELLERS, { declaredAttack: false })).label).toBe(
      'benign',
    );
  });

  it('knows no test data set: the marker of one data set (the Stratus user agent) labels nothing by default', async () => {
    const stratus = { eventName: 'GetPasswordData', userAgent: 'stratus-red-team_abc' };
    expect(HEURISTIC_LABELLERS.map((l) => l.name)).toEqual([
      'heuristic:declared-attack-file',
      'heuristic:default-benign',
    ]);
    expect(await labelRecord(stratus, HEURISTIC_LABELLERS, { declaredAttack: false })).toMatchObject({
      label: 'benign',
      labeller: 'heuristic:default-benign',
    });
  });

  it('uses a labeller the caller passes (how evaluation scripts bring a data set marker)', async () => {
    const marker: Labeller = {
      name: 'dataset:example',
      label: (r) =>
        (r as { eventName?: string }).eventName === 'StopLogging'
          ? { label: 'attack', labeller: 'dataset:example', reason: 'the data set says so' }
          : undefined,
    };
    const chain = [marker, defaultBenignLabeller];
    expect((await labelRecord({ eventName: 'StopLogging' }, chain, { declaredAttack: false })).labeller).toBe(
      'dataset:example',
    );
    expect((await labelRecord({ eventName: 'ListBuckets' }, chain, { declaredAttack: false })).label).toBe(
      'benign',
    );
  });
});
