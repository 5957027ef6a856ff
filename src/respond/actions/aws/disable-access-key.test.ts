import {
  GetAccessKeyLastUsedCommand,
  IAMClient,
  ListAccessKeysCommand,
  type StatusType,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AisocError } from '../../../errors.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { awsError, callLog, FAST_RETRY } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { disableAccessKeyFactory } from './disable-access-key.ts';

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const OTHER_KEY = 'AKIAI44QH8DHBEXAMPLE';
const CONFIG = { region: 'us-east-1', retry: FAST_RETRY };

/** An in-memory IAM with one user and two keys, behind the mocked client. */
function fakeIam() {
  const iam = mockClient(IAMClient);
  const keys = new Map<string, { user: string; status: StatusType }>([
    [KEY, { user: 'dev-alice', status: 'Active' }],
    [OTHER_KEY, { user: 'dev-alice', status: 'Active' }],
  ]);
  let failing = false;
  const guard = () => {
    if (failing)
      throw awsError('AccessDenied', 'User: arn:aws:iam::111122223333:user/aisoc is not authorized', 403);
  };
  iam.on(GetAccessKeyLastUsedCommand).callsFake((input: { AccessKeyId: string }) => {
    guard();
    const k = keys.get(input.AccessKeyId);
    if (!k) throw awsError('AccessDenied', 'The access key is not in this account', 403);
    return { UserName: k.user, AccessKeyLastUsed: { Region: 'us-east-1', ServiceName: 's3' } };
  });
  iam.on(ListAccessKeysCommand).callsFake((input: { UserName: string }) => {
    guard();
    if (!['dev-alice', 'dev-bob'].includes(input.UserName))
      throw awsError('NoSuchEntity', `The user with name ${input.UserName} cannot be found.`, 404);
    return {
      AccessKeyMetadata: [...keys]
        .filter(([, k]) => k.user === input.UserName)
        .map(([id, k]) => ({ UserName: k.user, AccessKeyId: id, Status: k.status })),
      IsTruncated: false,
    };
  });
  iam.on(UpdateAccessKeyCommand).callsFake((input: { AccessKeyId: string; Status: StatusType }) => {
    guard();
    const k = keys.get(input.AccessKeyId);
    if (!k) throw awsError('NoSuchEntity', 'The Access Key with id cannot be found.', 404);
    k.status = input.Status;
    return {};
  });
  return {
    iam,
    keys,
    fail: () => {
      failing = true;
    },
  };
}

describeActionConformance({
  factory: disableAccessKeyFactory,
  config: CONFIG,
  async harness() {
    const f = fakeIam();
    return {
      mutations: () =>
        callLog(f.iam)
          .map(([op]) => op)
          .filter((op) => op === 'UpdateAccessKey'),
      calls: () => f.iam.calls().length,
      state: () => Object.fromEntries(f.keys),
      fail: f.fail,
      async close() {
        f.iam.restore();
      },
    };
  },
  validInput: { access_key_id: KEY },
  equivalentInput: { access_key_id: ` ${KEY.toLowerCase()} ` },
  otherInput: { access_key_id: OTHER_KEY },
  badInputs: [
    { input: { access_key_id: 'ASIAIOSFODNN7EXAMPLE' }, field: 'access_key_id' },
    { input: { access_key_id: KEY, user_name: 'bad name!' }, field: 'user_name' },
    { input: {}, field: 'access_key_id' },
    { input: { access_key_id: KEY, extra: 1 }, field: 'extra' },
  ],
  repeatSkips: true,
});

describe('aws.iam.disable_access_key', () => {
  let f: ReturnType<typeof fakeIam>;
  beforeEach(() => {
    f = fakeIam();
  });
  afterEach(() => {
    f.iam.restore();
  });
  const action = () => disableAccessKeyFactory.create(CONFIG, { logger: silentLogger() });
  const run = { dryRun: false, idempotencyKey: 'k' };

  it('looks the owner up, reads the status, then sets the key Inactive — exactly these calls', async () => {
    const r = await action().execute({ access_key_id: KEY }, run);
    expect(r.status).toBe('succeeded');
    expect(callLog(f.iam)).toEqual([
      ['GetAccessKeyLastUsed', { AccessKeyId: KEY }],
      ['ListAccessKeys', { UserName: 'dev-alice' }],
      ['UpdateAccessKey', { UserName: 'dev-alice', AccessKeyId: KEY, Status: 'Inactive' }],
    ]);
    expect(r.rollback_data).toEqual({
      user_name: 'dev-alice',
      access_key_id: KEY,
      previous_status: 'Active',
    });
    expect(f.keys.get(OTHER_KEY)?.status).toBe('Active');
  });

  it('skips the owner lookup when the user is given', async () => {
    await action().execute({ access_key_id: KEY, user_name: 'dev-alice' }, run);
    expect(callLog(f.iam).map(([op]) => op)).toEqual(['ListAccessKeys', 'UpdateAccessKey']);
  });

  it('is skipped, with nothing to roll back, when the key is already inactive', async () => {
    f.keys.get(KEY)!.status = 'Inactive';
    const r = await action().execute({ access_key_id: KEY }, run);
    expect(r.status).toBe('skipped');
    expect(r.rollback_data).toBeUndefined();
    expect(callLog(f.iam).map(([op]) => op)).not.toContain('UpdateAccessKey');
  });

  it('retries throttling with back-off, then succeeds', async () => {
    f.iam
      .on(UpdateAccessKeyCommand)
      .rejectsOnce(awsError('Throttling', 'Rate exceeded'))
      .rejectsOnce(awsError('ServiceFailure', 'Internal failure', 500))
      .resolves({});
    const r = await action().execute({ access_key_id: KEY, user_name: 'dev-alice' }, run);
    expect(r.status).toBe('succeeded');
    expect(callLog(f.iam).map(([op]) => op)).toEqual([
      'ListAccessKeys',
      'UpdateAccessKey',
      'UpdateAccessKey',
      'UpdateAccessKey',
    ]);
  });

  it('gives up on persistent throttling with AISOC_ERR_ACTION_THROTTLED after max_attempts', async () => {
    f.iam.on(UpdateAccessKeyCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    const err = await action()
      .execute({ access_key_id: KEY, user_name: 'dev-alice' }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_THROTTLED');
    expect(callLog(f.iam).filter(([op]) => op === 'UpdateAccessKey')).toHaveLength(FAST_RETRY.max_attempts);
  });

  it('reports an unknown user as AISOC_ERR_ACTION_NOT_FOUND without retrying', async () => {
    const err = await action()
      .execute({ access_key_id: KEY, user_name: 'nobody' }, run)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AisocError);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_NOT_FOUND');
    expect((err as AisocError).details).toMatchObject({
      aws_error: 'NoSuchEntity',
      call: 'IAM ListAccessKeys',
    });
    expect(f.iam.calls()).toHaveLength(1);
  });

  it('reports a key of another user as not found, naming the field', async () => {
    f.keys.set(KEY, { user: 'dev-bob', status: 'Active' });
    const err = await action()
      .execute({ access_key_id: KEY, user_name: 'dev-alice' }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_NOT_FOUND');
    expect((err as AisocError).field).toBe('access_key_id');
  });

  it('reports AccessDenied as AISOC_ERR_ACTION_ACCESS_DENIED', async () => {
    f.iam
      .on(UpdateAccessKeyCommand)
      .rejects(awsError('AccessDenied', 'not authorized to perform iam:UpdateAccessKey', 403));
    const err = await action()
      .execute({ access_key_id: KEY }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_ACCESS_DENIED');
    expect(callLog(f.iam).filter(([op]) => op === 'UpdateAccessKey')).toHaveLength(1);
  });

  it('rolls back by setting the key Active, and skips a key someone re-enabled already', async () => {
    const a = action();
    const r = await a.execute({ access_key_id: KEY }, run);
    f.iam.resetHistory();
    const rb = await a.rollback!({ access_key_id: KEY }, r.rollback_data, run);
    expect(rb.status).toBe('succeeded');
    expect(callLog(f.iam)).toEqual([
      ['ListAccessKeys', { UserName: 'dev-alice' }],
      ['UpdateAccessKey', { UserName: 'dev-alice', AccessKeyId: KEY, Status: 'Active' }],
    ]);
    const again = await a.rollback!({ access_key_id: KEY }, r.rollback_data, run);
    expect(again.status).toBe('skipped');
  });

  it('a dry-run rollback only reads', async () => {
    const a = action();
    const r = await a.execute({ access_key_id: KEY }, run);
    f.iam.resetHistory();
    const rb = await a.rollback!({ access_key_id: KEY }, r.rollback_data, {
      dryRun: true,
      idempotencyKey: 'k',
    });
    expect(rb.status).toBe('dry_run');
    expect(callLog(f.iam).map(([op]) => op)).toEqual(['ListAccessKeys']);
    expect(f.keys.get(KEY)?.status).toBe('Inactive');
  });
});
