import { describe, expect, it } from 'vitest';
import { AisocError } from '../errors.ts';
import type { FramedRecord } from '../sources/framing.ts';
import type { DeadLetterInput } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { type BatcherOptions, LineBatcher } from './batcher.ts';

function harness(overrides: Partial<BatcherOptions> = {}) {
  const batches: string[][] = [];
  const deadLetters: DeadLetterInput[] = [];
  const pressure: boolean[] = [];
  const drops: Array<[number, string]> = [];
  const outcomes: string[] = [];
  const b = new LineBatcher({
    batchLines: 3,
    batchWaitMs: 20,
    bufferLines: 10,
    overloadRetryMaxMs: 50,
    submit: async (records: FramedRecord[]) => {
      batches.push(records.map((r) => String(r.value)));
    },
    submitDeadLetters: async (items) => {
      deadLetters.push(...items);
    },
    onPressure: (on) => pressure.push(on),
    onDrop: (n, reason) => drops.push([n, reason]),
    onBatch: (o) => outcomes.push(o),
    onBuffered: () => {},
    logger: silentLogger(),
    ...overrides,
  });
  return { b, batches, deadLetters, pressure, drops, outcomes };
}

// The deadline only turns a hang into a failure; it is far beyond any wait on a busy machine.
const until = async (cond: () => boolean, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('receiver line batcher', () => {
  it('submits full batches at once and the rest after the wait, in arrival order', async () => {
    const h = harness();
    for (const v of ['a', 'b', 'c', 'd']) h.b.push({ value: v });
    await until(() => h.batches.length === 1);
    expect(h.batches).toEqual([['a', 'b', 'c']]);
    await until(() => h.batches.length === 2);
    expect(h.batches[1]).toEqual(['d']);
    expect(h.b.size).toBe(0);
  });

  it('keeps a batch refused as overloaded, turns pressure on, and resubmits it until it goes through', async () => {
    let refusals = 2;
    const h = harness({
      submit: async (records) => {
        if (refusals-- > 0) throw new AisocError('AISOC_ERR_OVERLOADED', 'full', { retryAfterSeconds: 1 });
        h.batches.push(records.map((r) => String(r.value)));
      },
    });
    for (const v of ['a', 'b', 'c']) h.b.push({ value: v });
    await until(() => h.batches.length === 1);
    expect(h.batches).toEqual([['a', 'b', 'c']]);
    expect(h.pressure).toEqual([true, false]);
    expect(h.outcomes).toEqual(['overloaded', 'overloaded', 'stored']);
  });

  it('reports full at the buffer limit so UDP can drop and TCP pause', () => {
    const h = harness({ submit: () => new Promise(() => {}) });
    for (let i = 0; i < 10; i++) h.b.push({ value: String(i) });
    expect(h.b.full).toBe(true);
    expect(h.b.pressure).toBe(true);
  });

  it('treats a batch whose lines were all dead-lettered by the source as done', async () => {
    const h = harness({
      submit: async () => {
        throw new AisocError('AISOC_ERR_VALIDATION', 'No record could be normalised', {
          details: { outcome: { dead_letters: 3 } },
        });
      },
    });
    for (const v of ['x', 'y', 'z']) h.b.push({ value: v });
    await until(() => h.outcomes.length === 1);
    expect(h.outcomes).toEqual(['stored']);
    expect(h.b.size).toBe(0);
  });

  it('drops a batch that keeps failing for another reason, counting it, and goes on', async () => {
    let calls = 0;
    const h = harness({
      overloadRetryMaxMs: 10,
      submit: async (records) => {
        calls++;
        if (String(records[0]!.value) === 'bad') throw new Error('store unavailable');
      },
    });
    for (const v of ['bad', 'b', 'c', 'ok1', 'ok2', 'ok3']) h.b.push({ value: v });
    await until(() => h.drops.length === 1 && h.b.size === 0);
    expect(h.drops).toEqual([[3, 'dropped_error']]);
    expect(calls).toBe(6);
  });

  it('sends dead letters with the next flush', async () => {
    const h = harness();
    h.b.pushDeadLetter({
      source: 'syslog',
      stage: 'receive',
      code: 'AISOC_ERR_BODY_TOO_LARGE',
      reason: 'big',
      record: 'x',
    });
    await until(() => h.deadLetters.length === 1);
    expect(h.deadLetters[0]!.reason).toBe('big');
  });

  it('flushes what it holds on stop, and drops what the pipeline cannot take before the deadline', async () => {
    const h = harness({ batchWaitMs: 10_000 });
    h.b.push({ value: 'kept' });
    await h.b.stop(1000);
    expect(h.batches).toEqual([['kept']]);

    const stuck = harness({
      batchWaitMs: 10_000,
      submit: async () => {
        throw new AisocError('AISOC_ERR_OVERLOADED', 'full', { retryAfterSeconds: 1 });
      },
    });
    stuck.b.push({ value: 'lost' });
    const t = Date.now();
    await stuck.b.stop(150);
    expect(Date.now() - t).toBeLessThan(1000);
    expect(stuck.drops).toEqual([[1, 'dropped_shutdown']]);
  });
});
