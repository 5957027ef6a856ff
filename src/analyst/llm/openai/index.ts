import { defineLlmBackend } from '../define.ts';
import { postJson } from '../http.ts';
import { isLocalEndpoint, secretFromEnv } from '../local.ts';
import type { LlmCompletion, StopKind } from '../types.ts';
import { UpstreamError } from '../upstream.ts';
import { OpenAiConfig } from './config.ts';

/** The fields of a `/v1/chat/completions` answer this backend reads. */
interface ChatCompletion {
  model?: string;
  choices?: Array<{
    message?: { content?: string | null; refusal?: string | null };
    finish_reason?: string | null;
  }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

function stopKind(reason: string | null | undefined): StopKind {
  if (reason === 'length') return 'length';
  if (reason === 'content_filter') return 'refusal';
  if (reason === 'stop' || reason == null) return 'stop';
  return 'other';
}

/**
 * The OpenAI chat completions API, which vLLM, llama.cpp's server, LM Studio
 * and OpenAI itself all speak. JSON is forced with structured outputs:
 * `response_format: {type: "json_schema", json_schema: {name, schema,
 * strict}}`. `finish_reason: "length"` reports a cut-off answer, and a
 * `message.refusal` a refusal.
 */
export const openaiBackend = defineLlmBackend({
  type: 'openai',
  description: 'OpenAI-compatible chat completions (/v1/chat/completions with response_format json_schema)',
  configSchema: OpenAiConfig,
  createCore(config, ctx) {
    const key = secretFromEnv(ctx, config.api_key_env, 'analyst.openai.api_key_env');
    const endpoint = `${config.url.replace(/\/+$/, '')}/chat/completions`;
    return {
      name: 'openai',
      model: config.model,
      local: isLocalEndpoint(config.url),
      secrets: key ? [key] : [],
      async call({ request, maxTokens, temperature, signal }): Promise<LlmCompletion> {
        const body = {
          model: config.model,
          messages: [{ role: 'system', content: request.system }, ...request.messages],
          response_format: {
            type: 'json_schema',
            json_schema: { name: request.schemaName, schema: request.schema, strict: config.strict },
          },
          [config.max_tokens_field]: maxTokens,
          temperature,
          stream: false,
        };
        const { body: answer } = await postJson(endpoint, body, {
          signal,
          maxResponseBytes: config.max_response_bytes,
          headers: key ? { authorization: `Bearer ${key}` } : {},
        });
        const r = answer as ChatCompletion;
        const choice = r.choices?.[0];
        if (!choice?.message) {
          throw new UpstreamError('the answer has no choices[0].message', {
            kind: 'protocol',
            retryable: false,
          });
        }
        const refusal = choice.message.refusal;
        const usage = {
          input_tokens: r.usage?.prompt_tokens ?? 0,
          output_tokens: r.usage?.completion_tokens ?? 0,
        };
        if (typeof refusal === 'string' && refusal !== '') {
          return { text: refusal, stop: 'refusal', stopDetail: 'refusal', usage, model: r.model };
        }
        return {
          text: choice.message.content ?? '',
          stop: stopKind(choice.finish_reason),
          stopDetail: choice.finish_reason ?? 'unknown',
          usage,
          model: r.model,
        };
      },
    };
  },
});
