import { z } from 'zod';
import { commonLlmFields, EnvVarName } from '../config.ts';

/** Settings of the `ollama` backend (`analyst.ollama`). */
export const OllamaConfig = z
  .strictObject({
    url: z.url().default('http://127.0.0.1:11434').describe('Base URL of the Ollama server'),
    model: z.string().min(1).default('llama3.1:8b').describe('Model name as `ollama list` shows it'),
    api_key_env: EnvVarName.optional().describe(
      'Environment variable holding a bearer token, for Ollama behind an authenticating proxy or ollama.com',
    ),
    num_ctx: z
      .number()
      .int()
      .min(256)
      .optional()
      .describe('Context window in tokens (Ollama `options.num_ctx`)'),
    keep_alive: z
      .string()
      .optional()
      .describe('How long Ollama keeps the model loaded after a call (`5m`, `1h`)'),
    ...commonLlmFields({ timeout_ms: 120_000 }),
  })
  .describe('Ollama backend: POST /api/chat with `format` set to the JSON schema');
export type OllamaConfig = z.infer<typeof OllamaConfig>;
