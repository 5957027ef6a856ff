import { z } from 'zod';
import { commonLlmFields, EnvVarName } from '../config.ts';

/** Settings of the `openai` backend (`analyst.openai`): OpenAI or any server speaking its chat API. */
export const OpenAiConfig = z
  .strictObject({
    url: z
      .url()
      .default('https://api.openai.com/v1')
      .describe(
        'Base URL up to and including /v1 (vLLM http://host:8000/v1, llama.cpp http://host:8080/v1, LM Studio http://host:1234/v1)',
      ),
    model: z.string().min(1).default('gpt-4o-mini').describe('Model name the server knows'),
    api_key_env: EnvVarName.optional().describe(
      'Environment variable holding the API key, sent as `Authorization: Bearer` (e.g. OPENAI_API_KEY); unset for local servers without auth',
    ),
    strict: z
      .boolean()
      .default(true)
      .describe(
        'Ask for strict schema adherence (`json_schema.strict`); OpenAI then needs every property required and additionalProperties false',
      ),
    max_tokens_field: z
      .enum(['max_tokens', 'max_completion_tokens'])
      .default('max_tokens')
      .describe(
        'Request field carrying the token limit: max_tokens (vLLM, llama.cpp, LM Studio, older OpenAI models) or max_completion_tokens (OpenAI reasoning models)',
      ),
    ...commonLlmFields({ timeout_ms: 60_000 }),
  })
  .describe('OpenAI-compatible backend: POST /chat/completions with response_format json_schema');
export type OpenAiConfig = z.infer<typeof OpenAiConfig>;
