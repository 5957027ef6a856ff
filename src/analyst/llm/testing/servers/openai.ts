import {
  checkMessages,
  type FakeLlmServer,
  type ProtocolAdapter,
  retryAfterHeader,
  startFakeLlmServer,
} from './base.ts';

interface ChatRequest {
  model?: unknown;
  messages?: Array<{ role?: string; content?: unknown }>;
  response_format?: { type?: unknown; json_schema?: { name?: unknown; schema?: unknown; strict?: unknown } };
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
}

/**
 * The OpenAI chat completions API as the fake server speaks it: it requires
 * `model`, `messages`, `response_format: {type: "json_schema", json_schema:
 * {name, schema, strict}}` with a valid name, and a token limit; with
 * `apiKey` set it answers 401 to a missing or wrong `Authorization: Bearer`,
 * as OpenAI does. Answers carry `choices[0].message.content`,
 * `finish_reason` and `usage`; errors are `{error: {message, type, code}}`.
 */
export function openaiProtocol(options: { apiKey?: string } = {}): ProtocolAdapter {
  return {
    name: 'openai',
    check(req) {
      const errors: string[] = [];
      if (req.method !== 'POST' || !req.path.endsWith('/v1/chat/completions'))
        errors.push(`expected POST …/v1/chat/completions, got ${req.method} ${req.path}`);
      if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`)
        errors.push('missing or wrong Authorization: Bearer');
      const b = req.body as ChatRequest;
      if (typeof b.model !== 'string' || b.model === '') errors.push('model must be a non-empty string');
      errors.push(...checkMessages(b.messages, ['system', 'user', 'assistant', 'developer'], 'messages'));
      const rf = b.response_format;
      if (rf?.type !== 'json_schema') errors.push('response_format.type must be json_schema');
      const js = rf?.json_schema;
      if (typeof js?.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(js.name))
        errors.push('response_format.json_schema.name must match [A-Za-z0-9_-]{1,64}');
      if (!js?.schema || typeof js.schema !== 'object')
        errors.push('response_format.json_schema.schema must be an object');
      if (js?.strict !== undefined && typeof js.strict !== 'boolean')
        errors.push('json_schema.strict must be a boolean');
      if (typeof b.max_tokens !== 'number' && typeof b.max_completion_tokens !== 'number')
        errors.push('max_tokens or max_completion_tokens must be a number');
      return errors;
    },
    reply(reply, req) {
      const input = reply.usage?.input ?? 0;
      const output = reply.usage?.output ?? 0;
      return {
        status: 200,
        body: JSON.stringify({
          id: 'chatcmpl-fake',
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: reply.model ?? String((req.body as ChatRequest).model),
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: reply.text, refusal: null },
              finish_reason: reply.stop === 'length' ? 'length' : 'stop',
            },
          ],
          usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
        }),
      };
    },
    error(e, req) {
      const wrongKey = e.status === 400 && req.wireErrors.some((w) => w.includes('Authorization'));
      return {
        status: wrongKey ? 401 : e.status,
        headers: retryAfterHeader(e.retryAfter),
        body: JSON.stringify({
          error: {
            message: e.message ?? `HTTP ${e.status}`,
            type:
              e.status === 429 ? 'rate_limit_exceeded' : wrongKey ? 'invalid_request_error' : 'server_error',
            code: wrongKey ? 'invalid_api_key' : null,
          },
        }),
      };
    },
    schemaOf: (req) => (req.body as ChatRequest).response_format?.json_schema?.schema,
    promptOf(req) {
      const msgs = (req.body as ChatRequest).messages ?? [];
      return {
        system: msgs
          .filter((m) => m.role === 'system')
          .map((m) => String(m.content))
          .join('\n'),
        user: msgs
          .filter((m) => m.role === 'user')
          .map((m) => String(m.content))
          .join('\n'),
      };
    },
  };
}

/** Start a fake OpenAI-compatible server on a free local port (base URL: `${url}/v1`). */
export function startFakeOpenAi(options: { apiKey?: string } = {}): Promise<FakeLlmServer> {
  return startFakeLlmServer(openaiProtocol(options));
}
