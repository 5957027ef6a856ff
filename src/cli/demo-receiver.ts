import { createServer, type Server } from 'node:http';
import { verifyWebhook } from '../respond/actions/notify/signature.ts';

export interface ReceivedNotification {
  verified: boolean;
  body: Record<string, unknown>;
}

/**
 * A local webhook receiver for the demo: it checks each notification's
 * signature the way a real receiver should and keeps what it got.
 */
export async function startDemoReceiver(
  secret: string,
): Promise<{ url: string; received: ReceivedNotification[]; close: () => Promise<void> }> {
  const received: ReceivedNotification[] = [];
  const server: Server = createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const verified = verifyWebhook(secret, req.headers['x-aisoc-signature'] as string | undefined, raw);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {}
    received.push({ verified, body });
    res.writeHead(verified ? 200 : 401, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/aisoc-notifications`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
