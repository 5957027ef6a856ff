import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CommonLlmSettings } from './config.ts';
import { llmMetrics } from './metrics.ts';
import { OllamaConfig } from './ollama/config.ts';
import { ollamaBackend } from './ollama/index.ts';
import { counter, failure, testContext, testRequest } from './testing/conformance.ts';
import { VALID_VERDICT } from './testing/schema.ts';
import type { FakeLlmServer } from './testing/servers/base.ts';
import { startFakeOllama } from './testing/servers/ollama.ts';
import type { LlmCore } from './types.ts';
import { wrapLlmCore } from './wrapper.ts';

let server: FakeLlmServer;
beforeAll(async () => {
  server = await startFakeOllama();
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => server.reset());

/** A real Ollama backend against the fake server, with a clock whose time the test moves. */
function backend(settings: Partial<CommonLlmSettings> = {}) {
  const ctx = testContext();
  let now = 1_000_000;
  const clock = { ...ctx.clock!, now: () => now };
  const llm = ollamaBackend.create(OllamaConfig.parse({ url: server.url, max_attempts: 1, ...settings }), {
    ...ctx,
    clock,
  });
  const advance = (ms: number) => {
    now += ms;
  };
  return { llm, ctx, advance };
}

const ok = { reply: { text: JSON.stringify(VALID_VERDICT) } };

describe('shared wrapper', () => {
  it('opens the circuit after consecutive failures, fails fast, then lets a call through after the cool-down', async () => {
    const { llm, ctx, advance } = backend({ breaker_failures: 2, breaker_cooldown_ms: 10_000 });
    server.script({ error: { status: 500 } }, { error: { status: 500 } });
    expect((await failure(llm.complete(testRequest()))).code).toBe('AISOC_ERR_LLM');
    expect((await failure(llm.complete(testRequest()))).code).toBe('AISOC_ERR_LLM');
    const fast = await failure(llm.complete(testRequest()));
    expect(fast.code).toBe('AISOC_ERR_LLM_UNAVAILABLE');
    expect(fast.retryAfterSeconds).toBe(10);
    expect(server.requests).toHaveLength(2);
    expect(await counter(llmMetrics(ctx.metrics).llmRequests, { outcome: 'circuit_open' })).toBe(1);
    advance(10_001);
    server.script(ok);
    expect((await llm.complete(testRequest())).json).toEqual(VALID_VERDICT);
    expect(server.requests).toHaveLength(3);
  });

  it('does not count unusable answers against the circuit: the endpoint is up', async () => {
    const { llm } = backend({ breaker_failures: 2 });
    server.script({ reply: { text: 'not json' } }, { reply: { text: 'still not json' } }, ok);
    expect((await failure(llm.complete(testRequest()))).code).toBe('AISOC_ERR_LLM_OUTPUT');
    expect((await failure(llm.complete(testRequest()))).code).toBe('AISOC_ERR_LLM_OUTPUT');
    expect((await llm.complete(testRequest())).attempts).toBe(1);
  });

  it('gives up at once when Retry-After asks for more than max_retry_after_ms, passing the wait on', async () => {
    const { llm, ctx } = backend({ max_attempts: 3, max_retry_after_ms: 5_000 });
    server.script({ error: { status: 429, retryAfter: '120' } });
    const err = await failure(llm.complete(testRequest()));
    expect(err.code).toBe('AISOC_ERR_LLM');
    expect(err.retryAfterSeconds).toBe(120);
    expect(err.message).toContain('max_retry_after_ms');
    expect(server.requests).toHaveLength(1);
    expect(ctx.sleeps).toEqual([]);
  });

  it('retries timeouts only when retry_on_timeout is set, aborting each attempt', async () => {
    const { llm } = backend({ max_attempts: 2, timeout_ms: 300, retry_on_timeout: true });
    server.script({ hang: true }, { hang: true });
    const err = await failure(llm.complete(testRequest()));
    expect(err.code).toBe('AISOC_ERR_LLM_TIMEOUT');
    expect(err.details?.attempts).toBe(2);
    await server.waitForAbort(0);
    await server.waitForAbort(1);
  });

  it('bounds a core that ignores its abort signal by the timeout', async () => {
    const stuck: LlmCore = {
      name: 'stuck',
      model: 'm',
      local: true,
      secrets: [],
      call: () => new Promise(() => {}),
    };
    const llm = wrapLlmCore(stuck, OllamaConfig.parse({ timeout_ms: 200, max_attempts: 1 }), testContext());
    expect((await failure(llm.complete(testRequest()))).code).toBe('AISOC_ERR_LLM_TIMEOUT');
  });

  it('refuses a response larger than max_response_bytes, and a 200 that is not JSON, without retrying', async () => {
    const { llm } = backend({ max_attempts: 3, max_response_bytes: 2048 });
    server.script({ raw: { status: 200, body: JSON.stringify({ pad: 'x'.repeat(10_000) }) } });
    const big = await failure(llm.complete(testRequest()));
    expect(big.code).toBe('AISOC_ERR_LLM');
    expect(big.message).toContain('larger than 2048 bytes');
    server.script({
      raw: { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>login</html>' },
    });
    const html = await failure(llm.complete(testRequest()));
    expect(html.message).toContain('not JSON');
    expect(server.requests).toHaveLength(2);
  });

  it('rejects malformed requests before calling the model, naming the field', async () => {
    const { llm } = backend();
    const bad = [
      [{ schemaName: 'has spaces' }, 'schemaName'],
      [{ messages: [] }, 'messages'],
      [{ messages: [{ role: 'system', content: 'x' }] }, 'messages[0].role'],
      [{ maxTokens: 0 }, 'maxTokens'],
    ] as const;
    for (const [over, field] of bad) {
      // biome-ignore lint/suspicious/noExplicitAny: deliberately malformed input, as an untyped caller could send.
      const err = await failure(llm.complete(testRequest(over as any)));
      expect([err.code, err.field]).toEqual(['AISOC_ERR_VALIDATION', field]);
    }
    expect(server.requests).toHaveLength(0);
  });

  it('observes the duration of every completion', async () => {
    const { llm, ctx } = backend();
    server.script(ok, { error: { status: 400 } });
    await llm.complete(testRequest());
    await failure(llm.complete(testRequest()));
    const { values } = await llmMetrics(ctx.metrics).llmDuration.get();
    expect(values.find((v) => v.metricName === 'aisoc_llm_request_duration_seconds_count')?.value).toBe(2);
  });
});
