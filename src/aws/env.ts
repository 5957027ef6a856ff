import { z } from 'zod';
import type { AppConfig } from '../app-config.ts';
import { loadConfig } from '../app-config.ts';
import { AisocError } from '../errors.ts';

/**
 * What a Lambda function is told by the CDK app (`infra/`): the names of
 * the resources it works on, as environment variables. The product's own
 * settings come from the configuration file in the content layer
 * (`AISOC_CONFIG`, written by the CDK app from its context), read by the
 * same schema as `aisoc serve` reads.
 */
export const AWS_ENV = {
  records_table: 'AISOC_RECORDS_TABLE',
  state_table: 'AISOC_STATE_TABLE',
  baselines_table: 'AISOC_BASELINES_TABLE',
  stream_name: 'AISOC_STREAM_NAME',
  dead_letter_queue_url: 'AISOC_DEAD_LETTER_QUEUE_URL',
  state_machine_arn: 'AISOC_STATE_MACHINE_ARN',
  collection_endpoint: 'AISOC_COLLECTION_ENDPOINT',
  index_name: 'AISOC_INDEX_NAME',
  allow_list: 'AISOC_REMEDIATION_ALLOW_LIST',
  events_ttl_days: 'AISOC_EVENTS_TTL_DAYS',
} as const;

type EnvKey = keyof typeof AWS_ENV;

const CHECKS: Record<EnvKey, z.ZodType<unknown>> = {
  records_table: z.string().regex(/^[\w.-]{3,255}$/, 'must be a DynamoDB table name'),
  state_table: z.string().regex(/^[\w.-]{3,255}$/, 'must be a DynamoDB table name'),
  baselines_table: z.string().regex(/^[\w.-]{3,255}$/, 'must be a DynamoDB table name'),
  stream_name: z.string().regex(/^[\w.-]{1,128}$/, 'must be a Kinesis stream name'),
  dead_letter_queue_url: z.url({ protocol: /^https$/ }),
  state_machine_arn: z.string().regex(/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[\w-]{1,80}$/),
  collection_endpoint: z.url({ protocol: /^https?$/ }),
  index_name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,254}$/, 'must be a lower-case index name'),
  allow_list: z.string().regex(/^[a-z0-9_.,]*$/, 'must be a comma-separated list of action types'),
  events_ttl_days: z.coerce.number().int().min(1).max(3650),
};

/** The values of {@link AWS_ENV} a function reads. */
export type AwsEnv = {
  records_table: string;
  state_table: string;
  baselines_table: string;
  stream_name: string;
  dead_letter_queue_url: string;
  state_machine_arn: string;
  collection_endpoint: string;
  index_name: string;
  allow_list: string;
  events_ttl_days: number;
};

/**
 * Read the named variables, each checked; a missing or malformed one is
 * `AISOC_ERR_CONFIG` naming the variable.
 *
 * @example const { stream_name } = awsEnv(['stream_name']);
 */
export function awsEnv<K extends EnvKey>(
  keys: readonly K[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): Pick<AwsEnv, K> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const name = AWS_ENV[key];
    const raw = env[name];
    if (raw === undefined || (raw === '' && key !== 'allow_list')) {
      throw new AisocError('AISOC_ERR_CONFIG', `${name} is not set (the CDK app sets it)`, { field: name });
    }
    const parsed = CHECKS[key].safeParse(raw);
    if (!parsed.success) {
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        `${name}: ${parsed.error.issues[0]?.message ?? 'invalid'} (got ${JSON.stringify(raw.slice(0, 100))})`,
        { field: name },
      );
    }
    out[key] = parsed.data;
  }
  return out as Pick<AwsEnv, K>;
}

/** The remediation allow-list: action types a policy lets run without a person (never anything else). */
export function allowList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * The product's configuration, as `aisoc serve` would read it: the file
 * `AISOC_CONFIG` names (the CDK app writes it into the content layer), then
 * the environment. Read once per container.
 */
export function functionConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  return loadConfig({ env });
}
