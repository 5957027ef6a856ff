import { describe, expect, it } from 'vitest';
import { describeLlmBackendConformance, failure, testContext, testRequest } from '../testing/conformance.ts';
import { TEST_VERDICT_SCHEMA, VALID_VERDICT } from '../testing/schema.ts';
import { startFakeOllama } from '../testing/servers/ollama.ts';
import { OllamaConfig } from './config.ts';
import { ollamaBackend } from './index.ts';

const TOKEN = 'ollama-proxy-token-5b1e9c0d7a';
const env = { TEST_OLLAMA_TOKEN: TOKEN };

describeLlmBackendConformance({
  type: 'ollama',
  start: startFakeOllama,
  create: (url, settings, ctx) =>
    ollamaBackend.create(OllamaConfig.parse({ url, api_key_env: 'TEST_OLLAMA_TOKEN', ...settings }), {
      ...ctx,
      env,
    }),
  secrets: [TOKEN],
});

describe('ollama backend', () => {
  it('sends the native /api/chat shape: system first, format, stream false, options', async () => {
    const server = await startFakeOllama();
    try {
      const backend = ollamaBackend.create(
        OllamaConfig.parse({
          url: server.url,
          model: 'qwen2.5:7b',
          num_ctx: 8192,
          keep_alive: '10m',
          temperature: 0.2,
        }),
        testContext(),
      );
      server.script({ reply: { text: JSON.stringify(VALID_VERDICT) } });
      await backend.complete(testRequest({ maxTokens: 700 }));
      const body = server.requests[0]!.body as Record<string, unknown>;
      expect(body.model).toBe('qwen2.5:7b');
      expect(body.stream).toBe(false);
      expect(body.format).toEqual(TEST_VERDICT_SCHEMA);
      expect(body.options).toEqual({ temperature: 0.2, num_predict: 700, num_ctx: 8192 });
      expect(body.keep_alive).toBe('10m');
      const messages = body.messages as Array<{ role: string }>;
      expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
      expect(server.requests[0]!.headers.authorization).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('is local on loopback and remote elsewhere', () => {
    const ctx = testContext();
    expect(ollamaBackend.create(OllamaConfig.parse({}), ctx).local).toBe(true);
    expect(ollamaBackend.create(OllamaConfig.parse({ url: 'https://ollama.example.com' }), ctx).local).toBe(
      false,
    );
  });

  it('refuses a named token variable that is not set', () => {
    expect(() =>
      ollamaBackend.create(OllamaConfig.parse({ api_key_env: 'AISOC_TEST_UNSET_VAR' }), {
        ...testContext(),
        env: {},
      }),
    ).toThrow(/AISOC_TEST_UNSET_VAR/);
  });

  it('reports an answer without message.content as a protocol failure, not retried', async () => {
    const server = await startFakeOllama();
    try {
      const backend = ollamaBackend.create(OllamaConfig.parse({ url: server.url }), testContext());
      server.script({ raw: { status: 200, body: JSON.stringify({ done: true }) } });
      const err = await failure(backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM');
      expect(err.message).toContain('message.content');
      expect(server.requests).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});
