/**
 * The evaluation scripts that know the Invictus data set (scripts/eval/): its
 * attack-run marker labels records and is stripped before anything detects;
 * alerts are scored on that ground truth. A small CloudTrail file of our own
 * making stands in for the data set.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  INVICTUS_LABELLERS,
  invictusAttackRunLabeller,
  isAttackRun,
  stripMarker,
} from '../scripts/eval/invictus.ts';
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
});
