/**
 * The evaluation scripts that know the Invictus data set (scripts/eval/): its
 * attack-run marker labels records and is stripped before anything detects;
 * alerts are scored on that ground truth. A small CloudTrail file of our own
 * making stands in for the data set.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  INVICTUS_LABELLERS,
  invictusAttackRunLabeller,
  isAttackRun,
  stripMarker,
} from '../scripts/eval/invictus.ts';
import { noiseEvaluation } from '../scripts/eval/noise.ts';
import { triageOnGroundTruth } from '../scripts/eval/triage-invictus.ts';
import { loadConfig } from '../src/app-config.ts';
import { labelCloudTrailFiles } from '../src/detect/ml/label.ts';
import { tempDir } from './helpers/runtime.ts';

const MARKED = 'stratus-red-team_5e2b0c1d';

function record(i: number, eventName: string, attack: boolean, source = 'cloudtrail.amazonaws.com') {
  return {
    eventVersion: '1.08',
    eventID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    eventTime: `2024-05-06T10:${String(i).padStart(2, '0')}:00Z`,
    eventSource: source,
    eventName,
    awsRegion: 'eu-west-1',
    sourceIPAddress: '198.51.100.7',
    userAgent: attack ? MARKED : 'aws-cli/2.15',
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/ops', userName: 'ops' },
    requestParameters: { name: 'trail-1' },
  };
}

describe('Invictus evaluation scripts', { timeout: 120_000 }, () => {
  const tmp = tempDir('aisoc-eval-invictus-');
  afterAll(tmp.cleanup);
  const records = [
    record(1, 'StopLogging', true),
    record(2, 'DescribeTrails', true),
    record(3, 'StopLogging', false),
    record(4, 'ListBuckets', false, 's3.amazonaws.com'),
  ];
  const file = join(tmp.dir, 'records.json');
  writeFileSync(file, JSON.stringify({ Records: records }));

  it('labels by the data set marker and strips it', async () => {
    expect(records.map(isAttackRun)).toEqual([true, true, false, false]);
    expect(stripMarker(records[0])).not.toHaveProperty('userAgent');
    expect(stripMarker(records[2])).toBe(records[2]);
    const r = await labelCloudTrailFiles([file], { declaredAttack: false, labellers: INVICTUS_LABELLERS });
    expect(r.counts).toEqual({
      [`attack by ${invictusAttackRunLabeller.name}`]: 2,
      'benign by heuristic:default-benign': 2,
    });
  });

  it('scores alerts on ground truth: an alert is a true positive when its events are in an attack run', async () => {
    // No knowledge base here: the analyst runs without retrieval, which is all this test needs.
    const config = loadConfig({
      env: {},
      overrides: { knowledge: { attack_path: join(tmp.dir, 'absent.json') } },
    });
    const r = await triageOnGroundTruth(file, config);
    expect(r.records).toBe(4);
    expect(r.attack_run_records).toBe(2);
    // The pack's "trail stopped" rule fires on both StopLogging calls: one in an attack run, one not.
    expect(r.detection).toMatchObject({
      alerts: 2,
      true_positives: 1,
      false_positives: 1,
      alert_precision: 0.5,
      attack_run_records_cited: 1,
      benign_records_cited: 1,
    });
    expect(r.triage.n).toBe(2);
    expect(r.triage.confusion!.tp + r.triage.confusion!.fn).toBe(1);
    expect(r.triage.confusion!.fp + r.triage.confusion!.tn).toBe(1);
  });

  it('measures noise control off and on: learning on the first half in time, figures on the second', () => {
    const shared = join(tmp.dir, 'shared');
    mkdirSync(join(shared, 'cloudtrail', 'invictus'), { recursive: true });
    mkdirSync(join(shared, 'cloudtrail', 'stratus-detonation'), { recursive: true });
    mkdirSync(join(shared, 'sigma', 'rules', 'cloud', 'aws'), { recursive: true });
    const at = (minute: number, r: ReturnType<typeof record>) => ({
      ...r,
      eventTime: `2024-05-06T10:${String(minute).padStart(2, '0')}:00Z`,
    });
    const list = (i: number) => record(i, 'ListBuckets', false, 's3.amazonaws.com');
    writeFileSync(
      join(shared, 'cloudtrail', 'invictus', 'records-dev.json'),
      JSON.stringify({
        Records: [
          at(0, list(11)),
          at(1, record(12, 'StopLogging', true)),
          // The second half (from 10:10): a listing seen before, twice, and the same attack again.
          at(12, list(13)),
          at(15, record(14, 'StopLogging', true)),
          at(20, list(15)),
        ],
      }),
    );
    writeFileSync(
      join(shared, 'cloudtrail', 'stratus-detonation', 'aws.defense-evasion.cloudtrail-stop.json'),
      '[{"eventName":"StopLogging"}]',
    );
    // A generic rule standing in for SigmaHQ's: every bucket listing, at level low.
    writeFileSync(
      join(shared, 'sigma', 'rules', 'cloud', 'aws', 'list.yml'),
      'title: Bucket listing\nid: 0c0ffee0-0000-4000-8000-000000000001\nstatus: test\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel: {eventName: ListBuckets}\n  condition: sel\nlevel: low\n',
    );
    const r = noiseEvaluation(shared);
    expect(r.learning).toMatchObject({ from: '2024-05-06T10:00:00.000Z', to: '2024-05-06T10:10:00.000Z' });
    expect(r.measured.benign_records).toBe(2);
    const [pack, generic] = r.results;
    // The pack's trail rule on the second detonation: seen before, so one level lower (high → medium), still caught.
    expect(pack!.on).toMatchObject({
      false_alarms: 0,
      detonations: 1,
      detonations_caught: 1,
      recall: 1,
      lowered: 1,
    });
    // The generic rule: two listings folded into one alert in the queue; familiar to ops, lowered to informational.
    expect(generic!.off).toMatchObject({
      false_alarms: 1,
      benign_rule_matches: 2,
      benign_calls_alerted: 2,
      recall: 1,
    });
    expect(generic!.on).toMatchObject({
      false_alarms: 0,
      benign_rule_matches: 0,
      benign_calls_alerted: 0,
      recall: 1,
    });
    expect(generic!.off.false_alarms_by_rule).toEqual([{ rule: 'Bucket listing', alerts: 1 }]);
  });
});
