import {
  checkMessages,
  type FakeLlmServer,
  type ProtocolAdapter,
  retryAfterHeader,
  startFakeLlmServer,
} from './base.ts';

interface OllamaRequest {
  model?: unknown;
  messages?: Array<{ role?: string; content?: unknown }>;
  stream?: unknown;
  format?: unknown;
  options?: { num_predict?: unknown; temperature?: unknown };
}

/**
 * Ollama's `/api/chat` as the fake server speaks it: it requires `model`,
 * `messages` (system/user/assistant with string content), `stream: false`,
 * `format` as a JSON schema object and `options.num_predict`; it answers
 * `{model, created_at, message: {role, content}, done, done_reason,
 * prompt_eval_count, eval_count}` and errors as `{error}`.
 */
export function ollamaProtocol(): ProtocolAdapter {
  return {
    name: 'ollama',
    check(req) {
      const errors: string[] = [];
      if (req.method !== 'POST' || req.path !== '/api/chat')
        errors.push(`expected POST /api/chat, got ${req.method} ${req.path}`);
      const b = req.body as OllamaRequest;
      if (typeof b.model !== 'string' || b.model === '') errors.push('model must be a non-empty string');
      errors.push(...checkMessages(b.messages, ['system', 'user', 'assistant'], 'messages'));
      b.messages?.forEach((m, i) => {
        if (typeof m.content !== 'string') errors.push(`messages[${i}].content must be a string`);
      });
      if (b.stream !== false) errors.push('stream must be false (one JSON answer)');
      if (!b.format || typeof b.format !== 'object' || Array.isArray(b.format))
        errors.push('format must be a JSON schema object');
      if (typeof b.options?.num_predict !== 'number') errors.push('options.num_predict must be a number');
      return errors;
    },
    reply(reply, req) {
      const model = reply.model ?? String((req.body as OllamaRequest).model);
      return {
        status: 200,
        body: JSON.stringify({
          model,
          created_at: new Date().toISOString(),
          message: { role: 'assistant', content: reply.text },
          done: true,
          done_reason: reply.stop === 'length' ? 'length' : 'stop',
          total_duration: 1_000_000,
          load_duration: 1000,
          prompt_eval_count: reply.usage?.input ?? 0,
          prompt_eval_duration: 1000,
          eval_count: reply.usage?.output ?? 0,
          eval_duration: 1000,
        }),
      };
    },
    error(e) {
      return {
        status: e.status,
        headers: retryAfterHeader(e.retryAfter),
        body: JSON.stringify({ error: e.message ?? `HTTP ${e.status}` }),
      };
    },
    schemaOf: (req) => (req.body as OllamaRequest).format,
    promptOf(req) {
      const msgs = (req.body as OllamaRequest).messages ?? [];
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

/** Start a fake Ollama server on a free local port. */
export function startFakeOllama(): Promise<FakeLlmServer> {
  return startFakeLlmServer(ollamaProtocol());
}
