import { describe, expect, it } from 'vitest';
import { describeLlmBackendConformance, failure, testContext, testRequest } from '../testing/conformance.ts';
import { TEST_VERDICT_SCHEMA, VALID_VERDICT } from '../testing/schema.ts';
import { BEDROCK_TEST_CREDENTIALS, startFakeBedrock } from '../testing/servers/bedrock.ts';
import { BedrockConfig } from './config.ts';
import { bedrockBackend } from './index.ts';

const env = {
  TEST_BEDROCK_KEY_ID: BEDROCK_TEST_CREDENTIALS.accessKeyId,
  TEST_BEDROCK_SECRET: BEDROCK_TEST_CREDENTIALS.secretAccessKey,
};
const credentialEnv = {
  access_key_id_env: 'TEST_BEDROCK_KEY_ID',
  secret_access_key_env: 'TEST_BEDROCK_SECRET',
};
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';

describeLlmBackendConformance({
  type: 'bedrock',
  start: () => startFakeBedrock({ region: 'eu-west-1' }),
  create: (endpoint, settings, ctx) =>
    bedrockBackend.create(
      BedrockConfig.parse({ endpoint, region: 'eu-west-1', ...credentialEnv, ...settings }),
      {
        ...ctx,
        env,
      },
    ),
  secrets: [BEDROCK_TEST_CREDENTIALS.accessKeyId, BEDROCK_TEST_CREDENTIALS.secretAccessKey],
});

describe('bedrock backend', () => {
  it('forces JSON through one tool: inputSchema is the schema and toolChoice names it, SigV4-signed', async () => {
    const server = await startFakeBedrock();
    try {
      const backend = bedrockBackend.create(BedrockConfig.parse({ endpoint: server.url, ...credentialEnv }), {
        ...testContext(),
        env,
      });
      server.script({ reply: { text: JSON.stringify(VALID_VERDICT) } });
      const result = await backend.complete(testRequest({ maxTokens: 800, temperature: 0.3 }));
      expect(result.json).toEqual(VALID_VERDICT);
      const req = server.requests[0]!;
      expect(req.wireErrors).toEqual([]);
      expect(decodeURIComponent(req.path)).toBe(`/model/${MODEL}/converse`);
      expect(String(req.headers.authorization)).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIAFAKEBEDROCKTEST1\//,
      );
      const body = req.body as Record<string, unknown>;
      expect(body.toolConfig).toEqual({
        tools: [
          {
            toolSpec: {
              name: 'triage_verdict',
              description: expect.any(String),
              inputSchema: { json: TEST_VERDICT_SCHEMA },
            },
          },
        ],
        toolChoice: { tool: { name: 'triage_verdict' } },
      });
      expect(body.inferenceConfig).toEqual({ maxTokens: 800, temperature: 0.3 });
      expect(body.system).toEqual([{ text: testRequest().system }]);
    } finally {
      await server.close();
    }
  });

  it('fails when the signature was made with other credentials (the fake verifies SigV4)', async () => {
    const server = await startFakeBedrock();
    try {
      const backend = bedrockBackend.create(BedrockConfig.parse({ endpoint: server.url, ...credentialEnv }), {
        ...testContext(),
        env: { ...env, TEST_BEDROCK_SECRET: 'another/secret/key/00000000000000000000000' },
      });
      const err = await failure(backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM');
      expect(err.details?.status).toBe(400);
      expect(server.requests[0]!.wireErrors).toContain('the signature does not match');
    } finally {
      await server.close();
    }
  });

  it('in prompt mode sends the schema in the system prompt and no tool', async () => {
    const server = await startFakeBedrock({ mode: 'prompt' });
    try {
      const backend = bedrockBackend.create(
        BedrockConfig.parse({ endpoint: server.url, json_mode: 'prompt', ...credentialEnv }),
        { ...testContext(), env },
      );
      server.script({ reply: { text: `\`\`\`json\n${JSON.stringify(VALID_VERDICT)}\n\`\`\`` } });
      const result = await backend.complete(testRequest());
      expect(result.json).toEqual(VALID_VERDICT);
      expect(server.requests[0]!.wireErrors).toEqual([]);
      expect(server.adapter.schemaOf(server.requests[0]!)).toEqual(TEST_VERDICT_SCHEMA);
    } finally {
      await server.close();
    }
  });

  it('is never local, and needs both halves of a static credential', () => {
    const ctx = { ...testContext(), env };
    expect(
      bedrockBackend.create(BedrockConfig.parse({ endpoint: 'http://127.0.0.1:1', ...credentialEnv }), ctx)
        .local,
    ).toBe(false);
    expect(() =>
      bedrockBackend.create(BedrockConfig.parse({ access_key_id_env: 'TEST_BEDROCK_KEY_ID' }), ctx),
    ).toThrow(/secret_access_key_env/);
  });
});
