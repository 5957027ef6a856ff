import { defineLlmBackend } from '../define.ts';
import { postJson } from '../http.ts';
import { isLocalEndpoint, secretFromEnv } from '../local.ts';
import type { LlmCompletion, StopKind } from '../types.ts';
import { UpstreamError } from '../upstream.ts';
import { OllamaConfig } from './config.ts';

/** The fields of an Ollama `/api/chat` answer (stream: false) this backend reads. */
interface OllamaChatResponse {
  model?: string;
  message?: { role?: string; content?: string };
  done?: boolean;
  done_reason?: string;
  prompt_eval_count?: number;
  eval_count?: number;
}

function stopKind(reason: string | undefined): StopKind {
  if (reason === 'length') return 'length';
  if (reason === 'stop' || reason === undefined) return 'stop';
  return 'other';
}

/**
 * Ollama's native chat API. JSON is forced with structured outputs: the
 * request's JSON schema goes in `format`, which Ollama turns into a grammar
 * that constrains sampling. `stream: false` returns one JSON answer;
 * `options.num_predict` caps the tokens and `done_reason: "length"` reports
 * a cut-off answer.
 */
export const ollamaBackend = defineLlmBackend({
  type: 'ollama',
  description: 'Ollama (/api/chat with a JSON-schema `format`)',
  configSchema: OllamaConfig,
  createCore(config, ctx) {
    const token = secretFromEnv(ctx, config.api_key_env, 'analyst.ollama.api_key_env');
    const endpoint = `${config.url.replace(/\/+$/, '')}/api/chat`;
    return {
      name: 'ollama',
      model: config.model,
      local: isLocalEndpoint(config.url),
      secrets: token ? [token] : [],
      async call({ request, maxTokens, temperature, signal }): Promise<LlmCompletion> {
        const body = {
          model: config.model,
          messages: [{ role: 'system', content: request.system }, ...request.messages],
          stream: false,
          format: request.schema,
          options: {
            temperature,
            num_predict: maxTokens,
            ...(config.num_ctx === undefined ? {} : { num_ctx: config.num_ctx }),
          },
          ...(config.keep_alive === undefined ? {} : { keep_alive: config.keep_alive }),
        };
        const { body: answer } = await postJson(endpoint, body, {
          signal,
          maxResponseBytes: config.max_response_bytes,
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
        const r = answer as OllamaChatResponse;
        if (typeof r.message?.content !== 'string') {
          throw new UpstreamError('the answer has no message.content', {
            kind: 'protocol',
            retryable: false,
          });
        }
        return {
          text: r.message.content,
          stop: stopKind(r.done_reason),
          stopDetail: r.done_reason ?? 'unknown',
          usage: { input_tokens: r.prompt_eval_count ?? 0, output_tokens: r.eval_count ?? 0 },
          model: r.model,
        };
      },
    };
  },
});
