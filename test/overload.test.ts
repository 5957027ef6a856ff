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

  it('stores every acknowledged event exactly once while refusing with 429 and 503, whatever the retries', async () => {
    // The event loop "lags" in bursts (an injected probe) while a slow stage fills the queue: clients see
    // 202, 429 and 503, and resend whatever was refused (sometimes twice, as a client that lost a reply would).
    let lag = 0;
    const t = await testServer(
      {
        pipeline: {
          queue_capacity: 300,
          batch_size: 50,
          stage_queue_batches: 2,
          max_inflight_requests: 6,
          max_event_loop_delay_ms: 100,
        },
      },
      { stages: [slowStage(10)], pressureProbe: () => ({ eventLoopDelayMs: lag, rssBytes: 1 }) },
    );
    try {
      const key = await t.key(['ingest']);
      const size = 25;
      const requests = 120;
      const acknowledged = new Set<string>();
      const statuses = new Map<number, number>();
      let next = 0;
      let responses = 0;
      let lagging = 0;
      const client = async () => {
        while (next < requests) {
          const req = next++;
          for (let attempt = 0; ; attempt++) {
            const r = await t.app.inject({
              method: 'POST',
              url: '/ingest/cloudtrail',
              payload: body(req, size),
              headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            });
            statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
            // Every 40 responses the loop "lags" (two samples over the limit); three 503s later it recovers.
            if (++responses % 40 === 0) {
              lag = 1_000;
              t.runtime.pressure.sample();
              t.runtime.pressure.sample();
            }
            if (r.statusCode === 503 && ++lagging % 3 === 0) {
              lag = 0;
              t.runtime.pressure.sample();
            }
            if (r.statusCode === 202) {
              for (let i = 0; i < size; i++) acknowledged.add(`ovl-${req}-${i}`);
              // A client that lost the reply sends again: the events are not stored twice.
              if (req % 10 === 0 && attempt === 0) continue;
              break;
            }
            expect([429, 503]).toContain(r.statusCode);
            expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
            expect(r.json().code).toBe(
              r.statusCode === 429 ? 'AISOC_ERR_OVERLOADED' : 'AISOC_ERR_UNDER_PRESSURE',
            );
            await new Promise((res) => setTimeout(res, 5));
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, client));
      expect(statuses.get(202)).toBeGreaterThanOrEqual(requests);
      expect(statuses.get(429) ?? 0).toBeGreaterThan(0);
      expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
      await t.runtime.runner.drain(60_000);
      const r = await t.runtime.store.client.query<{ n: unknown; distinct_ids: unknown }>(
        'SELECT count(*) AS n, count(DISTINCT source_event_id) AS distinct_ids FROM events',
      );
      expect(acknowledged.size).toBe(requests * size);
      expect(Number(r.rows[0]!.n)).toBe(acknowledged.size);
      expect(Number(r.rows[0]!.distinct_ids)).toBe(acknowledged.size);
      const stored = await t.runtime.store.client.query<{ source_event_id: string }>(
        'SELECT source_event_id FROM events',
      );
      expect(new Set(stored.rows.map((x) => x.source_event_id))).toEqual(acknowledged);
      expect(t.runtime.runner.stats().processed).toBe(acknowledged.size);
    } finally {
      await t.close();
    }
  }, 120_000);
});
