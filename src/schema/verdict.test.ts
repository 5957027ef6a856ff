import { describe, expect, it } from 'vitest';
import { readAlertTime, SecurityAlert } from './verdict.ts';

describe('readAlertTime: the time forms the seed reads in a submitted alert', () => {
  it.each([
    ['2024-01-15T10:30:00Z', '2024-01-15T10:30:00.000Z'],
    ['2024-01-15T10:30:00.000+0000', '2024-01-15T10:30:00.000Z'],
    ['2024-01-15T12:30:00+02:00', '2024-01-15T10:30:00.000Z'],
    ['2024-01-15T12:30:00+02', '2024-01-15T10:30:00.000Z'],
    ['2024-01-15T05:30:00-0500', '2024-01-15T10:30:00.000Z'],
    ['2024-01-15T10:30:00.123456Z', '2024-01-15T10:30:00.123Z'],
    ['2024-01-15T10:30:00', '2024-01-15T10:30:00.000Z'],
    ['2024-01-15 10:30:00', '2024-01-15T10:30:00.000Z'],
    ['2024-01-15T10:30', '2024-01-15T10:30:00.000Z'],
    ['2024-01-15', '2024-01-15T00:00:00.000Z'],
    [1705314600, '2024-01-15T10:30:00.000Z'],
    ['1705314600', '2024-01-15T10:30:00.000Z'],
    [1705314600123, '2024-01-15T10:30:00.123Z'],
  ] as const)('%j → %s', (input, iso) => {
    expect(readAlertTime(input)).toBe(iso);
  });

  it.each([
    'yesterday',
    '',
    '2024-02-30T10:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-01-15T25:00:00Z',
    '2024-01-15T10:30:00+5',
    '15/01/2024 10:30',
    '2024-01-15T10:30:00Z; DROP TABLE alerts',
  ])('refuses %j', (input) => {
    expect(readAlertTime(input)).toBeUndefined();
  });

  it('refuses numbers beyond the dates JavaScript can hold', () => {
    expect(readAlertTime(1e20)).toBeUndefined();
    expect(readAlertTime(Number.NaN)).toBeUndefined();
  });

  it('leaves the timestamp out of a parsed alert sent without one, and normalises one sent', () => {
    const base = { alert_id: 'a', rule_description: 'x', rule_level: 5 };
    expect(SecurityAlert.parse(base).timestamp).toBeUndefined();
    expect(SecurityAlert.parse({ ...base, timestamp: '2024-01-15T10:30:00.000+0000' }).timestamp).toBe(
      '2024-01-15T10:30:00.000Z',
    );
    const bad = SecurityAlert.safeParse({ ...base, timestamp: 'soon' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['timestamp']);
  });
});
