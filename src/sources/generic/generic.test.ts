import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../telemetry/logger.ts';
import { describeSourceConformance, normaliseText } from '../testing/conformance.ts';
import { GenericConfig, generic } from './index.ts';

const fixturesDir = join(import.meta.dirname, 'fixtures');
/** A VPN concentrator's JSON log, mapped field by field. */
const VPN = {
  id_field: 'event.id',
  severity_field: 'event.severity',
  class_uid: 3002,
  mapping: {
    'src_endpoint.ip': 'client.address',
    'src_endpoint.port': 'client.port',
    'dst_endpoint.ip': 'server.address',
    'dst_endpoint.port': 'server.port',
    'actor.user.name': 'user.name',
    activity_name: 'action',
    message: 'message',
  },
};
const text = readFileSync(join(fixturesDir, 'vpn.ndjson'), 'utf8');

describeSourceConformance({
  factory: generic,
  config: VPN,
  fixturesDir,
  sampleRecord: JSON.parse(text.split('\n')[0]!),
});

describe('generic JSON with a field mapping', () => {
  const source = generic.create(GenericConfig.parse(VPN), { logger: silentLogger() });
  const r = normaliseText(source, text);

  it('maps the configured fields, the id, the class and the severity', () => {
    const e = r.events.find((x) => x.source_event_id === 'vpn-0001')!;
    expect(e).toMatchObject({
      class_uid: 3002,
      severity_id: 4,
      time: '2026-11-19T08:00:01.250Z',
      activity_name: 'login_failed',
      actor: { user: { name: 'alice' } },
      src_endpoint: { ip: '198.51.100.20', port: 51515 },
      dst_endpoint: { ip: '10.0.0.1', port: 443 },
    });
    expect(e.observables).toContainEqual({ type: 'ip', value: '198.51.100.20', name: 'src_endpoint.ip' });
    expect(e.observables).toContainEqual({ type: 'user', value: 'alice', name: 'actor.user.name' });
  });

  it('coerces numeric strings and epoch seconds; maps a 0–10 severity onto 0–5', () => {
    expect(r.events.find((x) => x.source_event_id === 'vpn-0002')?.src_endpoint?.port).toBe(51522);
    const epoch = r.events.find((x) => x.source_event_id === 'vpn-0003')!;
    expect(epoch.time).toBe('2025-11-19T08:00:10.000Z');
    expect(epoch.severity_id).toBe(4);
  });

  it('dead-letters a record with no time or a bad port, naming the field, and keeps the rest', () => {
    expect(r.events).toHaveLength(3);
    const reasons = r.deadLetters.map((d) => d.reason);
    expect(reasons).toHaveLength(3);
    expect(reasons.join('\n')).toContain('No time field found');
    expect(reasons.join('\n')).toContain('client.port (mapped to src_endpoint.port) must be a number');
    expect(reasons.join('\n')).toContain('client.port (mapped to src_endpoint.port) must be a port 0–65535');
  });

  it('without a mapping, picks up common field names and skips ones of the wrong type', () => {
    const plain = generic.create(GenericConfig.parse({}), { logger: silentLogger() });
    const out = normaliseText(
      plain,
      '{"timestamp":"2026-11-19T09:00:00Z","src_ip":"192.0.2.1","dest_port":"x","user":"root","msg":"hello"}',
    );
    expect(out.deadLetters).toEqual([]);
    expect(out.events[0]).toMatchObject({
      src_endpoint: { ip: '192.0.2.1' },
      actor: { user: { name: 'root' } },
    });
    expect(out.events[0]?.dst_endpoint?.port).toBeUndefined();
  });

  it('refuses a mapping onto a field it does not know, naming it', () => {
    const bad = GenericConfig.safeParse({ mapping: { 'src_endpoint.mac': 'mac' } });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('mapping');
  });
});
