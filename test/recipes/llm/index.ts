/**
 * Example for docs/ARCHITECTURE.md, "How to add an LLM backend": written as
 * that recipe says (`src/analyst/llm/llamacpp/index.ts` in the product);
 * `test/recipes.test.ts` runs the LLM backend conformance suite on it
 * against a fake llama-server (`server.ts`) and lets it write a verdict.
 *
 * llama.cpp's native `/completion` endpoint takes one prompt (no chat
 * template is applied, unlike `/v1/chat/completions`, which the `openai`
 * backend already speaks) and constrains sampling with `json_schema`. It
 * answers `{content, stop_type, tokens_evaluated, tokens_predicted, model}`,
 * where `stop_type` is `eos`, `word`, `limit` (the `n_predict` cap) or `none`.
 */
import { defineLlmBackend } from '../../../src/analyst/llm/define.ts';
import { postJson } from '../../../src/analyst/llm/http.ts';
import { isLocalEndpoint, secretFromEnv } from '../../../src/analyst/llm/local.ts';
import type { LlmCompletion, LlmRequest, StopKind } from '../../../src/analyst/llm/types.ts';
import { UpstreamError } from '../../../src/analyst/llm/upstream.ts';
import { LlamaCppConfig } from './config.ts';

/** The fields of a `/completion` answer this backend reads. */
interface CompletionResponse {
  content?: unknown;
  stop_type?: string;
  tokens_evaluated?: number;
  tokens_predicted?: number;
  model?: string;
}

function stopKind(stopType: string | undefined): StopKind {
  if (stopType === 'limit') return 'length';
  if (stopType === 'eos' || stopType === 'word' || stopType === undefined) return 'stop';
  return 'other';
}

/** One prompt from the system prompt and the turns: `/completion` takes text, not messages. */
export function promptOf(request: LlmRequest): string {
  const turns = request.messages.map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}`);
  return `${request.system}\n\n${turns.join('\n\n')}\n\nAssistant:`;
}

/** The registry entry: one line `llamacpp: llamacppBackend,` in `LLM_BACKENDS` would ship it. */
export const llamacppBackend = defineLlmBackend({
  type: 'llamacpp',
  description: 'llama.cpp server (POST /completion with a JSON schema)',
  configSchema: LlamaCppConfig,
  createCore(config, ctx) {
    const key = secretFromEnv(ctx, config.api_key_env, 'analyst.llamacpp.api_key_env');
    const endpoint = `${config.url.replace(/\/+$/, '')}/completion`;
    return {
      name: 'llamacpp',
      model: config.model,
      local: isLocalEndpoint(config.url),
      secrets: key ? [key] : [],
      async call({ request, maxTokens, temperature, signal }): Promise<LlmCompletion> {
        const { body } = await postJson(
          endpoint,
          {
            prompt: promptOf(request),
            n_predict: maxTokens,
            temperature,
            json_schema: request.schema,
            stream: false,
          },
          {
            signal,
            maxResponseBytes: config.max_response_bytes,
            headers: key ? { authorization: `Bearer ${key}` } : {},
          },
        );
        const r = body as CompletionResponse;
        if (typeof r.content !== 'string')
          throw new UpstreamError('the answer has no content', { kind: 'protocol', retryable: false });
        return {
          text: r.content,
          stop: stopKind(r.stop_type),
          stopDetail: r.stop_type ?? 'unknown',
          usage: { input_tokens: r.tokens_evaluated ?? 0, output_tokens: r.tokens_predicted ?? 0 },
          model: r.model ?? config.model,
        };
      },
    };
  },
});
