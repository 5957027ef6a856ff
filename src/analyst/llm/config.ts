import { z } from 'zod';

/**
 * Settings every LLM backend shares: the shared wrapper reads them
 * (`wrapper.ts`), so each backend's config schema spreads this shape next
 * to its own fields.
 *
 * @example
 * const OllamaConfig = z.strictObject({ url: z.string(), ...commonLlmFields({ timeout_ms: 120_000 }) });
 */
export function commonLlmFields(defaults: { timeout_ms: number }) {
  return {
    timeout_ms: z
      .number()
      .int()
      .min(100)
      .default(defaults.timeout_ms)
      .describe('Time allowed for one attempt, in ms; the request is aborted after it'),
    max_attempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe(
        'Attempts per completion (429, 5xx and network errors are retried; 4xx and bad output are not)',
      ),
    backoff_initial_ms: z
      .number()
      .int()
      .min(0)
      .default(500)
      .describe('Back-off before the second attempt, in ms; doubles per attempt, with jitter'),
    backoff_max_ms: z
      .number()
      .int()
      .min(0)
      .default(20_000)
      .describe('Longest back-off between attempts, in ms'),
    max_retry_after_ms: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe(
        'Longest Retry-After wait honoured, in ms; an endpoint asking for more fails the call at once',
      ),
    retry_on_timeout: z
      .boolean()
      .default(false)
      .describe('Retry an attempt that timed out (off: a model that hung once usually hangs again)'),
    breaker_failures: z
      .number()
      .int()
      .min(0)
      .default(5)
      .describe('Consecutive failed completions that open the circuit (calls fail fast); 0 disables'),
    breaker_cooldown_ms: z
      .number()
      .int()
      .min(0)
      .default(30_000)
      .describe('How long an open circuit fails calls fast before one is let through, in ms'),
    max_tokens: z
      .number()
      .int()
      .min(1)
      .default(2048)
      .describe('Most tokens generated per answer, unless the request says otherwise'),
    temperature: z
      .number()
      .min(0)
      .max(2)
      .default(0)
      .describe('Sampling temperature, unless the request says otherwise'),
    price_input_per_1k_usd: z
      .number()
      .min(0)
      .default(0)
      .describe('Price of 1,000 input tokens in USD, for aisoc_llm_cost_usd_total (0: not counted)'),
    price_output_per_1k_usd: z
      .number()
      .min(0)
      .default(0)
      .describe('Price of 1,000 output tokens in USD, for aisoc_llm_cost_usd_total (0: not counted)'),
    max_response_bytes: z
      .number()
      .int()
      .min(1024)
      .default(4 * 1024 * 1024)
      .describe('Largest response body read, in bytes'),
  };
}

/** The shared settings as the wrapper uses them. */
export type CommonLlmSettings = {
  [K in keyof ReturnType<typeof commonLlmFields>]: z.infer<ReturnType<typeof commonLlmFields>[K]>;
};

/** An environment variable name (`OPENAI_API_KEY`): config names secrets, never holds them. */
export const EnvVarName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
  .describe('Name of an environment variable');
