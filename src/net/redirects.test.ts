/**
 * No outbound POST follows a redirect: the body (alert data, prompts,
 * embeddings input) and the credentials would travel to wherever the answer
 * points. Each client is run against a real server that answers 307 to a
 * second real server, which must receive nothing.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson as llmPost } from '../analyst/llm/http.ts';
import { UpstreamError } from '../analyst/llm/upstream.ts';
import { remote } from '../cli/remote.ts';
import { AisocError } from '../errors.ts';
import { postJson as embeddingsPost } from '../knowledge/embeddings/http.ts';

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

describe('outbound POSTs never follow a redirect', () => {
  const elsewhere: Array<{ method?: string; auth?: string; body: string }> = [];
  let target: Server;
  let redirector: Server;
  let targetUrl = '';
  let redirectorUrl = '';

  beforeAll(async () => {
    target = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        elsewhere.push({ method: req.method, auth: req.headers.authorization, body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    targetUrl = await listen(target);
    redirector = createServer((req, res) => {
      req.resume();
      const status = Number(/\/s(\d{3})\b/.exec(req.url ?? '')?.[1] ?? '307');
      res.writeHead(status, { location: `${targetUrl}/stolen` }).end();
    });
    redirectorUrl = await listen(redirector);
  });

  afterAll(async () => {
    await new Promise((r) => target.close(r));
    await new Promise((r) => redirector.close(r));
  });

  for (const status of [301, 302, 303, 307, 308]) {
    it(`the LLM client refuses a ${status} and sends the prompt nowhere else`, async () => {
      const err = await llmPost(
        `${redirectorUrl}/s${status}/v1/chat/completions`,
        { messages: [{ role: 'user', content: 'alert data' }] },
        {
          signal: AbortSignal.timeout(10_000),
          maxResponseBytes: 1 << 20,
          headers: { authorization: 'Bearer llm-key' },
        },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as UpstreamError).status).toBe(status);
      expect((err as Error).message).toMatch(/redirect/);
      expect(elsewhere).toEqual([]);
    });
  }

  it('the embeddings client refuses a redirect without retrying it, naming the setting', async () => {
    const err = await embeddingsPost(
      `${redirectorUrl}/s307/api/embed`,
      { model: 'm', input: ['secret text'] },
      { timeoutMs: 10_000, retries: 3, backoffMs: 1, what: 'ollama embeddings' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AisocError);
    expect((err as AisocError).code).toBe('AISOC_ERR_EMBEDDINGS');
    expect((err as AisocError).field).toBe('knowledge.embeddings.url');
    expect(elsewhere).toEqual([]);
  });

  it('the CLI keeps its API key at home: a redirect is AISOC_ERR_BAD_URL', async () => {
    const err = await remote({ url: `${redirectorUrl}/s308`, key: 'k'.repeat(40) }, 'POST', '/keys', {
      name: 'x',
      scopes: ['read'],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AisocError);
    expect((err as AisocError).code).toBe('AISOC_ERR_BAD_URL');
    expect((err as Error).message).toMatch(/redirect/);
    expect(elsewhere).toEqual([]);
  });
});
