import { z } from 'zod';
import {
  type AwsSdk,
  type AwsSdkClient,
  type AwsSdkPackage,
  lazyAwsClient,
  loadAwsSdk,
} from '../../../aws-sdk.ts';

/**
 * Where and as whom AWS actions call: region and credentials come from the
 * SDK's default chain (env, shared config, SSO, instance/task role) unless
 * set here; `role_arn` adds an AssumeRole on top of them.
 */
export const awsConfigShape = {
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as eu-west-1')
    .optional()
    .describe('AWS region; default: the SDK chain (AWS_REGION, shared config)'),
  role_arn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role ARN')
    .optional()
    .describe(
      'Role to assume for the calls (cross-account response); default: the chain credentials as they are',
    ),
  external_id: z
    .string()
    .min(2)
    .max(1224)
    .optional()
    .describe('ExternalId the role trust policy requires (an identifier, not a secret)'),
  role_session_name: z
    .string()
    .regex(/^[\w+=,.@-]{2,64}$/)
    .default('aisoc-response')
    .describe('Session name of the assumed role, as CloudTrail records it'),
  role_duration_s: z
    .number()
    .int()
    .min(900)
    .max(43_200)
    .default(900)
    .describe('Lifetime of assumed-role credentials, in seconds'),
  endpoint: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('Service endpoint override (a VPC endpoint, or LocalStack in tests)'),
};

export interface AwsConnection {
  region?: string;
  role_arn?: string;
  external_id?: string;
  role_session_name: string;
  role_duration_s: number;
  endpoint?: string;
}

/** SDK client configuration for one action. */
export interface AwsClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: ReturnType<AwsSdk<'@aws-sdk/credential-providers'>['fromTemporaryCredentials']>;
  maxAttempts: number;
}

/**
 * Client settings from the action's config. SDK retries are off
 * (`maxAttempts: 1`): the action's own retry policy retries each call, so
 * attempts are bounded in one place, cancellable and counted. The
 * credential providers are loaded only for a `role_arn`.
 *
 * @example new IAMClient(await awsClientConfig(config));
 */
export async function awsClientConfig(c: AwsConnection, regionOverride?: string): Promise<AwsClientConfig> {
  const region = regionOverride ?? c.region;
  const out: AwsClientConfig = { maxAttempts: 1 };
  if (region !== undefined) out.region = region;
  if (c.endpoint !== undefined) out.endpoint = c.endpoint;
  if (c.role_arn !== undefined) {
    const { fromTemporaryCredentials } = await loadAwsSdk('@aws-sdk/credential-providers');
    out.credentials = fromTemporaryCredentials({
      params: {
        RoleArn: c.role_arn,
        RoleSessionName: c.role_session_name,
        DurationSeconds: c.role_duration_s,
        ...(c.external_id === undefined ? {} : { ExternalId: c.external_id }),
      },
      ...(region === undefined ? {} : { clientConfig: { region } }),
    });
  }
  return out;
}

/**
 * The SDK client of an action, made from its config on the action's first
 * call, not when the action is built: a server whose actions never reach
 * AWS never loads the SDK (src/aws-sdk.ts). Each call returns the package's
 * module (for its command classes) and the one client.
 *
 * @example
 * const iam = awsActionClient('@aws-sdk/client-iam', config, (sdk, c) => new sdk.IAMClient(c));
 * const { sdk, client } = await iam();
 * await client.send(new sdk.ListAccessKeysCommand({ UserName }));
 */
export function awsActionClient<P extends AwsSdkPackage, C>(
  pkg: P,
  connection: AwsConnection,
  make: (sdk: AwsSdk<P>, config: AwsClientConfig) => C,
  regionOverride?: string,
): () => Promise<AwsSdkClient<P, C>> {
  return lazyAwsClient(pkg, async (sdk) => make(sdk, await awsClientConfig(connection, regionOverride)));
}
