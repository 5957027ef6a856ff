import { z } from 'zod';
import { stableUuid } from '../../../ids.ts';
import { baseConfigShape, defineAction } from '../define.ts';
import { actionError } from '../errors.ts';
import { awsCall, isAwsError, mapAwsError } from './call.ts';
import { awsActionClient, awsConfigShape } from './client.ts';

export const RotateSecretConfig = z
  .strictObject({ ...awsConfigShape, ...baseConfigShape })
  .describe('aws.secretsmanager.rotate_secret');

export const RotateSecretInput = z.strictObject({
  secret_id: z
    .string()
    .trim()
    .min(1)
    .max(2048)
    .regex(
      /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[\w/+=.@-]+$/,
      'must be a secret name or ARN',
    )
    .describe('Name or full ARN of the secret to rotate'),
  rotate_immediately: z
    .boolean()
    .default(true)
    .describe(
      'Rotate now (true), or only at the next window of its schedule (false; Secrets Manager still tests the function)',
    ),
});
export type RotateSecretInput = z.infer<typeof RotateSecretInput>;

/**
 * `aws.secretsmanager.rotate_secret`: starts a rotation of a secret whose
 * rotation is already configured (RotateSecret without new settings: it
 * runs the rotation the owner set up, and never configures one). The
 * ClientRequestToken derives from the run's idempotency key, so a retried
 * run cannot start a second rotation and a run whose version exists is
 * `skipped`.
 *
 * Destructive: the rotation function replaces the credential at its source
 * (the database password, the API key), so the previous value stops working
 * and moving the AWSCURRENT label back would hand out a dead credential. It
 * has no rollback. The rotation itself runs asynchronously in Secrets
 * Manager; the result reports that it started.
 *
 * @example
 * await rotateSecretFactory.create({ region: 'eu-west-1' }, ctx).execute({ secret_id: 'prod/db/app' }, opts);
 */
export const rotateSecretFactory = defineAction({
  type: 'aws.secretsmanager.rotate_secret',
  description: 'Start the configured rotation of a Secrets Manager secret (the previous value stops working)',
  effect: 'destructive',
  configSchema: RotateSecretConfig,
  inputSchema: RotateSecretInput,
  build(config) {
    const secretsManager = awsActionClient(
      '@aws-sdk/client-secrets-manager',
      config,
      (sdk, c) => new sdk.SecretsManagerClient(c),
    );
    return {
      async execute(input, run) {
        const { sdk, client: sm } = await secretsManager();
        const secret = await awsCall(run, 'SecretsManager DescribeSecret', (abortSignal) =>
          sm.send(new sdk.DescribeSecretCommand({ SecretId: input.secret_id }), { abortSignal }),
        );
        const token = stableUuid('aws.secretsmanager.rotate_secret', run.idempotencyKey);
        const versions = secret.VersionIdsToStages ?? {};
        const current = Object.entries(versions).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
        const details = {
          secret_arn: secret.ARN,
          name: secret.Name,
          rotation_lambda_arn: secret.RotationLambdaARN ?? null,
          owning_service: secret.OwningService ?? null,
          last_rotated: secret.LastRotatedDate?.toISOString() ?? null,
          current_version_id: current ?? null,
          // The ClientRequestToken, which becomes the new version id; not named *_token, which redaction withholds.
          request_version_id: token,
        };
        if (versions[token])
          return {
            status: 'skipped',
            summary: `Secret ${secret.Name} was already rotated by this request (version ${token}).`,
            details: { ...details, version_stages: versions[token] },
          };
        if (secret.DeletedDate)
          throw actionError(
            'AISOC_ERR_ACTION_PRECONDITION',
            `Secret ${secret.Name} is scheduled for deletion`,
            details,
          );
        if (secret.RotationEnabled !== true)
          throw actionError(
            'AISOC_ERR_ACTION_PRECONDITION',
            `Rotation is not configured for secret ${secret.Name}: configure a rotation function (or managed rotation) for it first; this action never configures one`,
            details,
            'secret_id',
          );
        const pending = Object.entries(versions).find(
          ([, s]) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT'),
        );
        if (pending)
          throw actionError(
            'AISOC_ERR_ACTION_PRECONDITION',
            `A rotation of secret ${secret.Name} is already in progress (version ${pending[0]})`,
            { ...details, pending_version_id: pending[0] },
          );
        const how = secret.RotationLambdaARN
          ? `with ${secret.RotationLambdaARN}`
          : `by managed rotation${secret.OwningService ? ` (${secret.OwningService})` : ''}`;
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would rotate secret ${secret.Name} ${how}; its current value would stop working.`,
            details,
          };
        const call = 'SecretsManager RotateSecret';
        try {
          const out = await awsCall(
            run,
            call,
            (abortSignal) =>
              sm.send(
                new sdk.RotateSecretCommand({
                  SecretId: input.secret_id,
                  ClientRequestToken: token,
                  RotateImmediately: input.rotate_immediately,
                }),
                { abortSignal },
              ),
            { raw: true },
          );
          return {
            status: 'succeeded',
            summary: `Started rotation of secret ${secret.Name} ${how} (new version ${out.VersionId}).`,
            details: {
              ...details,
              new_version_id: out.VersionId,
              rotate_immediately: input.rotate_immediately,
            },
          };
        } catch (err) {
          // InvalidRequestException: a rotation started meanwhile, or the secret changed state under us.
          if (isAwsError(err, 'InvalidRequestException')) {
            const e = mapAwsError(err, call);
            throw actionError('AISOC_ERR_ACTION_PRECONDITION', e.message, { ...details, ...e.details });
          }
          throw mapAwsError(err, call);
        }
      },
    };
  },
});
