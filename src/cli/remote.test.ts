import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { AisocError } from '../errors.ts';
import { sendIngest } from './remote.ts';

type Reply = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A local HTTP server that answers each request with the next reply in the list. */
async function server(replies: Reply[]): Promise<{ base: string; bodies: Buffer[]; close: () => void }> {
  const bodies: Buffer[] = [];
  let i = 0;
  const s: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      bodies.push(body);
      const reply = replies[Math.min(i++, replies.length - 1)]!;
      reply(req, res, body);
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  return { base: `http://127.0.0.1:${port}`, bodies, close: () => s.close() };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

const OUTCOME = { source: 'cloudtrail', received: 2, stored: 2, duplicates: 0, dead_letters: 0, skipped: 0 };

describe('sendIngest: how the CLI, the follower and the demo send to a running server', () => {
  let close: (() => void) | undefined;
  afterEach(() => close?.());

  it('waits out 503 (under pressure) and 429 (pipeline full) for Retry-After and sends the same body again', async () => {
    const s = await server([
      json(503, { code: 'AISOC_ERR_UNDER_PRESSURE', message: 'behind' }, { 'retry-after': '1' }),
      json(429, { code: 'AISOC_ERR_OVERLOADED', message: 'full' }, { 'retry-after': '1' }),
      json(202, OUTCOME),
    ]);
    close = s.close;
    const body = Buffer.from('{"Records":[]}');
    const out = await sendIngest(s.base, 'k', 'cloudtrail', body);
    expect(out).toEqual(OUTCOME);
    expect(s.bodies).toHaveLength(3);
    for (const b of s.bodies) expect(b.equals(body)).toBe(true);
  });

  it('stops after its attempts, with the server code', async () => {
    const s = await server([
      json(503, { code: 'AISOC_ERR_UNDER_PRESSURE', message: 'behind' }, { 'retry-after': '0' }),
    ]);
    close = s.close;
    const err = await sendIngest(s.base, 'k', 'cloudtrail', Buffer.from('{}'), {}, 2).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AisocError);
    expect((err as AisocError).code).toBe('AISOC_ERR_UNDER_PRESSURE');
    expect(s.bodies).toHaveLength(2);
  });

  it('gives the outcome of a body whose every record was refused, and a coded error for a bad key', async () => {
    const refused = { ...OUTCOME, stored: 0, dead_letters: 2 };
    const s = await server([
      json(400, { code: 'AISOC_ERR_VALIDATION', message: 'no record', details: { outcome: refused } }),
      json(401, { code: 'AISOC_ERR_UNAUTHORIZED', message: 'bad key' }),
    ]);
    close = s.close;
    expect(await sendIngest(s.base, 'k', 'cloudtrail', Buffer.from('{}'))).toEqual(refused);
    const err = await sendIngest(s.base, 'wrong', 'cloudtrail', Buffer.from('{}')).catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_UNAUTHORIZED');
    expect((err as AisocError).message).toContain('401');
  });

  it('never follows a redirect with the key and the events', async () => {
    let followed = false;
    const target = await server([
      (_req, res) => {
        followed = true;
        json(202, OUTCOME)(_req, res, Buffer.alloc(0));
      },
    ]);
    const s = await server([
      (_req, res) => {
        res.writeHead(307, { location: `${target.base}/ingest/cloudtrail` });
        res.end();
      },
    ]);
    close = () => {
      s.close();
      target.close();
    };
    const err = await sendIngest(s.base, 'k', 'cloudtrail', Buffer.from('{}')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AisocError);
    expect((err as AisocError).message).toContain('redirect');
    expect(followed).toBe(false);
  });
});
