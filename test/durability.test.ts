import { afterAll, describe, expect, it } from 'vitest';
import { startServe, waitExit } from './helpers/process.ts';
import { tempDir } from './helpers/runtime.ts';

const ADMIN = `aisoc_durability_test_${'x'.repeat(24)}`;

function batch(request: number, size: number): Array<Record<string, unknown>> {
  return Array.from({ length: size }, (_, i) => ({
    eventVersion: '1.08',
    eventTime: new Date(Date.UTC(2026, 10, 19, 10, 0, 0) + request * 1000 + i).toISOString(),
    eventSource: 's3.amazonaws.com',
    eventName: 'GetObject',
    awsRegion: 'us-east-1',
    sourceIPAddress: '198.51.100.10',
    userIdentity: { type: 'IAMUser', userName: 'durability', accessKeyId: 'AKIADURABILITY000001' },
    eventID: `dur-${request}-${i}`,
  }));
}

describe('durability: an acknowledged event survives kill -9', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('keeps every acknowledged event, exactly once, across a kill -9 right after a 2xx', async () => {
    const server = await startServe(dir, { AISOC_ADMIN_KEY: ADMIN });
    const acked = new Set<string>();
    const size = 25;
    let killed = false;
    let next = 0;
    // Four clients post concurrently; the process is killed the moment the 20th acknowledgement arrives.
    const client = async () => {
      while (!killed) {
        const req = next++;
        const records = batch(req, size);
        try {
          const res = await fetch(`${server.url}/ingest/cloudtrail`, {
            method: 'POST',
            headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ Records: records }),
          });
          if (res.status === 202) {
            const body = (await res.json()) as { stored: number };
            expect(body.stored).toBe(size);
            for (const r of records) acked.add(String(r.eventID));
            if (acked.size >= 20 * size && !killed) {
              killed = true;
              server.child.kill('SIGKILL');
            }
          }
        } catch {
          // Requests in flight when the process dies fail; they were never acknowledged.
          return;
        }
      }
    };
    await Promise.all([client(), client(), client(), client()]);
    await waitExit(server.child);
    expect(server.child.signalCode).toBe('SIGKILL');
    expect(acked.size).toBeGreaterThanOrEqual(20 * size);

    const restarted = await startServe(dir, { AISOC_ADMIN_KEY: ADMIN });
    try {
      const seen = new Map<string, number>();
      for (let offset = 0; ; offset += 1000) {
        const res = await fetch(`${restarted.url}/events?source=cloudtrail&limit=1000&offset=${offset}`, {
          headers: { authorization: `Bearer ${ADMIN}` },
        });
        const page = (await res.json()) as { items: Array<{ source_event_id: string }>; total: number };
        for (const e of page.items) seen.set(e.source_event_id, (seen.get(e.source_event_id) ?? 0) + 1);
        if (offset + 1000 >= page.total) break;
      }
      const missing = [...acked].filter((id) => !seen.has(id));
      const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
      expect(missing).toEqual([]);
      expect(twice).toEqual([]);
      // The restarted pipeline works through what the killed one had not processed.
      for (let i = 0; i < 100; i++) {
        const p = (await (
          await fetch(`${restarted.url}/pipeline`, { headers: { authorization: `Bearer ${ADMIN}` } })
        ).json()) as { pending: number };
        if (p.pending === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const p = (await (
        await fetch(`${restarted.url}/pipeline`, { headers: { authorization: `Bearer ${ADMIN}` } })
      ).json()) as { pending: number };
      expect(p.pending).toBe(0);
    } finally {
      restarted.child.kill('SIGTERM');
      await waitExit(restarted.child);
    }
  }, 180_000);
});
