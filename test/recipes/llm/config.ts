/**
 * Example for docs/ARCHITECTURE.md, "How to add an LLM backend" (config
 * step): `src/analyst/llm/llamacpp/config.ts` in the product. Strict, the
 * shared fields spread in, every field with a default or optional, so `{}`
 * is a working section `analyst.llamacpp`.
 */
import { z } from 'zod';
import { commonLlmFields, EnvVarName } from '../../../src/analyst/llm/config.ts';

export const LlamaCppConfig = z
  .strictObject({
    url: z.url().default('http://127.0.0.1:8080').describe('Base URL of llama-server'),
    model: z
      .string()
      .min(1)
      .default('llama.cpp')
      .describe('Name recorded as the model when the server reports none (it serves the model it loaded)'),
    api_key_env: EnvVarName.optional().describe(
      'Environment variable holding the key llama-server was started with (--api-key)',
    ),
    ...commonLlmFields({ timeout_ms: 120_000 }),
  })
  .describe('llama.cpp server: POST /completion with `json_schema`');
export type LlamaCppConfig = z.infer<typeof LlamaCppConfig>;
