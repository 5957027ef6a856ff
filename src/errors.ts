/**
 * Typed errors with stable codes. Every error the product reports to a user or
 * an API client is an {@link AisocError}: the code never changes between
 * releases, the message is a sentence naming what is wrong, and `field` names
 * the offending input where there is one.
 *
 * @example
 * throw new AisocError('AISOC_ERR_VALIDATION', 'top_k must be between 1 and 10', { field: 'top_k' });
 */
export const ERROR_CATALOGUE = {
  AISOC_ERR_VALIDATION: { status: 400, title: 'A field of the request is invalid' },
  AISOC_ERR_BAD_JSON: { status: 400, title: 'The body is not valid JSON' },
  AISOC_ERR_BAD_ENCODING: { status: 400, title: 'The body encoding is not supported or is corrupt' },
  AISOC_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The content type is not supported' },
  AISOC_ERR_BODY_TOO_LARGE: { status: 413, title: 'The body is larger than the configured limit' },
  AISOC_ERR_UNKNOWN_SOURCE: { status: 404, title: 'No source of that type is registered' },
  AISOC_ERR_UNAUTHORIZED: { status: 401, title: 'A valid API key is required' },
  AISOC_ERR_FORBIDDEN: { status: 403, title: 'The API key lacks the scope this route needs' },
  AISOC_ERR_NOT_FOUND: { status: 404, title: 'No such resource' },
  AISOC_ERR_CONFLICT: { status: 409, title: 'The request conflicts with the current state' },
  AISOC_ERR_OVERLOADED: { status: 429, title: 'The pipeline is full; retry later' },
  AISOC_ERR_RATE_LIMITED: { status: 429, title: 'Too many requests from this client' },
  AISOC_ERR_CONFIG: { status: 500, title: 'The configuration is invalid' },
  AISOC_ERR_STORE: { status: 503, title: 'The store is unavailable' },
  AISOC_ERR_SHUTTING_DOWN: { status: 503, title: 'The server is shutting down' },
  AISOC_ERR_STREAM_UNAVAILABLE: {
    status: 503,
    title: 'The event stream (NATS JetStream) cannot be reached; retry later',
  },
  AISOC_ERR_UNDER_PRESSURE: {
    status: 503,
    title: 'The server is behind (event-loop delay) or short of memory; retry later',
  },
  AISOC_ERR_PARSE: { status: 422, title: 'A record could not be parsed' },
  AISOC_ERR_RULE_PARSE: { status: 422, title: 'A detection rule could not be parsed' },
  AISOC_ERR_KNOWLEDGE_LOADING: { status: 503, title: 'The knowledge base is still loading; retry shortly' },
  AISOC_ERR_KNOWLEDGE_UNAVAILABLE: { status: 503, title: 'The knowledge base has no data for this request' },
  AISOC_ERR_ATTACK_BUNDLE: { status: 422, title: 'The ATT&CK STIX bundle is invalid' },
  AISOC_ERR_RULES_UPDATE: {
    status: 422,
    title: 'The rule release could not be fetched, verified or installed',
  },
  AISOC_ERR_EMBEDDINGS: { status: 502, title: 'The embeddings endpoint failed' },
  AISOC_ERR_LLM: { status: 502, title: 'The LLM backend failed or could not be reached' },
  AISOC_ERR_LLM_TIMEOUT: { status: 504, title: 'The LLM backend did not answer in time' },
  AISOC_ERR_LLM_OUTPUT: { status: 502, title: 'The LLM answer is not valid JSON of the required shape' },
  AISOC_ERR_LLM_TRUNCATED: { status: 502, title: 'The LLM answer was cut off before it was complete' },
  AISOC_ERR_LLM_UNAVAILABLE: {
    status: 503,
    title: 'The LLM backend is cooling down after repeated failures',
  },
  AISOC_ERR_MODEL: { status: 422, title: 'A model file is corrupt, unsupported or does not match its use' },
  AISOC_ERR_MODEL_NOT_FOUND: { status: 404, title: 'No model of that name is loaded' },
  AISOC_ERR_FEATURES: { status: 400, title: 'The feature vector does not fit the model' },
  AISOC_ERR_ACTION_UNKNOWN: { status: 404, title: 'No response action of that type is registered' },
  AISOC_ERR_ACTION_FAILED: { status: 502, title: 'The response action failed at its target' },
  AISOC_ERR_ACTION_NOT_FOUND: { status: 404, title: 'The resource the action targets does not exist' },
  AISOC_ERR_ACTION_ACCESS_DENIED: { status: 403, title: 'The credentials of the action lack permission' },
  AISOC_ERR_ACTION_THROTTLED: { status: 429, title: 'The target kept throttling the response action' },
  AISOC_ERR_ACTION_TIMEOUT: { status: 504, title: 'The response action did not finish in time' },
  AISOC_ERR_ACTION_ABORTED: { status: 499, title: 'The response action was cancelled' },
  AISOC_ERR_ACTION_CONFLICT: { status: 409, title: 'The target kept changing under the response action' },
  AISOC_ERR_ACTION_PRECONDITION: { status: 412, title: 'The target is not in a state the action can act on' },
  AISOC_ERR_ACTION_POLICY: { status: 403, title: 'The response action refused the input by policy' },
  AISOC_ERR_ACTION_ROLLBACK_UNSUPPORTED: { status: 409, title: 'The response action cannot be rolled back' },
  AISOC_ERR_DRY_RUN_ENFORCED: {
    status: 403,
    title: 'respond.dry_run is on: only an approval or a playbook policy naming the action runs it live',
  },
  AISOC_ERR_FOUR_EYES: {
    status: 403,
    title: 'An approval must come from a person other than the requester (four eyes)',
  },
  AISOC_ERR_INTERNAL: { status: 500, title: 'An internal error occurred' },
  // Command-line failures: the status is what an API would answer for the same cause.
  AISOC_ERR_PORT_IN_USE: { status: 500, title: 'Another process already listens on the HTTP port' },
  AISOC_ERR_LISTEN: { status: 500, title: 'The server cannot listen on the configured address' },
  AISOC_ERR_BAD_URL: { status: 400, title: 'The server URL is not an http:// or https:// URL' },
  AISOC_ERR_CONNECTION_REFUSED: { status: 502, title: 'Nothing listens at the server URL' },
  AISOC_ERR_UNREACHABLE: { status: 502, title: 'The server could not be reached' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface AisocErrorOptions {
  /** The input field at fault, as a dotted path (`body.top_k`, `records[3].eventTime`). */
  field?: string;
  /** Extra machine-readable details (never secrets). */
  details?: Record<string, unknown>;
  /** File and line, for content errors. */
  file?: string;
  line?: number;
  cause?: unknown;
  /** Seconds a client should wait before retrying (429/503). */
  retryAfterSeconds?: number;
}

export class AisocError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field?: string;
  readonly details?: Record<string, unknown>;
  readonly file?: string;
  readonly line?: number;
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, options: AisocErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AisocError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.field = options.field;
    this.details = options.details;
    this.file = options.file;
    this.line = options.line;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The JSON body an API client receives. */
  toJSON(): Record<string, unknown> {
    const body: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.field !== undefined) body.field = this.field;
    if (this.file !== undefined) body.file = this.file;
    if (this.line !== undefined) body.line = this.line;
    if (this.details !== undefined) body.details = this.details;
    return body;
  }
}

export function isAisocError(err: unknown): err is AisocError {
  return err instanceof AisocError;
}

/**
 * Whether an error asks the sender to slow down and send the same input
 * again later: the pipeline is full (429), the server is under pressure
 * (503) or its event stream is out of reach (503). Retrying loses nothing
 * and stores nothing twice (what part of a refused submission the stream
 * did take, it recognises by event id when it comes again).
 */
export function isBackpressure(err: unknown): err is AisocError {
  return (
    err instanceof AisocError &&
    (err.code === 'AISOC_ERR_OVERLOADED' ||
      err.code === 'AISOC_ERR_UNDER_PRESSURE' ||
      err.code === 'AISOC_ERR_STREAM_UNAVAILABLE')
  );
}

/** A short, single-line description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
