import { z } from 'zod';
import { commonLlmFields, EnvVarName } from '../config.ts';

/** Settings of the `bedrock` backend (`analyst.bedrock`). */
export const BedrockConfig = z
  .strictObject({
    region: z.string().min(1).default('us-east-1').describe('AWS region of the Bedrock Runtime endpoint'),
    model: z
      .string()
      .min(1)
      .default('anthropic.claude-3-5-haiku-20241022-v1:0')
      .describe('Model id or inference profile id (a Claude model: tool choice is what forces JSON)'),
    endpoint: z
      .url()
      .optional()
      .describe(
        'Endpoint override (a VPC endpoint, a proxy, or a test server); default: the regional endpoint',
      ),
    access_key_id_env: EnvVarName.optional().describe(
      'Environment variable holding a static access key id; unset: the AWS SDK default credential chain (env, profile, SSO, instance role)',
    ),
    secret_access_key_env: EnvVarName.optional().describe(
      'Environment variable holding the matching secret access key (required with access_key_id_env)',
    ),
    session_token_env: EnvVarName.optional().describe(
      'Environment variable holding a session token, for temporary credentials',
    ),
    json_mode: z
      .enum(['tool', 'prompt'])
      .default('tool')
      .describe(
        'How JSON is forced: tool (one tool whose inputSchema is the schema, chosen with toolChoice; Claude) or prompt (the schema in the system prompt, for models without tool choice)',
      ),
    ...commonLlmFields({ timeout_ms: 60_000 }),
  })
  .describe('AWS Bedrock backend: the Converse API through the AWS SDK');
export type BedrockConfig = z.infer<typeof BedrockConfig>;
