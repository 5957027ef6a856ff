/**
 * EVALUATION KNOWLEDGE OF ONE DATA SET — never imported by product code (src/).
 *
 * The Invictus AWS data set (invictus-ir/aws_dataset, MIT; in
 * ../shared/data/cloudtrail/invictus/records-dev.json): 1,910 CloudTrail
 * records of one real AWS account, attack simulations mixed with normal
 * activity. Its documentation (../shared/data/README.md) gives the one
 * marker of ground truth: records whose `userAgent` contains
 * `stratus-red-team` belong to attack runs, their set-up calls included;
 * evaluation data from the same account strips that user agent, so nothing
 * may detect on it. This module is where that marker is read — to label
 * training data for `models/build.sh` and to score alerts in the evaluation
 * scripts beside it — and where it is stripped before any detector or
 * analyst sees a record.
 */
import { readFileSync } from 'node:fs';
import { defaultBenignLabeller, type Labeller } from '../../src/detect/ml/label.ts';
import { unwrapCloudTrail } from '../../src/sources/cloudtrail/parse.ts';
import { frameBody } from '../../src/sources/framing.ts';

/** The data set's documented marker of attack runs. */
export const ATTACK_RUN_MARKER = 'stratus-red-team';

/** Whether a record belongs to an attack run, by the data set's own marker. */
export function isAttackRun(record: unknown): boolean {
  const ua = (record as { userAgent?: unknown } | null)?.userAgent;
  return typeof ua === 'string' && ua.includes(ATTACK_RUN_MARKER);
}

/** The record as the data set's evaluation data has it: without the marking user agent. */
export function stripMarker(record: unknown): unknown {
  if (!isAttackRun(record)) return record;
  const { userAgent: _marker, ...rest } = record as Record<string, unknown>;
  return rest;
}

/** Labels attack-run records `attack` (the data set's marker); passes on the others. */
export const invictusAttackRunLabeller: Labeller = {
  name: 'dataset:invictus-attack-run',
  label: (record) =>
    isAttackRun(record)
      ? {
          label: 'attack',
          labeller: 'dataset:invictus-attack-run',
          reason: `the data set marks attack runs by the user agent ${ATTACK_RUN_MARKER}`,
        }
      : undefined,
};

/** The labeller chain for Invictus files: the data set's marker, else benign. */
export const INVICTUS_LABELLERS: readonly Labeller[] = [invictusAttackRunLabeller, defaultBenignLabeller];

/** Every CloudTrail record of a file (`{"Records": […]}`, an array or JSON lines). */
export function readRecords(file: string): unknown[] {
  return frameBody(readFileSync(file, 'utf8'), 'json').flatMap((r) => unwrapCloudTrail(r.value));
}
