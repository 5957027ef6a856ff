import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AisocError } from '../../errors.ts';
import { EmbeddingsConfig } from '../config.ts';
import { createEmbedder } from './index.ts';
import {
  FAKE_DIMENSIONS,
  type FakeEmbeddingServer,
  fakeEmbedding,
  startFakeEmbeddingServer,
} from './testing.ts';

let server: FakeEmbeddingServer;
beforeAll(async () => {
  server = await startFakeEmbeddingServer({ apiKey: 'sk-test' });
});
afterAll(() => server.close());
beforeEach(() => {
  server.reset();
});

const config = (over: Partial<EmbeddingsConfig>) =>
  EmbeddingsConfig.parse({ retries: 0, timeout_ms: 2000, ...over });

async function failure(p: Promise<unknown>): Promise<AisocError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AisocError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describe('OpenAI-compatible embeddings', () => {
  const env = { AISOC_EMBEDDINGS_API_KEY: 'sk-test' };

  it('sends the model, the inputs and the key, and orders vectors by index', async () => {
    const e = createEmbedder(
      config({ backend: 'openai', url: `${server.url}/v1`, model: 'text-embedding-3-small' }),
      env,
    )!;
    const out = await e.embed(['alpha beta', 'gamma']);
    expect(out).toEqual([fakeEmbedding('alpha beta'), fakeEmbedding('gamma')]);
    expect(server.requests[0]).toMatchObject({
      path: '/v1/embeddings',
      authorization: 'Bearer sk-test',
      body: { model: 'text-embedding-3-small', input: ['alpha beta', 'gamma'], encoding_format: 'float' },
    });
  });

  it('batches inputs and asks for dimensions when configured', async () => {
    const e = createEmbedder(
      config({ backend: 'openai', url: `${server.url}/v1/`, model: 'm', batch_size: 2, dimensions: 16 }),
      env,
    )!;
    const out = await e.embed(['a', 'b', 'c', 'd', 'e']);
    expect(out).toHaveLength(5);
    expect(out[0]).toHaveLength(16);
    expect(server.requests.map((r) => (r.body.input as string[]).length)).toEqual([2, 2, 1]);
    expect(server.requests[0]!.body.dimensions).toBe(16);
  });

  it('fails at once on 401, naming the endpoint and status but not the key', async () => {
    const e = createEmbedder(config({ backend: 'openai', url: `${server.url}/v1`, model: 'm', retries: 3 }), {
      AISOC_EMBEDDINGS_API_KEY: 'sk-wrong',
    })!;
    const err = await failure(e.embed(['x']));
    expect(err.code).toBe('AISOC_ERR_EMBEDDINGS');
    expect(err.message).toContain('answered 401');
    expect(err.message).not.toContain('sk-wrong');
    expect(server.requests).toHaveLength(1);
  });

  it('retries 503 and 429 (honouring Retry-After) and then succeeds', async () => {
    server.failNext(1, 503);
    server.failNext(1, 429, '0');
    const e = createEmbedder(
      config({ backend: 'openai', url: `${server.url}/v1`, model: 'm', retries: 2 }),
      env,
    )!;
    expect(await e.embed(['x'])).toEqual([fakeEmbedding('x')]);
    expect(server.requests).toHaveLength(3);
  });

  it('gives up after its retries', async () => {
    server.failNext(3, 500);
    const e = createEmbedder(
      config({ backend: 'openai', url: `${server.url}/v1`, model: 'm', retries: 1 }),
      env,
    )!;
    const err = await failure(e.embed(['x']));
    expect(err.message).toMatch(/answered 500.*after 2 attempts/);
  });
});

describe('Ollama embeddings', () => {
  it('posts to /api/embed and returns vectors in input order', async () => {
    const e = createEmbedder(config({ backend: 'ollama', url: server.url, model: 'nomic-embed-text' }), {})!;
    expect(e.model).toBe('nomic-embed-text');
    const out = await e.embed(['one two', 'three']);
    expect(out).toEqual([fakeEmbedding('one two'), fakeEmbedding('three')]);
    expect(out[0]).toHaveLength(FAKE_DIMENSIONS);
    expect(server.requests[0]).toMatchObject({
      path: '/api/embed',
      body: { model: 'nomic-embed-text', input: ['one two', 'three'], truncate: true },
    });
  });

  it('times out a request that never answers, then retries', async () => {
    server.hangNext(1);
    const e = createEmbedder(
      config({ backend: 'ollama', url: server.url, model: 'm', timeout_ms: 200, retries: 1 }),
      {},
    )!;
    expect(await e.embed(['x'])).toEqual([fakeEmbedding('x')]);
    server.hangNext(2);
    const err = await failure(
      createEmbedder(
        config({ backend: 'ollama', url: server.url, model: 'm', timeout_ms: 150, retries: 1 }),
        {},
      )!.embed(['x']),
    );
    expect(err.message).toMatch(/did not answer within 150 ms/);
  });

  it('reports an endpoint that is down', async () => {
    const e = createEmbedder(config({ backend: 'ollama', url: 'http://127.0.0.1:9', model: 'm' }), {})!;
    const err = await failure(e.embed(['x']));
    expect(err.code).toBe('AISOC_ERR_EMBEDDINGS');
    expect(err.field).toBe('knowledge.embeddings.url');
  });

  it('reports an answer of the wrong shape', async () => {
    const e = createEmbedder(config({ backend: 'ollama', url: `${server.url}/nowhere`, model: 'm' }), {})!;
    expect((await failure(e.embed(['x']))).message).toContain('answered 404');
  });
});

describe('createEmbedder', () => {
  it('returns nothing for backend none and fills defaults otherwise', () => {
    expect(createEmbedder(config({}))).toBeUndefined();
    expect(createEmbedder(config({ backend: 'openai' }), {})!.model).toBe('text-embedding-3-small');
  });
});
