import { describe, expect, it } from 'vitest';
import { raceAbort, systemClock } from './clock.ts';

describe('systemClock.sleep', () => {
  it('resolves after the wait, and rejects with the reason when aborted first', async () => {
    await expect(systemClock.sleep(5)).resolves.toBeUndefined();
    const c = new AbortController();
    const pending = systemClock.sleep(60_000, c.signal);
    c.abort(new Error('cancelled'));
    await expect(pending).rejects.toThrow('cancelled');
    const done = new AbortController();
    done.abort(new Error('already'));
    await expect(systemClock.sleep(60_000, done.signal)).rejects.toThrow('already');
  });
});

describe('raceAbort', () => {
  it('settles with the promise, or with the abort reason when the signal fires first', async () => {
    const c = new AbortController();
    await expect(raceAbort(Promise.resolve(7), c.signal)).resolves.toBe(7);
    await expect(raceAbort(Promise.reject(new Error('boom')), c.signal)).rejects.toThrow('boom');
    const never = new Promise<number>(() => {});
    const raced = raceAbort(never, c.signal);
    c.abort(new Error('timeout'));
    await expect(raced).rejects.toThrow('timeout');
  });
});
