import type { AccessKeyMetadata } from '@aws-sdk/client-iam';
import { z } from 'zod';
import { baseConfigShape, defineAction } from '../define.ts';
import { actionError, parseOrThrow } from '../errors.ts';
import type { RunContext } from '../types.ts';
import { awsCall } from './call.ts';
import { awsActionClient, awsConfigShape } from './client.ts';

const UserName = z.string().regex(/^[\w+=,.@-]{1,64}$/, 'must be an IAM user name');

export const DisableAccessKeyConfig = z
  .strictObject({ ...awsConfigShape, ...baseConfigShape })
  .describe('aws.iam.disable_access_key');

export const DisableAccessKeyInput = z.strictObject({
  access_key_id: z
    .string()
    .trim()
    .toUpperCase()
    .regex(
      /^AKIA[A-Z0-9]{16}$/,
      'must be a long-term IAM user access key id (AKIA…); temporary ASIA… keys cannot be disabled, revoke the role sessions instead',
    )
    .describe('The access key to disable, e.g. AKIAIOSFODNN7EXAMPLE'),
  user_name: UserName.optional().describe(
    'IAM user owning the key; looked up with GetAccessKeyLastUsed when omitted',
  ),
});
export type DisableAccessKeyInput = z.infer<typeof DisableAccessKeyInput>;

const RollbackData = z.object({
  user_name: UserName,
  access_key_id: z.string(),
  previous_status: z.literal('Active'),
});

/**
 * `aws.iam.disable_access_key`: sets an IAM user's access key to Inactive
 * (UpdateAccessKey). It reads the key's status first, so a key that is
 * already inactive is `skipped` and a rollback never re-enables a key this
 * action did not disable. Rollback sets it Active again.
 *
 * @example
 * const a = disableAccessKeyFactory.create({ region: 'us-east-1' }, ctx);
 * await a.execute({ access_key_id: 'AKIAIOSFODNN7EXAMPLE' }, { dryRun: false, idempotencyKey: k });
 */
export const disableAccessKeyFactory = defineAction({
  type: 'aws.iam.disable_access_key',
  description: 'Disable (set Inactive) an IAM user access key; rollback re-enables it',
  effect: 'reversible',
  configSchema: DisableAccessKeyConfig,
  inputSchema: DisableAccessKeyInput,
  build(config) {
    const iam = awsActionClient('@aws-sdk/client-iam', config, (sdk, c) => new sdk.IAMClient(c));

    async function findKey(run: RunContext, accessKeyId: string, userName?: string) {
      const { sdk, client } = await iam();
      let user = userName;
      if (user === undefined) {
        const last = await awsCall(run, 'IAM GetAccessKeyLastUsed', (abortSignal) =>
          client.send(new sdk.GetAccessKeyLastUsedCommand({ AccessKeyId: accessKeyId }), { abortSignal }),
        );
        user = last.UserName;
        if (!user)
          throw actionError('AISOC_ERR_ACTION_NOT_FOUND', `No IAM user owns access key ${accessKeyId}`);
      }
      let marker: string | undefined;
      let key: AccessKeyMetadata | undefined;
      do {
        const page = await awsCall(run, 'IAM ListAccessKeys', (abortSignal) =>
          client.send(
            new sdk.ListAccessKeysCommand({ UserName: user, ...(marker ? { Marker: marker } : {}) }),
            { abortSignal },
          ),
        );
        key = page.AccessKeyMetadata?.find((k) => k.AccessKeyId === accessKeyId);
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (!key && marker);
      if (!key)
        throw actionError(
          'AISOC_ERR_ACTION_NOT_FOUND',
          `Access key ${accessKeyId} does not belong to IAM user ${user}`,
          { user_name: user, access_key_id: accessKeyId },
          'access_key_id',
        );
      return { user: user as string, status: key.Status ?? 'Unknown' };
    }

    async function setStatus(
      run: RunContext,
      user: string,
      accessKeyId: string,
      status: 'Active' | 'Inactive',
    ) {
      const { sdk, client } = await iam();
      return awsCall(run, 'IAM UpdateAccessKey', (abortSignal) =>
        client.send(
          new sdk.UpdateAccessKeyCommand({ UserName: user, AccessKeyId: accessKeyId, Status: status }),
          { abortSignal },
        ),
      );
    }

    return {
      async execute(input, run) {
        const { user, status } = await findKey(run, input.access_key_id, input.user_name);
        const details = { user_name: user, access_key_id: input.access_key_id, previous_status: status };
        if (status === 'Inactive')
          return {
            status: 'skipped',
            summary: `Access key ${input.access_key_id} of IAM user ${user} is already inactive.`,
            details,
          };
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would disable access key ${input.access_key_id} of IAM user ${user} (now ${status}).`,
            details,
          };
        await setStatus(run, user, input.access_key_id, 'Inactive');
        return {
          status: 'succeeded',
          summary: `Disabled access key ${input.access_key_id} of IAM user ${user}.`,
          details: { ...details, new_status: 'Inactive' },
          rollback_data: { user_name: user, access_key_id: input.access_key_id, previous_status: 'Active' },
        };
      },

      async rollback(input, rollbackData, run) {
        const data = parseOrThrow(
          RollbackData,
          rollbackData,
          'AISOC_ERR_VALIDATION',
          'rollback data',
          'rollback_data',
        );
        const { user, status } = await findKey(run, data.access_key_id, data.user_name);
        const details = { user_name: user, access_key_id: data.access_key_id, previous_status: status };
        if (status === 'Active')
          return {
            status: 'skipped',
            summary: `Access key ${data.access_key_id} of IAM user ${user} is already active.`,
            details,
          };
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would re-enable access key ${data.access_key_id} of IAM user ${user}.`,
            details,
          };
        await setStatus(run, user, data.access_key_id, 'Active');
        return {
          status: 'succeeded',
          summary: `Re-enabled access key ${input.access_key_id} of IAM user ${user}.`,
          details: { ...details, new_status: 'Active' },
        };
      },
    };
  },
});
