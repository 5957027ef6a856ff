import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServe, waitExit } from './helpers/process.ts';
import { tempDir } from './helpers/runtime.ts';

/*
 * `pipeline.journal` on a real `aisoc serve`: clients send and resend
 * until 202, the process is killed with SIGKILL while they do, and after a
 * restart every acknowledged event is in the store exactly once, loaded
 * from the journal.
 */

const ADMIN = `aisoc_journal_durability_${'j'.repeat(24)}`;
const SIZE = 40;

function batch(request: number): Array<Record<string, unknown>> {
  return Array.from({ length: SIZE }, (_, i) => ({
    eventVersion: '1.08',
    eventTime: new Date(Date.UTC(2026, 10, 19, 10, 0, 0) + request * 1000 + i).toISOString(),
    eventSource: 's3.amazonaws.com',
    eventName: 'GetObject',
    awsRegion: 'us-east-1',
    sourceIPAddress: '198.51.100.10',
    userIdentity: { type: 'IAMUser', userName: 'journal', accessKeyId: 'AKIAJOURNALDUR000001' },
    eventID: `jdur-${request}-${i}`,
  }));
}

const auth = { authorization: `Bearer ${ADMIN}` };

/** Send one request until it is acknowledged; a refusal with a retry hint is sent again. Throws when the server is gone. */
async function sendUntilAcked(url: string, records: Array<Record<string, unknown>>): Promise<void> {
  for (;;) {
    const res = await fetch(`${url}/ingest/cloudtrail`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ Records: records }),
    });
    if (res.status === 202) {
      const body = (await res.json()) as { stored: number; journaled?: boolean };
      expect(body).toMatchObject({ stored: SIZE, journaled: true });
      return;
    }
    expect([429, 503]).toContain(res.status);
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 100 * Number(res.headers.get('retry-after') ?? 1)));
  }
}

describe('ingest journal: an acknowledged event survives kill -9', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);
  const config = join(dir, 'journal.json');
  // A queue of one request's events makes the loader wait for the stages after each frame, so the
  // journal runs ahead of the store and the kill leaves acknowledged frames for the restart to load.
  writeFileSync(
    config,
    JSON.stringify({
      pipeline: { queue_capacity: SIZE, journal: { enabled: true, segment_bytes: 256 * 1024 } },
    }),
  );
  const env = { AISOC_ADMIN_KEY: ADMIN, AISOC_CONFIG: config };

  it('stores every acknowledged event exactly once after a kill -9 while clients send', async () => {
    const server = await startServe(dir, env);
    const acked = new Set<number>();
    const unacked = new Set<number>();
    let killed = false;
    let next = 0;
    const client = async () => {
      while (!killed) {
        const req = next++;
        try {
          await sendUntilAcked(server.url, batch(req));
          acked.add(req);
          if (acked.size >= 40 && !killed) {
            killed = true;
            server.child.kill('SIGKILL');
          }
        } catch {
          // In flight when the process died: never acknowledged, so the client sends it again later.
          unacked.add(req);
          return;
        }
      }
    };
    await Promise.all([client(), client(), client(), client()]);
    await waitExit(server.child);
    expect(server.child.signalCode).toBe('SIGKILL');
    expect(acked.size).toBeGreaterThanOrEqual(40);

    const restarted = await startServe(dir, env);
    try {
      // The restart loads frames acknowledged before the kill and not yet in the store.
      const replayed = async () => {
        const text = await (await fetch(`${restarted.url}/metrics`, { headers: auth })).text();
        return Number(/^aisoc_journal_frames_loaded_total (\d+)/m.exec(text)?.[1] ?? 0);
      };
      const replayDeadline = Date.now() + 60_000;
      while ((await replayed()) === 0) {
        expect(Date.now()).toBeLessThan(replayDeadline);
        await new Promise((r) => setTimeout(r, 100));
      }
      // The clients resend what was not acknowledged, until it is.
      for (const req of unacked) await sendUntilAcked(restarted.url, batch(req));
      // Wait until the journal is loaded and the pipeline has processed it all.
      const deadline = Date.now() + 120_000;
      for (;;) {
        const p = (await (await fetch(`${restarted.url}/pipeline`, { headers: auth })).json()) as {
          pending: number;
          journal?: { pending_frames: number; pending_bytes: number };
        };
        expect(p.journal).toBeDefined();
        if (p.pending === 0 && p.journal!.pending_bytes === 0) break;
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 200));
      }
      const seen = new Map<string, number>();
      for (let offset = 0; ; offset += 1000) {
        const res = await fetch(`${restarted.url}/events?source=cloudtrail&limit=1000&offset=${offset}`, {
          headers: auth,
        });
        const page = (await res.json()) as { items: Array<{ source_event_id: string }>; total: number };
        for (const e of page.items) seen.set(e.source_event_id, (seen.get(e.source_event_id) ?? 0) + 1);
        if (offset + 1000 >= page.total) break;
      }
      const expected = [...acked, ...unacked].flatMap((req) => batch(req).map((r) => String(r.eventID)));
      expect(expected.filter((id) => !seen.has(id))).toEqual([]);
      expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
      // Nothing else: what was stored is what the clients had acknowledged in the end.
      expect(seen.size).toBe(expected.length);
    } finally {
      restarted.child.kill('SIGTERM');
      await waitExit(restarted.child);
    }
  }, 300_000);
});
