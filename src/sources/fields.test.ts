import { describe, expect, it } from 'vitest';
import { ParseError, toIsoTime } from './fields.ts';

describe('toIsoTime', () => {
  it('reads the second-precision UTC form CloudTrail writes, and the longer ISO forms', () => {
    expect(toIsoTime('2026-02-28T10:00:00Z', 'eventTime')).toBe('2026-02-28T10:00:00.000Z');
    expect(toIsoTime('2024-02-29T23:59:59Z', 'eventTime')).toBe('2024-02-29T23:59:59.000Z');
    expect(toIsoTime('2026-02-28T10:00:00.123Z', 'eventTime')).toBe('2026-02-28T10:00:00.123Z');
    expect(toIsoTime('2026-02-28T11:00:00+01:00', 'ts')).toBe('2026-02-28T10:00:00.000Z');
    expect(toIsoTime(1772272800, 'ts')).toBe('2026-02-28T10:00:00.000Z');
  });

  it('refuses digits in the right places that name no instant, naming the field', () => {
    for (const bad of [
      '2026-13-01T00:00:00Z',
      '2026-00-10T00:00:00Z',
      '2026-02-28T25:00:00Z',
      '2026-02-28T10:61:00Z',
    ]) {
      expect(() => toIsoTime(bad, 'eventTime'), bad).toThrow(ParseError);
      expect(() => toIsoTime(bad, 'eventTime'), bad).toThrow(/eventTime is not a valid timestamp/);
    }
  });

  it('never returns a day the month does not have', () => {
    for (const v of ['2023-02-29T10:00:00Z', '2026-04-31T00:00:00Z', '2026-02-30T00:00:00Z']) {
      let out: string | undefined;
      try {
        out = toIsoTime(v, 'eventTime');
      } catch {
        continue;
      }
      expect(out.slice(0, 10), v).not.toBe(v.slice(0, 10));
      expect(new Date(out).toISOString()).toBe(out);
    }
  });
});
