import { createServer } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AisocError, isAisocError } from '../../../errors.ts';
import { createMetrics, type Metrics } from '../../../telemetry/metrics.ts';
import type { CommonLlmSettings } from '../config.ts';
import { llmMetrics } from '../metrics.ts';
import type { LlmBackend, LlmClock, LlmContext, LlmRequest } from '../types.ts';
import { TEST_VERDICT_SCHEMA, VALID_VERDICT } from './schema.ts';
import type { FakeLlmServer } from './servers/base.ts';

export interface LlmConformanceOptions {
  /** The backend type under test. */
  type: string;
  /** Start the fake server that speaks the backend's protocol. */
  start(): Promise<FakeLlmServer>;
  /** Build the real backend pointed at `url`, with the test's settings over the defaults. */
  create(url: string, settings: Partial<CommonLlmSettings>, ctx: LlmContext): LlmBackend;
  /** Secret values the backend is configured with: they must never appear in errors or logs. */
  secrets: string[];
}

/** Everything a conformance test observes around one backend instance. */
export interface Harness {
  backend: LlmBackend;
  metrics: Metrics;
  /** Log lines, as written. */
  logs: string[];
  /** Back-off waits the wrapper asked for, in ms (the test clock does not really wait). */
  sleeps: number[];
}

/** A clock that records back-off waits instead of waiting, and jitters at the midpoint. */
export function recordingClock(sleeps: number[]): LlmClock {
  return {
    now: () => Date.now(),
    random: () => 0.5,
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      if (signal?.aborted) throw signal.reason;
    },
  };
}

/** A context with a capturing logger, a fresh metrics registry and a recording clock. */
export function testContext(): LlmContext & { logs: string[]; sleeps: number[]; metrics: Metrics } {
  const logs: string[] = [];
  const sleeps: number[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  return {
    logger,
    metrics: createMetrics({ defaultMetrics: false }),
    clock: recordingClock(sleeps),
    logs,
    sleeps,
  };
}

/** Await a call that must fail, and return its typed error. */
export async function failure(p: Promise<unknown>): Promise<AisocError> {
  try {
    await p;
  } catch (err) {
    if (!isAisocError(err)) throw new Error(`expected an AisocError, got ${String(err)}`);
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Sum of a counter's values whose labels include `labels`. */
export async function counter(
  metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((n, v) => n + v.value, 0);
}

const SYSTEM = 'You are a SOC analyst. Answer with the verdict only.';
const USER = 'Alert 7f3a: 214 failed sshd logins from 203.0.113.45, then a success for deploy.';

export function testRequest(over: Partial<LlmRequest> = {}): LlmRequest {
  return {
    system: SYSTEM,
    messages: [{ role: 'user', content: USER }],
    schema: TEST_VERDICT_SCHEMA,
    schemaName: 'triage_verdict',
    maxTokens: 512,
    ...over,
  };
}

/**
 * The shared conformance suite every LLM backend passes, against a fake
 * server speaking its real protocol: valid JSON; JSON in Markdown fences and
 * in prose; malformed JSON, schema violations, truncation (token limit and
 * unclosed object) as typed errors; a hang aborted at the timeout; 429 with
 * `Retry-After` then success; 5xx then success; persistent 5xx giving up
 * after `max_attempts`; 4xx not retried; an unreachable endpoint; caller
 * cancellation; token and cost accounting; the schema carried on the wire;
 * and secrets absent from every error and log line.
 *
 * @example
 * describeLlmBackendConformance({
 *   type: 'ollama',
 *   start: startFakeOllama,
 *   create: (url, settings, ctx) => ollamaBackend.create(OllamaConfig.parse({ url, ...settings }), ctx),
 *   secrets: [],
 * });
 */
export function describeLlmBackendConformance(o: LlmConformanceOptions): void {
  describe(`llm backend ${o.type}: conformance`, () => {
    let server: FakeLlmServer;
    beforeAll(async () => {
      server = await o.start();
    }, 60_000);
    afterAll(async () => {
      await server?.close();
    });
    beforeEach(() => server.reset());

    const harness = (settings: Partial<CommonLlmSettings> = {}): Harness => {
      const ctx = testContext();
      const backend = o.create(server.url, { backoff_initial_ms: 200, ...settings }, ctx);
      return { backend, metrics: ctx.metrics, logs: ctx.logs, sleeps: ctx.sleeps };
    };
    const json = JSON.stringify(VALID_VERDICT);

    it('returns a valid JSON answer, parsed, with usage, model and one attempt', async () => {
      const h = harness();
      server.script({ reply: { text: json, usage: { input: 321, output: 54 }, model: 'served-model' } });
      const result = await h.backend.complete(testRequest());
      expect(result.json).toEqual(VALID_VERDICT);
      expect(JSON.parse(result.raw)).toEqual(VALID_VERDICT);
      expect(result.usage).toEqual({ input_tokens: 321, output_tokens: 54 });
      expect(result.attempts).toBe(1);
      expect(result.latency_ms).toBeGreaterThanOrEqual(0);
      expect(result.model).toBe(o.type === 'bedrock' ? h.backend.model : 'served-model');
      expect(h.backend.name).toBe(o.type);
      expect(server.requests).toHaveLength(1);
    });

    it('carries the schema, the system prompt and the messages in the wire format', async () => {
      const h = harness();
      server.script({ reply: { text: json } });
      await h.backend.complete(testRequest());
      const req = server.requests[0]!;
      expect(req.wireErrors).toEqual([]);
      expect(server.adapter.schemaOf(req)).toEqual(TEST_VERDICT_SCHEMA);
      const prompt = server.adapter.promptOf(req);
      expect(prompt.system).toContain(SYSTEM);
      expect(prompt.user).toContain(USER);
    });

    it('accepts JSON inside a Markdown fence', async () => {
      const h = harness();
      server.script({
        reply: { text: `Here is the verdict:\n\n\`\`\`json\n${json}\n\`\`\`\n`, asText: true },
      });
      expect((await h.backend.complete(testRequest())).json).toEqual(VALID_VERDICT);
    });

    it('accepts JSON surrounded by prose', async () => {
      const h = harness();
      server.script({
        reply: {
          text: `After reviewing the {alert} I conclude: ${json} Let me know if you need more.`,
          asText: true,
        },
      });
      expect((await h.backend.complete(testRequest())).json).toEqual(VALID_VERDICT);
    });

    it('reports malformed JSON as AISOC_ERR_LLM_OUTPUT without retrying', async () => {
      const h = harness();
      server.script({ reply: { text: '{"severity": "high", "is_true_positive": tru, }', asText: true } });
      const err = await failure(h.backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM_OUTPUT');
      expect(err.details?.reason).toBe('malformed');
      expect(server.requests).toHaveLength(1);
      expect(await counter(llmMetrics(h.metrics).llmRequests, { outcome: 'invalid_output' })).toBe(1);
    });

    it('reports an answer that breaks the schema, naming the field', async () => {
      const h = harness();
      server.script({ reply: { text: JSON.stringify({ ...VALID_VERDICT, severity: 'catastrophic' }) } });
      const err = await failure(h.backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM_OUTPUT');
      expect(err.field).toBe('severity');
      expect(err.message).toContain('severity');
    });

    it('reports output cut by the token limit as AISOC_ERR_LLM_TRUNCATED', async () => {
      const h = harness();
      server.script({ reply: { text: json.slice(0, 40), stop: 'length' } });
      const err = await failure(h.backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM_TRUNCATED');
      expect(err.details?.reason).toBe('token_limit');
    });

    it('reports an object that never closes as AISOC_ERR_LLM_TRUNCATED even without a length stop', async () => {
      const h = harness();
      server.script({ reply: { text: `Verdict: ${json.slice(0, 60)}`, asText: true } });
      const err = await failure(h.backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM_TRUNCATED');
      expect(err.details?.reason).toBe('unbalanced');
    });

    it('aborts a hanging request at the timeout with AISOC_ERR_LLM_TIMEOUT', async () => {
      const h = harness({ timeout_ms: 400 });
      server.script({ hang: true });
      const err = await failure(h.backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM_TIMEOUT');
      expect(err.details?.timeout_ms).toBe(400);
      await server.waitForAbort(0);
      expect(server.requests).toHaveLength(1);
      expect(await counter(llmMetrics(h.metrics).llmRequests, { outcome: 'timeout' })).toBe(1);
    });

    it('honours Retry-After on 429, then succeeds, counting the attempts', async () => {
      const h = harness();
      server.script(
        { error: { status: 429, retryAfter: '3', message: 'slow down' } },
        { reply: { text: json } },
      );
      const result = await h.backend.complete(testRequest());
      expect(result.json).toEqual(VALID_VERDICT);
      expect(result.attempts).toBe(2);
      expect(server.requests).toHaveLength(2);
      expect(h.sleeps).toHaveLength(1);
      expect(h.sleeps[0]).toBeGreaterThanOrEqual(3000);
      expect(await counter(llmMetrics(h.metrics).llmRetries, { reason: 'rate_limited' })).toBe(1);
    });

    it('retries a 5xx, then succeeds', async () => {
      const h = harness();
      server.script({ error: { status: 503, message: 'overloaded' } }, { reply: { text: json } });
      const result = await h.backend.complete(testRequest());
      expect(result.attempts).toBe(2);
      expect(h.sleeps).toHaveLength(1);
      expect(await counter(llmMetrics(h.metrics).llmRetries, { reason: 'server_error' })).toBe(1);
    });

    it('gives up on persistent 5xx after max_attempts with AISOC_ERR_LLM, backing off exponentially', async () => {
      const h = harness({ max_attempts: 3 });
      server.script(
        { error: { status: 500, message: 'boom' } },
        { error: { status: 500, message: 'boom' } },
        { error: { status: 500, message: 'boom' } },
      );
      const err = await failure(h.backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM');
      expect(err.details?.status).toBe(500);
      expect(err.details?.attempts).toBe(3);
      expect(server.requests).toHaveLength(3);
      expect(h.sleeps).toHaveLength(2);
      expect(h.sleeps[1]!).toBeGreaterThan(h.sleeps[0]!);
      expect(await counter(llmMetrics(h.metrics).llmRequests, { outcome: 'error' })).toBe(1);
    });

    it('does not retry a 400', async () => {
      const h = harness({ max_attempts: 3 });
      server.script({ error: { status: 400, message: 'bad request' } });
      const err = await failure(h.backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM');
      expect(err.details?.status).toBe(400);
      expect(server.requests).toHaveLength(1);
    });

    it('retries an unreachable endpoint, then fails with AISOC_ERR_LLM', async () => {
      const ctx = testContext();
      const port = await closedPort();
      const backend = o.create(`http://127.0.0.1:${port}`, { max_attempts: 2, backoff_initial_ms: 10 }, ctx);
      const err = await failure(backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM');
      expect(err.details?.reason).toBe('network');
      expect(err.details?.attempts).toBe(2);
      expect(ctx.sleeps).toHaveLength(1);
    });

    it('stops when the caller cancels, and aborts the request', async () => {
      const h = harness();
      server.script({ hang: true });
      const controller = new AbortController();
      const call = h.backend.complete(testRequest({ signal: controller.signal }));
      while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
      controller.abort();
      const err = await failure(call);
      expect(err.code).toBe('AISOC_ERR_LLM');
      expect(err.details?.reason).toBe('cancelled');
      await server.waitForAbort(0);
    });

    it('accounts tokens and cost in the result and the metrics', async () => {
      const h = harness({ price_input_per_1k_usd: 0.5, price_output_per_1k_usd: 1.5 });
      server.script(
        { error: { status: 502, message: 'bad gateway' } },
        { reply: { text: json, usage: { input: 1200, output: 300 } } },
      );
      const result = await h.backend.complete(testRequest());
      expect(result.usage).toEqual({ input_tokens: 1200, output_tokens: 300 });
      expect(result.cost_usd).toBeCloseTo(1.2 * 0.5 + 0.3 * 1.5, 10);
      expect(await counter(llmMetrics(h.metrics).llmTokens, { backend: o.type, direction: 'input' })).toBe(
        1200,
      );
      expect(await counter(llmMetrics(h.metrics).llmTokens, { backend: o.type, direction: 'output' })).toBe(
        300,
      );
      expect(await counter(llmMetrics(h.metrics).llmCost, { backend: o.type })).toBeCloseTo(1.05, 10);
      expect(await counter(llmMetrics(h.metrics).llmRequests, { backend: o.type, outcome: 'ok' })).toBe(1);
    });

    it('never lets a secret reach an error message, error JSON or log line', async () => {
      expect(o.secrets.length, 'configure the backend under test with at least one secret').toBeGreaterThan(
        0,
      );
      const h = harness({ max_attempts: 2 });
      const leak = o.secrets.join(' ');
      server.script(
        { error: { status: 500, message: `upstream failed for key ${leak}`, echoAuthorization: true } },
        { error: { status: 401, message: `invalid credentials ${leak}`, echoAuthorization: true } },
      );
      const err = await failure(h.backend.complete(testRequest()));
      expect(err.code).toBe('AISOC_ERR_LLM');
      const surfaces = [err.message, JSON.stringify(err.toJSON()), String(err.stack), h.logs.join('\n')];
      for (const secret of o.secrets) for (const text of surfaces) expect(text).not.toContain(secret);
      // The error still says what happened.
      expect(err.message).toContain('401');
      expect(h.logs.join('\n')).toContain('[redacted]');
    });
  });
}
