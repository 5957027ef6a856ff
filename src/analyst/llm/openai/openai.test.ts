import { describe, expect, it } from 'vitest';
import { describeLlmBackendConformance, failure, testContext, testRequest } from '../testing/conformance.ts';
import { TEST_VERDICT_SCHEMA, VALID_VERDICT } from '../testing/schema.ts';
import { startFakeOpenAi } from '../testing/servers/openai.ts';
import { OpenAiConfig } from './config.ts';
import { openaiBackend } from './index.ts';

const KEY = 'sk-test-4f9a1c2e8b7d6a5f3e2d1c0b9a8f7e6d';
const env = { TEST_OPENAI_KEY: KEY };

describeLlmBackendConformance({
  type: 'openai',
  start: () => startFakeOpenAi({ apiKey: KEY }),
  create: (url, settings, ctx) =>
    openaiBackend.create(
      OpenAiConfig.parse({ url: `${url}/v1`, api_key_env: 'TEST_OPENAI_KEY', ...settings }),
      {
        ...ctx,
        env,
      },
    ),
  secrets: [KEY],
});

describe('openai backend', () => {
  it('sends response_format json_schema with name, schema and strict, and the bearer key', async () => {
    const server = await startFakeOpenAi({ apiKey: KEY });
    try {
      const backend = openaiBackend.create(
        OpenAiConfig.parse({
          url: `${server.url}/v1`,
          api_key_env: 'TEST_OPENAI_KEY',
          model: 'Qwen/Qwen2.5-7B',
        }),
        { ...testContext(), env },
      );
      server.script({ reply: { text: JSON.stringify(VALID_VERDICT) } });
      await backend.complete(testRequest({ maxTokens: 900, temperature: 0.1 }));
      const req = server.requests[0]!;
      expect(req.path).toBe('/v1/chat/completions');
      expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
      const body = req.body as Record<string, unknown>;
      expect(body.response_format).toEqual({
        type: 'json_schema',
        json_schema: { name: 'triage_verdict', schema: TEST_VERDICT_SCHEMA, strict: true },
      });
      expect(body.max_tokens).toBe(900);
      expect(body.temperature).toBe(0.1);
      expect((body.messages as Array<{ role: string }>).map((m) => m.role)).toEqual(['system', 'user']);
    } finally {
      await server.close();
    }
  });

  it('uses max_completion_tokens when configured', async () => {
    const server = await startFakeOpenAi();
    try {
      const backend = openaiBackend.create(
        OpenAiConfig.parse({ url: `${server.url}/v1`, max_tokens_field: 'max_completion_tokens' }),
        testContext(),
      );
      server.script({ reply: { text: JSON.stringify(VALID_VERDICT) } });
      await backend.complete(testRequest({ maxTokens: 333 }));
      const body = server.requests[0]!.body as Record<string, unknown>;
      expect(body.max_completion_tokens).toBe(333);
      expect(body.max_tokens).toBeUndefined();
      expect(server.requests[0]!.headers.authorization).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('reports a refusal as AISOC_ERR_LLM_OUTPUT', async () => {
    const server = await startFakeOpenAi();
    try {
      const backend = openaiBackend.create(OpenAiConfig.parse({ url: `${server.url}/v1` }), testContext());
      server.script({
        raw: {
          status: 200,
          body: JSON.stringify({
            model: 'gpt-4o-mini',
            choices: [
              {
                index: 0,
                message: { content: null, refusal: "I can't help with that." },
                finish_reason: 'stop',
              },
            ],
            usage: { prompt_tokens: 10, completion_tokens: 5 },
          }),
        },
      });
      const err = await failure(backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM_OUTPUT');
      expect(err.details?.reason).toBe('refusal');
    } finally {
      await server.close();
    }
  });

  it('fails with 401 and no retry when the key is wrong, without showing the key', async () => {
    const server = await startFakeOpenAi({ apiKey: 'sk-the-right-key-000000000000' });
    try {
      const backend = openaiBackend.create(
        OpenAiConfig.parse({ url: `${server.url}/v1`, api_key_env: 'TEST_OPENAI_KEY' }),
        { ...testContext(), env },
      );
      const err = await failure(backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM');
      expect(err.details?.status).toBe(401);
      expect(server.requests).toHaveLength(1);
      expect(JSON.stringify(err.toJSON())).not.toContain(KEY);
    } finally {
      await server.close();
    }
  });

  it('is remote for api.openai.com and local for a LAN vLLM', () => {
    const ctx = { ...testContext(), env };
    expect(openaiBackend.create(OpenAiConfig.parse({}), ctx).local).toBe(false);
    expect(openaiBackend.create(OpenAiConfig.parse({ url: 'http://192.168.1.20:8000/v1' }), ctx).local).toBe(
      true,
    );
  });
});
