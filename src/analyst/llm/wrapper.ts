import { AisocError, isAisocError } from '../../errors.ts';
import { componentLogger } from '../../telemetry/logger.ts';
import { raceAbort, systemClock } from './clock.ts';
import type { CommonLlmSettings } from './config.ts';
import { LLM_OUTCOMES, llmMetrics } from './metrics.ts';
import { parseCompletion } from './output.ts';
import { Redactor } from './redact.ts';
import type { LlmBackend, LlmCompletion, LlmContext, LlmCore, LlmRequest, LlmResult } from './types.ts';
import { UpstreamError } from './upstream.ts';

/** Why an attempt failed, as the retry loop sees it. */
type Failure =
  | { kind: 'timeout' }
  | { kind: 'cancelled' }
  | { kind: 'upstream'; error: UpstreamError }
  | { kind: 'aisoc'; error: AisocError };

/** The reason label of `aisoc_llm_retries_total`. */
function retryReason(f: Failure): string {
  if (f.kind === 'timeout') return 'timeout';
  if (f.kind !== 'upstream') return 'other';
  if (f.error.status === 429) return 'rate_limited';
  if (f.error.kind === 'network') return 'network';
  return 'server_error';
}

/** The outcome label of `aisoc_llm_requests_total` for a failed call. */
function outcomeOf(err: unknown): string {
  if (!isAisocError(err)) return 'error';
  switch (err.code) {
    case 'AISOC_ERR_LLM_TIMEOUT':
      return 'timeout';
    case 'AISOC_ERR_LLM_OUTPUT':
      return 'invalid_output';
    case 'AISOC_ERR_LLM_TRUNCATED':
      return 'truncated';
    case 'AISOC_ERR_LLM_UNAVAILABLE':
      return 'circuit_open';
    default:
      return err.details?.reason === 'cancelled' ? 'cancelled' : 'error';
  }
}

/**
 * Fails calls fast after `failures` consecutive failed completions, for
 * `cooldownMs`; the first call after the cool-down goes through and closes
 * the circuit if it succeeds. Answers that arrive but are unusable do not
 * count: the endpoint is up.
 */
class Breaker {
  private consecutive = 0;
  private openUntil = 0;

  constructor(
    private readonly failures: number,
    private readonly cooldownMs: number,
  ) {}

  /** Milliseconds the circuit stays open, or 0 when calls may go through. */
  openFor(now: number): number {
    return this.failures > 0 && now < this.openUntil ? this.openUntil - now : 0;
  }

  success(): void {
    this.consecutive = 0;
  }

  /** Returns true when this failure opened the circuit. */
  failure(now: number): boolean {
    this.consecutive++;
    if (this.failures > 0 && this.consecutive >= this.failures) {
      this.openUntil = now + this.cooldownMs;
      this.consecutive = 0;
      return true;
    }
    return false;
  }
}

const SCHEMA_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function checkRequest(request: LlmRequest): void {
  const bad = (field: string, message: string) =>
    new AisocError('AISOC_ERR_VALIDATION', `Invalid LLM request: ${field} ${message}.`, { field });
  if (typeof request.system !== 'string') throw bad('system', 'must be a string');
  if (!Array.isArray(request.messages) || request.messages.length === 0)
    throw bad('messages', 'must hold at least one message');
  request.messages.forEach((m, i) => {
    if (m.role !== 'user' && m.role !== 'assistant')
      throw bad(`messages[${i}].role`, 'must be user or assistant');
    if (typeof m.content !== 'string') throw bad(`messages[${i}].content`, 'must be a string');
  });
  if (!request.schema || typeof request.schema !== 'object' || Array.isArray(request.schema))
    throw bad('schema', 'must be a JSON Schema object');
  if (!SCHEMA_NAME.test(request.schemaName)) throw bad('schemaName', 'must match [A-Za-z0-9_-]{1,64}');
  if (request.maxTokens !== undefined && !(Number.isInteger(request.maxTokens) && request.maxTokens > 0))
    throw bad('maxTokens', 'must be a positive integer');
}

/**
 * The shared wrapper every backend gets (via `defineLlmBackend`): a
 * per-attempt timeout that aborts the request, retries with exponential
 * back-off and jitter on 429/5xx/network errors honouring `Retry-After`, a
 * circuit breaker, metrics, token and cost accounting, redaction of secrets
 * from errors and logs, and parsing and validation of the answer. Backends
 * implement only one attempt of their protocol ({@link LlmCore}).
 *
 * @example
 * const backend = wrapLlmCore(core, OllamaConfig.parse({}), { logger });
 * const { json } = await backend.complete({ system, messages, schema, schemaName: 'verdict' });
 */
export function wrapLlmCore(core: LlmCore, settings: CommonLlmSettings, ctx: LlmContext): LlmBackend {
  const clock = ctx.clock ?? systemClock;
  const redactor = new Redactor(core.secrets);
  const breaker = new Breaker(settings.breaker_failures, settings.breaker_cooldown_ms);
  const backendLabel = { backend: core.name };
  const metrics = ctx.metrics && llmMetrics(ctx.metrics);
  // Every outcome of this backend at zero from the start: the error-rate alert divides by these series.
  for (const outcome of LLM_OUTCOMES) metrics?.llmRequests.inc({ ...backendLabel, outcome }, 0);
  const log = componentLogger(ctx.logger, 'llm').child({ backend: core.name });

  /** One attempt, bounded by the timeout and the caller's signal. */
  async function attempt(request: LlmRequest, n: number): Promise<LlmCompletion | Failure> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error('timeout')), settings.timeout_ms);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout.signal]) : timeout.signal;
    try {
      return await raceAbort(
        core.call({
          request,
          maxTokens: request.maxTokens ?? settings.max_tokens,
          temperature: request.temperature ?? settings.temperature,
          signal,
          attempt: n,
        }),
        signal,
      );
    } catch (err) {
      if (request.signal?.aborted) return { kind: 'cancelled' };
      if (timeout.signal.aborted) return { kind: 'timeout' };
      if (err instanceof UpstreamError) return { kind: 'upstream', error: err };
      if (isAisocError(err)) return { kind: 'aisoc', error: err };
      return {
        kind: 'upstream',
        error: new UpstreamError(err instanceof Error ? err.message : String(err), {
          kind: 'protocol',
          retryable: false,
          cause: err,
        }),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  function cancelled(attempts: number): AisocError {
    return new AisocError('AISOC_ERR_LLM', `The ${core.name} completion was cancelled by the caller.`, {
      details: { backend: core.name, reason: 'cancelled', attempts },
    });
  }

  function finalError(f: Failure, attempts: number, note = ''): AisocError {
    const details = { backend: core.name, model: core.model, attempts };
    if (f.kind === 'cancelled') return cancelled(attempts);
    if (f.kind === 'timeout') {
      return new AisocError(
        'AISOC_ERR_LLM_TIMEOUT',
        `The ${core.name} backend did not answer within ${settings.timeout_ms} ms (attempt ${attempts} of ${settings.max_attempts}).`,
        { details: { ...details, timeout_ms: settings.timeout_ms } },
      );
    }
    if (f.kind === 'aisoc') return f.error;
    const e = f.error;
    const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
    return new AisocError(
      'AISOC_ERR_LLM',
      `The ${core.name} backend failed after ${tries}: ${e.message}${note}`,
      {
        details: { ...details, reason: e.kind, ...(e.status === undefined ? {} : { status: e.status }) },
        ...(e.retryAfterMs === undefined ? {} : { retryAfterSeconds: Math.ceil(e.retryAfterMs / 1000) }),
      },
    );
  }

  /** A copy of the error with every secret removed (the message, details, and no cause chain). */
  function redacted(err: unknown): AisocError {
    const e = isAisocError(err)
      ? err
      : new AisocError('AISOC_ERR_LLM', `The ${core.name} backend failed: ${String(err)}`);
    // The cause is dropped on purpose: undici and SDK errors carry request headers.
    return new AisocError(e.code, redactor.redact(e.message), {
      ...(e.field === undefined ? {} : { field: e.field }),
      ...(e.details === undefined ? {} : { details: redactor.redactDeep(e.details) }),
      ...(e.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: e.retryAfterSeconds }),
    });
  }

  function backoffMs(attempts: number, retryAfter: number | undefined): number {
    const base = Math.min(settings.backoff_max_ms, settings.backoff_initial_ms * 2 ** (attempts - 1));
    // "Equal jitter": never less than half the base, so back-off still grows.
    const jittered = base / 2 + clock.random() * (base / 2);
    return Math.round(retryAfter === undefined ? jittered : Math.max(retryAfter, jittered));
  }

  async function run(request: LlmRequest, started: number): Promise<LlmResult> {
    const usage = { input_tokens: 0, output_tokens: 0 };
    let cost = 0;
    for (let attempts = 1; ; attempts++) {
      const outcome = await attempt(request, attempts);
      if ('kind' in outcome) {
        if (outcome.kind === 'cancelled') throw cancelled(attempts);
        const retryable =
          outcome.kind === 'timeout'
            ? settings.retry_on_timeout
            : outcome.kind === 'upstream' && outcome.error.retryable;
        if (!retryable || attempts >= settings.max_attempts) throw finalError(outcome, attempts);
        const asked = outcome.kind === 'upstream' ? outcome.error.retryAfterMs : undefined;
        if (asked !== undefined && asked > settings.max_retry_after_ms) {
          throw finalError(
            outcome,
            attempts,
            ` (it asked to wait ${Math.ceil(asked / 1000)} s, more than max_retry_after_ms)`,
          );
        }
        const delay = backoffMs(attempts, asked);
        metrics?.llmRetries.inc({ ...backendLabel, reason: retryReason(outcome) });
        log.warn(
          { attempt: attempts, delay_ms: delay, reason: retryReason(outcome) },
          redactor.redact(
            `The ${core.name} backend failed (${outcome.kind === 'upstream' ? outcome.error.message : outcome.kind}); retrying in ${delay} ms, attempt ${attempts + 1} of ${settings.max_attempts}.`,
          ),
        );
        try {
          await clock.sleep(delay, request.signal);
        } catch {
          throw cancelled(attempts);
        }
        continue;
      }
      usage.input_tokens += outcome.usage.input_tokens;
      usage.output_tokens += outcome.usage.output_tokens;
      const attemptCost =
        (outcome.usage.input_tokens / 1000) * settings.price_input_per_1k_usd +
        (outcome.usage.output_tokens / 1000) * settings.price_output_per_1k_usd;
      cost += attemptCost;
      metrics?.llmTokens.inc({ ...backendLabel, direction: 'input' }, outcome.usage.input_tokens);
      metrics?.llmTokens.inc({ ...backendLabel, direction: 'output' }, outcome.usage.output_tokens);
      if (attemptCost > 0) metrics?.llmCost.inc(backendLabel, attemptCost);
      breaker.success();
      const json = parseCompletion(outcome, request.schema, core.name);
      return {
        json,
        raw: outcome.structured !== undefined ? JSON.stringify(outcome.structured) : outcome.text,
        usage,
        model: outcome.model ?? core.model,
        latency_ms: clock.now() - started,
        attempts,
        cost_usd: cost,
      };
    }
  }

  return {
    name: core.name,
    model: core.model,
    local: core.local,
    async complete(request) {
      checkRequest(request);
      const started = clock.now();
      const open = breaker.openFor(started);
      if (open > 0) {
        metrics?.llmRequests.inc({ ...backendLabel, outcome: 'circuit_open' });
        throw new AisocError(
          'AISOC_ERR_LLM_UNAVAILABLE',
          `The ${core.name} backend failed ${settings.breaker_failures} times in a row; calls fail fast for another ${Math.ceil(open / 1000)} s.`,
          { retryAfterSeconds: Math.ceil(open / 1000), details: { backend: core.name } },
        );
      }
      try {
        const result = await run(request, started);
        metrics?.llmRequests.inc({ ...backendLabel, outcome: 'ok' });
        metrics?.llmDuration.observe(backendLabel, result.latency_ms / 1000);
        log.debug(
          { model: result.model, attempts: result.attempts, latency_ms: result.latency_ms, ...result.usage },
          `The ${core.name} backend answered.`,
        );
        return result;
      } catch (err) {
        const safe = redacted(err);
        const outcome = outcomeOf(safe);
        metrics?.llmRequests.inc({ ...backendLabel, outcome });
        metrics?.llmDuration.observe(backendLabel, (clock.now() - started) / 1000);
        if (safe.code === 'AISOC_ERR_LLM' || safe.code === 'AISOC_ERR_LLM_TIMEOUT') {
          if (outcome !== 'cancelled' && breaker.failure(clock.now()))
            log.warn(
              { cooldown_ms: settings.breaker_cooldown_ms },
              `The ${core.name} backend failed ${settings.breaker_failures} times in a row; failing calls fast for ${settings.breaker_cooldown_ms} ms.`,
            );
        }
        log.warn({ code: safe.code, outcome }, safe.message);
        throw safe;
      }
    },
  };
}
