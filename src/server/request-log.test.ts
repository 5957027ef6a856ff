import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogs } from '../../test/helpers/log-capture.ts';
import { type TestServer, testServer } from '../../test/helpers/runtime.ts';
import { build } from './app.ts';

/** What the server and the runtime write for a log collector (src/telemetry/logger.ts, deploy/promtail/). */
describe('request logs', () => {
  let t: TestServer;
  const log = captureLogs('debug');
  beforeAll(async () => {
    t = await testServer({}, { logger: log.logger });
  });
  afterAll(() => t.close());

  it('carry component http and the request id under request_id, one id per request', async () => {
    const app = await build({ runtime: t.runtime, logRequests: true });
    try {
      await app.inject({ method: 'GET', url: '/health' });
      await app.inject({ method: 'GET', url: '/alerts' });
    } finally {
      await app.close();
    }
    const requestLines = log.lines.filter((l) => l.request_id !== undefined);
    expect(requestLines.length).toBeGreaterThanOrEqual(4);
    for (const l of requestLines) expect(l.component).toBe('http');
    expect(new Set(requestLines.map((l) => l.request_id)).size).toBe(2);
    expect(requestLines.some((l) => l.reqId !== undefined)).toBe(false);
  });

  it('carry the component of the runtime part that logs', async () => {
    // The knowledge base logs when it is ready; its lines name it.
    await t.runtime.knowledge.ready().catch(() => undefined);
    const components = new Set(log.lines.map((l) => l.component));
    expect(components).toContain('knowledge');
    for (const l of log.lines) expect(typeof l.level).toBe('string');
  });
});
