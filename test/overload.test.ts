import { describe, expect, it } from 'vitest';
import type { Stage } from '../src/pipeline/stage.ts';
import type { NormalisedEvent } from '../src/schema/event.ts';
import { testServer } from './helpers/runtime.ts';

/** A stage that takes `ms` per batch: the pipeline falls behind a fast client. */
function slowStage(ms: number): Stage<NormalisedEvent, NormalisedEvent> {
  return {
    name: 'slow',
    async process(batch) {
      await new Promise((r) => setTimeout(r, ms));
      return { outputs: batch };
    },
  };
}

function body(req: number, size: number, badEvery = 0): string {
  const records = Array.from({ length: size }, (_, i) => ({
    eventTime:
      badEvery && i % badEvery === 0
        ? 'garbage'
        : new Date(Date.UTC(2026, 0, 1) + req * 1000 + i).toISOString(),
    eventSource: 'ec2.amazonaws.com',
    eventName: 'DescribeInstances',
    eventID: `ovl-${req}-${i}`,
    userIdentity: { type: 'IAMUser', userName: 'loadtest' },
  }));
  return JSON.stringify({ Records: records });
}

describe('overload: a full pipeline refuses with 429 and memory stays bounded', () => {
  it('refuses with 429 and Retry-After, never holds more than its capacity, and the counts reconcile', async () => {
    const capacity = 500;
    const t = await testServer(
      {
        pipeline: {
          queue_capacity: capacity,
          batch_size: 50,
          stage_queue_batches: 2,
          max_inflight_requests: 8,
        },
      },
      { stages: [slowStage(20)] },
    );
    try {
      const key = await t.key(['ingest']);
      const size = 40;
      const requests = 300;
      let sent = 0;
      let stored = 0;
      let deadLettered = 0;
      let refused = 0;
      let maxPending = 0;
      const retryAfter: string[] = [];
      const heapBefore = process.memoryUsage().heapUsed;
      let next = 0;
      const client = async () => {
        while (next < requests) {
          const req = next++;
          sent += size;
          const r = await t.app.inject({
            method: 'POST',
            url: '/ingest/cloudtrail',
            payload: body(req, size, 10),
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          });
          maxPending = Math.max(maxPending, t.runtime.runner.stats().pending);
          if (r.statusCode === 202) {
            const j = r.json();
            stored += j.stored;
            deadLettered += j.dead_letters;
            expect(j.received).toBe(size);
          } else {
            expect(r.statusCode).toBe(429);
            expect(r.json().code).toBe('AISOC_ERR_OVERLOADED');
            retryAfter.push(String(r.headers['retry-after']));
            refused += size;
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, client));
      const heapGrowthMiB = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;

      expect(refused).toBeGreaterThan(0);
      expect(retryAfter.every((v) => Number(v) >= 1)).toBe(true);
      // Bounded: the backlog never exceeds the capacity (one request may top it up to, not past, it).
      expect(maxPending).toBeLessThanOrEqual(capacity);
      expect(heapGrowthMiB).toBeLessThan(200);
      // received = stored + dead-lettered + refused
      expect(stored + deadLettered + refused).toBe(sent);
      expect(await t.runtime.store.events.count()).toBe(stored);
      expect(await t.runtime.store.deadLetters.count()).toBe(deadLettered);
      await t.runtime.runner.drain(60_000);
      expect(t.runtime.runner.stats().processed).toBe(stored);
    } finally {
      await t.close();
    }
  }, 120_000);
});
