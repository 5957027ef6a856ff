/**
 * A fake llama-server for the example backend (`index.ts`): the native
 * `/completion` protocol on the shared scriptable server of the LLM
 * conformance suite (`src/analyst/llm/testing/servers/base.ts`).
 */
import {
  type FakeLlmServer,
  type ProtocolAdapter,
  retryAfterHeader,
  startFakeLlmServer,
} from '../../../src/analyst/llm/testing/servers/base.ts';

interface CompletionRequest {
  prompt?: unknown;
  n_predict?: unknown;
  stream?: unknown;
  json_schema?: unknown;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  404: 'not_found_error',
  503: 'unavailable_error',
};

/**
 * llama-server's `/completion` as the fake speaks it: it requires a string
 * `prompt`, a number `n_predict`, `stream: false` and `json_schema` as an
 * object; it answers `{content, stop, stop_type, tokens_evaluated,
 * tokens_predicted, model}` and errors as `{error: {code, message, type}}`.
 */
export function llamacppProtocol(): ProtocolAdapter {
  return {
    name: 'llamacpp',
    check(req) {
      const errors: string[] = [];
      if (req.method !== 'POST' || req.path !== '/completion')
        errors.push(`expected POST /completion, got ${req.method} ${req.path}`);
      const b = req.body as CompletionRequest;
      if (typeof b.prompt !== 'string' || b.prompt === '') errors.push('prompt must be a non-empty string');
      if (typeof b.n_predict !== 'number') errors.push('n_predict must be a number');
      if (b.stream !== false) errors.push('stream must be false (one JSON answer)');
      if (!b.json_schema || typeof b.json_schema !== 'object' || Array.isArray(b.json_schema))
        errors.push('json_schema must be a JSON schema object');
      return errors;
    },
    reply(reply) {
      return {
        status: 200,
        body: JSON.stringify({
          content: reply.text,
          stop: true,
          stop_type: reply.stop === 'length' ? 'limit' : 'eos',
          stopping_word: '',
          tokens_evaluated: reply.usage?.input ?? 0,
          tokens_predicted: reply.usage?.output ?? 0,
          truncated: false,
          model: reply.model ?? 'qwen2.5-7b-instruct-q4_k_m.gguf',
        }),
      };
    },
    error(e) {
      return {
        status: e.status,
        headers: retryAfterHeader(e.retryAfter),
        body: JSON.stringify({
          error: {
            code: e.status,
            message: e.message ?? `HTTP ${e.status}`,
            type: ERROR_TYPES[e.status] ?? 'server_error',
          },
        }),
      };
    },
    schemaOf: (req) => (req.body as CompletionRequest).json_schema,
    // One prompt holds both: the suite checks each is contained in what it returns.
    promptOf: (req) => ({
      system: String((req.body as CompletionRequest).prompt),
      user: String((req.body as CompletionRequest).prompt),
    }),
  };
}

/** Start a fake llama-server on a free local port. */
export function startFakeLlamaCpp(): Promise<FakeLlmServer> {
  return startFakeLlmServer(llamacppProtocol());
}
