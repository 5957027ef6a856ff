import {
  DescribeSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AisocError } from '../../../errors.ts';
import { stableUuid } from '../../../ids.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { awsError, callLog, FAST_RETRY, mutatingCalls } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { rotateSecretFactory } from './rotate-secret.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db/app-AbCdEf';
const LAMBDA = 'arn:aws:lambda:eu-west-1:111122223333:function:SecretsManagerRotation';
const CONFIG = { region: 'eu-west-1', retry: FAST_RETRY };

interface FakeSecret {
  name: string;
  arn: string;
  rotationEnabled: boolean;
  lambda?: string;
  deleted?: Date;
  versions: Record<string, string[]>;
}

/** Secrets Manager with one secret whose rotation function completes at once. */
function fakeSm() {
  const mock = mockClient(SecretsManagerClient);
  const secrets = new Map<string, FakeSecret>();
  const add = (s: FakeSecret) => {
    secrets.set(s.name, s);
    secrets.set(s.arn, s);
  };
  add({
    name: 'prod/db/app',
    arn: ARN,
    rotationEnabled: true,
    lambda: LAMBDA,
    versions: { 'v-1': ['AWSCURRENT'] },
  });
  add({
    name: 'prod/legacy',
    arn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/legacy-XyZ123',
    rotationEnabled: false,
    versions: { 'v-9': ['AWSCURRENT'] },
  });
  let failing = false;
  const get = (id: string) => {
    if (failing)
      throw awsError(
        'AccessDeniedException',
        'not authorized to perform: secretsmanager:DescribeSecret',
        400,
      );
    const s = secrets.get(id);
    if (!s) throw awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return s;
  };
  mock.on(DescribeSecretCommand).callsFake((i: { SecretId: string }) => {
    const s = get(i.SecretId);
    return {
      ARN: s.arn,
      Name: s.name,
      RotationEnabled: s.rotationEnabled,
      ...(s.lambda ? { RotationLambdaARN: s.lambda } : {}),
      ...(s.deleted ? { DeletedDate: s.deleted } : {}),
      VersionIdsToStages: structuredClone(s.versions),
    };
  });
  mock.on(RotateSecretCommand).callsFake((i: { SecretId: string; ClientRequestToken: string }) => {
    const s = get(i.SecretId);
    if (!s.rotationEnabled && !s.lambda)
      throw awsError(
        'InvalidRequestException',
        'No Lambda rotation function ARN is associated with this secret.',
      );
    if (!s.versions[i.ClientRequestToken]) {
      for (const [v, stages] of Object.entries(s.versions)) {
        const rest = stages.filter((x) => x !== 'AWSPREVIOUS' && x !== 'AWSCURRENT');
        s.versions[v] = stages.includes('AWSCURRENT') ? [...rest, 'AWSPREVIOUS'] : rest;
        if (s.versions[v]!.length === 0) delete s.versions[v];
      }
      s.versions[i.ClientRequestToken] = ['AWSCURRENT'];
    }
    return { ARN: s.arn, Name: s.name, VersionId: i.ClientRequestToken };
  });
  return {
    mock,
    secrets,
    fail: () => {
      failing = true;
    },
  };
}

describeActionConformance({
  factory: rotateSecretFactory,
  config: CONFIG,
  async harness() {
    const f = fakeSm();
    return {
      mutations: () => mutatingCalls(f.mock),
      calls: () => f.mock.calls().length,
      fail: f.fail,
      async close() {
        f.mock.restore();
      },
    };
  },
  validInput: { secret_id: 'prod/db/app' },
  equivalentInput: { secret_id: ' prod/db/app', rotate_immediately: true },
  otherInput: { secret_id: 'prod/db/app', rotate_immediately: false },
  badInputs: [
    { input: { secret_id: '' }, field: 'secret_id' },
    { input: { secret_id: 'has space' }, field: 'secret_id' },
    { input: { secret_id: 'x', rotate_immediately: 'yes' }, field: 'rotate_immediately' },
  ],
});

describe('aws.secretsmanager.rotate_secret', () => {
  let f: ReturnType<typeof fakeSm>;
  beforeEach(() => {
    f = fakeSm();
  });
  afterEach(() => {
    f.mock.restore();
  });
  const action = () => rotateSecretFactory.create(CONFIG, { logger: silentLogger() });
  const run = { dryRun: false, idempotencyKey: 'run-1' };
  const token = stableUuid('aws.secretsmanager.rotate_secret', 'run-1');

  it('describes, then rotates with a ClientRequestToken derived from the idempotency key — exactly these calls', async () => {
    const r = await action().execute({ secret_id: 'prod/db/app' }, run);
    expect(r.status).toBe('succeeded');
    expect(callLog(f.mock)).toEqual([
      ['DescribeSecret', { SecretId: 'prod/db/app' }],
      ['RotateSecret', { SecretId: 'prod/db/app', ClientRequestToken: token, RotateImmediately: true }],
    ]);
    expect(r.details).toMatchObject({ current_version_id: 'v-1', new_version_id: token });
    expect(f.secrets.get(ARN)!.versions).toEqual({ 'v-1': ['AWSPREVIOUS'], [token]: ['AWSCURRENT'] });
  });

  it('never rotates twice for one request: the second run is skipped', async () => {
    const a = action();
    await a.execute({ secret_id: 'prod/db/app' }, run);
    const again = await a.execute({ secret_id: 'prod/db/app' }, run);
    expect(again.status).toBe('skipped');
    expect(mutatingCalls(f.mock)).toEqual(['RotateSecret']);
  });

  it('refuses a secret without rotation configured, with a clear error and no rotate call', async () => {
    const err = await action()
      .execute({ secret_id: 'prod/legacy' }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_PRECONDITION');
    expect((err as AisocError).message).toContain('Rotation is not configured for secret prod/legacy');
    expect(mutatingCalls(f.mock)).toEqual([]);
  });

  it('refuses while another rotation is in progress', async () => {
    f.secrets.get(ARN)!.versions['v-2'] = ['AWSPENDING'];
    const err = await action()
      .execute({ secret_id: ARN }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_PRECONDITION');
    expect((err as AisocError).details).toMatchObject({ pending_version_id: 'v-2' });
  });

  it('refuses a secret scheduled for deletion', async () => {
    f.secrets.get(ARN)!.deleted = new Date('2026-11-30T00:00:00Z');
    const err = await action()
      .execute({ secret_id: ARN }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_PRECONDITION');
  });

  it('reports an unknown secret as AISOC_ERR_ACTION_NOT_FOUND', async () => {
    const err = await action()
      .execute({ secret_id: 'prod/none' }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_NOT_FOUND');
    expect((err as AisocError).details).toMatchObject({ aws_error: 'ResourceNotFoundException' });
  });

  it('retries a throttled RotateSecret with the same token, so one rotation happens', async () => {
    f.mock
      .on(RotateSecretCommand)
      .rejectsOnce(awsError('ThrottlingException', 'Rate exceeded'))
      .callsFake((i: { ClientRequestToken: string }) => ({
        ARN,
        Name: 'prod/db/app',
        VersionId: i.ClientRequestToken,
      }));
    const r = await action().execute({ secret_id: 'prod/db/app', rotate_immediately: false }, run);
    expect(r.status).toBe('succeeded');
    const rotations = callLog(f.mock).filter(([op]) => op === 'RotateSecret');
    expect(rotations).toEqual([
      ['RotateSecret', { SecretId: 'prod/db/app', ClientRequestToken: token, RotateImmediately: false }],
      ['RotateSecret', { SecretId: 'prod/db/app', ClientRequestToken: token, RotateImmediately: false }],
    ]);
  });

  it('names the rotation function in a dry run', async () => {
    const r = await action().execute({ secret_id: 'prod/db/app' }, { dryRun: true, idempotencyKey: 'k' });
    expect(r.summary).toBe(
      `Would rotate secret prod/db/app with ${LAMBDA}; its current value would stop working.`,
    );
  });
});
