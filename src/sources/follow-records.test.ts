import { describe, expect, it } from 'vitest';
import { AisocError } from '../errors.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { assertFollowable, linesToRecords } from './follow-records.ts';
import { SourceRegistry } from './index.ts';

describe('what can be followed', () => {
  const registry = new SourceRegistry({}, silentLogger());

  it('refuses sources that frame whole documents, naming the field', () => {
    for (const type of ['zeek', 'windows']) {
      let error: unknown;
      try {
        assertFollowable(registry.get(type));
      } catch (err) {
        error = err;
      }
      expect(error, type).toBeInstanceOf(AisocError);
      expect((error as AisocError).field).toBe('source');
      expect((error as AisocError).message).toContain('framing');
    }
    for (const type of ['suricata', 'wazuh', 'syslog', 'cloudtrail'])
      expect(() => assertFollowable(registry.get(type))).not.toThrow();
  });

  it('parses NDJSON lines, keeps a line that is not JSON as its text, and passes text lines through', () => {
    expect(linesToRecords(registry.get('suricata'), ['{"a":1}', '{"b"'])).toEqual([
      { value: { a: 1 } },
      { value: '{"b"' },
    ]);
    expect(linesToRecords(registry.get('syslog'), ['<34>Oct 11 22:14:15 host su: x'])).toEqual([
      { value: '<34>Oct 11 22:14:15 host su: x' },
    ]);
  });
});
