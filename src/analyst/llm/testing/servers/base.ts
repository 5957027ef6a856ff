import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createH2cServer, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';

/** An answer in protocol-neutral terms; each protocol adapter renders it in its own wire format. */
export interface NeutralReply {
  text: string;
  /** `length` renders as the protocol's token-limit stop reason. */
  stop?: 'stop' | 'length';
  usage?: { input: number; output: number };
  model?: string;
  /** Bedrock: answer in a text block rather than a tool call, even when the text is JSON. */
  asText?: boolean;
}

export interface NeutralError {
  status: number;
  message?: string;
  /** Sent as the `Retry-After` header. */
  retryAfter?: string;
  /** Put the request's Authorization header in the error body, as careless proxies do. */
  echoAuthorization?: boolean;
}

/** One scripted answer; the server plays them in order, one per request. */
export type Step =
  | { reply: NeutralReply }
  | { respond: (req: RecordedRequest) => NeutralReply }
  | { error: NeutralError }
  | { hang: true }
  | { raw: { status: number; headers?: Record<string, string>; body: string } };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: unknown;
  /** Protocol violations the adapter found (the request was answered with 400). */
  wireErrors: string[];
  /** The client went away before the answer was complete (a timeout or a cancellation). */
  aborted: boolean;
}

export interface WireResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

/** How one protocol is checked and spoken. */
export interface ProtocolAdapter {
  readonly name: string;
  /** What is wrong with a request, per the protocol (empty when it conforms). */
  check(req: RecordedRequest): string[];
  reply(reply: NeutralReply, req: RecordedRequest): WireResponse;
  error(error: NeutralError, req: RecordedRequest): WireResponse;
  /** The JSON schema the request carried (Ollama `format`, OpenAI `json_schema.schema`, a Bedrock tool's `inputSchema.json`). */
  schemaOf(req: RecordedRequest): unknown;
  /** The system prompt and the concatenated user messages of a request. */
  promptOf(req: RecordedRequest): { system: string; user: string };
}

export interface FakeLlmServer {
  readonly url: string;
  readonly adapter: ProtocolAdapter;
  readonly requests: RecordedRequest[];
  /** Queue answers for the next requests. */
  script(...steps: Step[]): void;
  /** Forget requests and queued steps. */
  reset(): void;
  /** Resolves when request `i` has been aborted by the client; rejects after `timeoutMs`. */
  waitForAbort(i: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The parts of a node:http or node:http2 compatibility response the server uses. */
interface AnyResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
  on(event: 'close', listener: () => void): unknown;
}

/** The parts of a node:http or node:http2 compatibility request the server uses. */
interface AnyRequest {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
}

/**
 * A scriptable fake model server on 127.0.0.1 and a free port, speaking the
 * adapter's protocol: it records every request, answers protocol violations
 * with 400 (and records them), and otherwise plays the scripted steps in
 * order. With no step left it answers 500, so a test that makes more calls
 * than it scripted fails loudly.
 *
 * @example
 * const server = await startFakeLlmServer(ollamaProtocol());
 * server.script({ error: { status: 429, retryAfter: '1' } }, { reply: { text: '{"ok":true}' } });
 */
export async function startFakeLlmServer(
  adapter: ProtocolAdapter,
  options: { http2?: boolean } = {},
): Promise<FakeLlmServer> {
  const requests: RecordedRequest[] = [];
  let steps: Step[] = [];
  const handle = (req: AnyRequest, res: AnyResponse, rawBody: string) => {
    let answered = false;
    const send = (w: WireResponse) => {
      answered = true;
      res.writeHead(w.status, { 'content-type': 'application/json', ...w.headers });
      res.end(w.body);
    };
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const rec: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      rawBody,
      body,
      wireErrors: [],
      aborted: false,
    };
    requests.push(rec);
    res.on('close', () => {
      if (!answered) rec.aborted = true;
    });
    rec.wireErrors = body === undefined ? ['the body is not JSON'] : adapter.check(rec);
    if (rec.wireErrors.length > 0) {
      send(adapter.error({ status: 400, message: rec.wireErrors.join('; ') }, rec));
      return;
    }
    const step = steps.shift();
    if (!step) {
      send(adapter.error({ status: 500, message: 'the fake server has no scripted answer left' }, rec));
      return;
    }
    if ('hang' in step) return;
    if ('raw' in step) send(step.raw);
    else if ('error' in step) {
      const message = step.error.echoAuthorization
        ? `${step.error.message ?? 'error'} (authorization: ${String(req.headers.authorization)})`
        : step.error.message;
      send(adapter.error({ ...step.error, message }, rec));
    } else send(adapter.reply('reply' in step ? step.reply : step.respond(rec), rec));
  };
  const onRequest = (req: AnyRequest, res: AnyResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  };
  // HTTP/2 without TLS (h2c, prior knowledge): what the AWS SDK's Bedrock Runtime client speaks to an http:// endpoint.
  const sessions = new Set<Http2Session>();
  const server = options.http2 ? createH2cServer(onRequest) : createServer(onRequest);
  if (options.http2)
    server.on('session', (s: Http2Session) => {
      sessions.add(s);
      s.on('close', () => sessions.delete(s));
    });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    adapter,
    requests,
    script: (...more) => {
      steps.push(...more);
    },
    reset: () => {
      requests.length = 0;
      steps = [];
    },
    waitForAbort: async (i, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!requests[i]?.aborted) {
        if (Date.now() > deadline) throw new Error(`request ${i} was not aborted within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: async () => {
      if ('closeAllConnections' in server) server.closeAllConnections();
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Shared checks: the value is a non-empty array of `{role, content}` with the given roles. */
export function checkMessages(messages: unknown, roles: readonly string[], where: string): string[] {
  if (!Array.isArray(messages) || messages.length === 0) return [`${where} must be a non-empty array`];
  const errors: string[] = [];
  messages.forEach((m, i) => {
    const msg = m as { role?: unknown };
    if (!roles.includes(String(msg?.role)))
      errors.push(`${where}[${i}].role must be one of ${roles.join(', ')}`);
  });
  return errors;
}

/** `{ 'retry-after': value }`, or no header. */
export function retryAfterHeader(value: string | undefined): Record<string, string> {
  return value === undefined ? {} : { 'retry-after': value };
}
