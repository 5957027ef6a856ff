import { describe, expect, it } from 'vitest';
import { makeAlert, makeEvent } from '../../test/helpers/builders.ts';
import { truncationMarker } from '../sources/limits.ts';
import { ANALYST_EVENT_LIMITS, inputFromAlert } from './subject.ts';

const assets = { critical_hosts: [], privileged_users: [], crown_jewel_accounts: [] };

describe('inputFromAlert', () => {
  it('gives the analyst each stored text cut to 4 KiB, marked, with the raw record in its shape', () => {
    const long = `Mozilla/5.0 ${'9 '.repeat(40_000)}`;
    const event = makeEvent({
      message: long,
      cloud: { provider: 'aws', operation: 'CreateUser', user_agent: long },
      raw: { eventName: 'CreateUser', userAgent: long, requestParameters: { userName: 'bob' } },
    });
    const before = structuredClone(event);
    const input = inputFromAlert(makeAlert({ event_ids: [event.id] }), [event], undefined, assets);
    const record = input.records[0]!.record as typeof event;
    expect(record.truncated).toBe(true);
    for (const text of [
      record.message!,
      record.cloud!.user_agent!,
      (record.raw as { userAgent: string }).userAgent,
    ]) {
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(ANALYST_EVENT_LIMITS.maxFieldBytes);
      expect(text.startsWith('Mozilla/5.0 9 9')).toBe(true);
      expect(text.endsWith(truncationMarker(Buffer.byteLength(long)))).toBe(true);
    }
    // Evidence can still cite raw fields by path.
    expect((record.raw as { eventName: string }).eventName).toBe('CreateUser');
    expect(record.cloud!.operation).toBe('CreateUser');
    // The stored event the caller holds is not changed.
    expect(event).toEqual(before);
  });

  it('passes events within the limits as they are', () => {
    const event = makeEvent();
    const input = inputFromAlert(makeAlert({ event_ids: [event.id] }), [event], undefined, assets);
    expect(input.records[0]!.record).toEqual(event);
    expect((input.records[0]!.record as { truncated?: boolean }).truncated).toBeUndefined();
  });
});
