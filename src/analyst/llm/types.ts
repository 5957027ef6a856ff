import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Metrics } from '../../telemetry/metrics.ts';
import type { JsonSchema } from './json-schema.ts';

export type { JsonSchema };

/** One turn of the conversation. The system prompt travels separately. */
export interface LlmMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** Kinds of identifying values the pseudonymiser replaces (see `guards/pseudonymise.ts`). */
export type EntityKind = 'ip' | 'user' | 'host' | 'email' | 'account' | 'access_key';

/** A value the caller knows to be identifying (the alert's `user`, `source_hostname`, …). */
export interface SensitiveEntity {
  kind: EntityKind;
  value: string;
}

/**
 * What the analyst asks of a model: a system prompt, the conversation, and
 * the JSON Schema the answer must satisfy. Every backend forces JSON its own
 * way (Ollama `format`, OpenAI `response_format`, a Bedrock tool) and the
 * shared wrapper validates the answer against `schema` whatever the backend.
 */
export interface LlmRequest {
  system: string;
  messages: LlmMessage[];
  /** The required output shape: an object schema in the subset `json-schema.ts` validates. */
  schema: JsonSchema;
  /** A name for the schema (`[A-Za-z0-9_-]{1,64}`): OpenAI's `json_schema.name`, the Bedrock tool name. */
  schemaName: string;
  /** Most tokens the model may generate; the backend's `max_tokens` setting when absent. */
  maxTokens?: number;
  /** Sampling temperature; the backend's `temperature` setting when absent. */
  temperature?: number;
  /** Cancels the call (and any back-off wait); the call fails with `AISOC_ERR_LLM`, reason `cancelled`. */
  signal?: AbortSignal;
  /**
   * Values the caller knows are identifying, so pseudonymisation replaces
   * them even where no pattern would find them (user names, host names).
   */
  entities?: SensitiveEntity[];
}

export interface LlmUsage {
  input_tokens: number;
  output_tokens: number;
}

/** A validated answer. */
export interface LlmResult {
  /** The parsed answer; it satisfies `request.schema`. */
  json: unknown;
  /** The text the model produced (for a Bedrock tool call, the tool input as JSON). */
  raw: string;
  /** Tokens over every attempt of this call. */
  usage: LlmUsage;
  /** The model that answered, as the endpoint names it. */
  model: string;
  /** Wall time of the whole call, retries and back-off included. */
  latency_ms: number;
  /** HTTP attempts made (1 when the first one succeeded). */
  attempts: number;
  /** Estimated cost from the configured prices (0 when no prices are set). */
  cost_usd: number;
}

/** A model backend as the analyst sees it: already wrapped with retries, timeouts, metrics and validation. */
export interface LlmBackend {
  /** The backend type (`ollama`, `openai`, `bedrock`, `gullible`). */
  readonly name: string;
  readonly model: string;
  /** Whether the endpoint is on loopback or a private network (pseudonymisation is off by default then). */
  readonly local: boolean;
  complete(request: LlmRequest): Promise<LlmResult>;
}

/** Time and randomness, injectable so tests can observe back-off without waiting. */
export interface LlmClock {
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** A number in [0, 1), for jitter. */
  random(): number;
}

export interface LlmContext {
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Where `*_env` settings are looked up (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly clock?: LlmClock;
}

/** One attempt, as the wrapper hands it to a backend core. */
export interface LlmCall {
  request: LlmRequest;
  maxTokens: number;
  temperature: number;
  /** Aborts on the per-attempt timeout or the caller's signal. */
  signal: AbortSignal;
  attempt: number;
}

/**
 * Why generation stopped, normalised over protocols: `length` means the
 * token limit cut the answer; `refusal` a safety filter or refusal.
 */
export type StopKind = 'stop' | 'length' | 'refusal' | 'other';

/** What a backend core returns for one attempt, before parsing and validation. */
export interface LlmCompletion {
  /** The model's text (empty when the answer came as structured tool input). */
  text: string;
  /** Structured output when the protocol delivers it parsed (a Bedrock tool call). */
  structured?: unknown;
  stop: StopKind;
  /** The protocol's own stop reason, for error messages (`length`, `max_tokens`, `content_filter`). */
  stopDetail: string;
  usage: LlmUsage;
  model?: string;
}

/**
 * The protocol-specific part of a backend: one attempt, no retries. It
 * throws {@link UpstreamError} for HTTP and network failures (the wrapper
 * decides whether to retry) and must honour `call.signal`.
 */
export interface LlmCore {
  readonly name: string;
  readonly model: string;
  readonly local: boolean;
  /** Secret values this core uses (API keys); the wrapper removes them from every error and log line. */
  readonly secrets: readonly string[];
  call(call: LlmCall): Promise<LlmCompletion>;
}

/**
 * The component contract for LLM backends: `{ type, description,
 * configSchema, create }`, like sources. Adding a backend is a folder under
 * `src/analyst/llm/<type>/` and one line in `src/analyst/llm/index.ts`;
 * {@link defineLlmBackend} gives it the shared wrapper.
 */
export interface LlmBackendFactory<C = unknown> {
  readonly type: string;
  readonly description: string;
  readonly configSchema: z.ZodType<C>;
  create(config: C, ctx: LlmContext): LlmBackend;
}
