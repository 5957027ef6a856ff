import { describe, expect, it } from 'vitest';
import { AppConfig } from '../../app-config.ts';
import { AnalystConfig } from '../config.ts';
import { createLlmBackend, LLM_BACKENDS } from './index.ts';
import { testContext } from './testing/conformance.ts';

describe('createLlmBackend', () => {
  it('returns null for the built-in analyst (the default)', () => {
    expect(AppConfig.parse({}).analyst.backend).toBe('builtin');
    expect(createLlmBackend(AnalystConfig.parse({}), testContext())).toBeNull();
  });

  it('builds the configured backend with its section', () => {
    const llm = createLlmBackend(
      AnalystConfig.parse({
        backend: 'ollama',
        ollama: { model: 'mistral:7b', url: 'http://127.0.0.1:11434' },
      }),
      testContext(),
    )!;
    expect([llm.name, llm.model, llm.local]).toEqual(['ollama', 'mistral:7b', true]);
  });

  it('fails fast with AISOC_ERR_CONFIG when a named key variable is unset', () => {
    const config = AnalystConfig.parse({ backend: 'openai', openai: { api_key_env: 'AISOC_TEST_NOT_SET' } });
    expect(() => createLlmBackend(config, { ...testContext(), env: {} })).toThrow(
      expect.objectContaining({ code: 'AISOC_ERR_CONFIG', field: 'analyst.openai.api_key_env' }),
    );
  });

  it('chooses from the registry it is given, and names analyst.backend when the type is not in it', () => {
    const ollama = AnalystConfig.parse({ backend: 'ollama' });
    expect(createLlmBackend(ollama, testContext(), { ollama: LLM_BACKENDS.ollama })?.name).toBe('ollama');
    expect(() => createLlmBackend(ollama, testContext(), { openai: LLM_BACKENDS.openai })).toThrow(
      expect.objectContaining({ code: 'AISOC_ERR_CONFIG', field: 'analyst.backend' }),
    );
  });

  it('refuses unknown keys and bad values in the analyst section', () => {
    expect(AnalystConfig.safeParse({ backend: 'ollama', ollama: { modle: 'x' } }).success).toBe(false);
    expect(AnalystConfig.safeParse({ backend: 'gpt' }).success).toBe(false);
    expect(AnalystConfig.safeParse({ openai: { api_key_env: 'sk-not-a-var-name!' } }).success).toBe(false);
    expect(AnalystConfig.safeParse({ bedrock: { timeout_ms: 10 } }).success).toBe(false);
  });

  it('documents every setting of every backend', () => {
    for (const factory of Object.values(LLM_BACKENDS)) {
      const shape = (factory.configSchema as unknown as { shape: Record<string, { description?: string }> })
        .shape;
      for (const [key, field] of Object.entries(shape))
        expect(field.description, `${factory.type}.${key}`).toBeTruthy();
    }
  });
});
