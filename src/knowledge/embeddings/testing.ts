import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server that speaks the OpenAI `/v1/embeddings` and Ollama
 * `/api/embed` protocols, for tests of the embedding clients and of dense
 * retrieval. Its "model" hashes lower-case words into a fixed number of
 * dimensions, so texts sharing words get similar vectors.
 */
export interface FakeEmbeddingServer {
  url: string;
  /** Requests received, by path. */
  requests: Array<{ path: string; body: Record<string, unknown>; authorization?: string }>;
  /** Make the next `n` requests fail with this status (and optional Retry-After). */
  failNext(n: number, status: number, retryAfter?: string): void;
  /** Make the next `n` requests hang until the client gives up. */
  hangNext(n: number): void;
  /** Forget recorded requests and pending injected failures. */
  reset(): void;
  close(): Promise<void>;
}

export const FAKE_DIMENSIONS = 64;

/** The fake model: a bag of hashed words, so similar wording means similar vectors. */
export function fakeEmbedding(text: string, dims = FAKE_DIMENSIONS): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619) >>> 0;
    v[h % dims]! += 1;
  }
  return v;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      s += c;
    });
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * Start the server on a free loopback port.
 *
 * @example const server = await startFakeEmbeddingServer({ apiKey: 'k' }); // server.url + '/v1'
 */
export async function startFakeEmbeddingServer(
  options: { apiKey?: string } = {},
): Promise<FakeEmbeddingServer> {
  const requests: FakeEmbeddingServer['requests'] = [];
  const failures: Array<{ status: number; retryAfter?: string }> = [];
  let hang = 0;
  const server: Server = createServer(async (req, res) => {
    const raw = await readBody(req);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, 400, { error: { message: 'invalid JSON' } });
    }
    const path = (req.url ?? '').split('?')[0]!;
    requests.push({ path, body, authorization: req.headers.authorization });
    if (hang > 0) {
      hang--;
      return; // never answer: the client's timeout must fire
    }
    const fail = failures.shift();
    if (fail)
      return send(
        res,
        fail.status,
        { error: 'injected failure' },
        fail.retryAfter ? { 'retry-after': fail.retryAfter } : {},
      );
    if (req.method !== 'POST') return send(res, 405, { error: 'POST only' });
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    if (!Array.isArray(input) || input.some((x) => typeof x !== 'string') || typeof body.model !== 'string')
      return send(res, 400, { error: 'model and input are required' });
    const dims = typeof body.dimensions === 'number' ? body.dimensions : FAKE_DIMENSIONS;
    if (path === '/v1/embeddings') {
      if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`)
        return send(res, 401, { error: { message: 'Incorrect API key provided' } });
      // Answer in reverse order: clients must place vectors by `index`, not by position.
      const data = (input as string[])
        .map((text, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(text, dims) }))
        .reverse();
      return send(res, 200, {
        object: 'list',
        data,
        model: body.model,
        usage: { prompt_tokens: 1, total_tokens: 1 },
      });
    }
    if (path === '/api/embed') {
      return send(res, 200, {
        model: body.model,
        embeddings: (input as string[]).map((t) => fakeEmbedding(t, dims)),
        total_duration: 1,
        load_duration: 0,
        prompt_eval_count: 1,
      });
    }
    return send(res, 404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(n, status, retryAfter) {
      for (let i = 0; i < n; i++) failures.push({ status, retryAfter });
    },
    hangNext(n) {
      hang += n;
    },
    reset() {
      requests.length = 0;
      failures.length = 0;
      hang = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
