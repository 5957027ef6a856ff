import { fingerprint, uuidv7 } from '../../src/ids.ts';
import type { Alert } from '../../src/schema/alert.ts';
import { type NormalisedEvent, ocsfClass } from '../../src/schema/event.ts';
import type { Incident } from '../../src/schema/incident.ts';

let n = 0;

/** A valid normalised event with sensible defaults. */
export function makeEvent(overrides: Partial<NormalisedEvent> = {}): NormalisedEvent {
  n++;
  return {
    id: uuidv7(),
    source: 'cloudtrail',
    source_event_id: `evt-${n}`,
    time: new Date(Date.UTC(2026, 10, 19, 8, 0, n % 60)).toISOString(),
    ingested_at: new Date().toISOString(),
    ...ocsfClass(6003),
    activity_name: 'ListBuckets',
    severity_id: 1,
    status: 'success',
    actor: { user: { name: 'dev-alice', credential_uid: 'AKIAEXAMPLE000000001' } },
    src_endpoint: { ip: '203.0.113.45' },
    cloud: {
      provider: 'aws',
      account_uid: '111122223333',
      service: 's3.amazonaws.com',
      operation: 'ListBuckets',
    },
    observables: [{ type: 'ip', value: '203.0.113.45', name: 'src_endpoint.ip' }],
    metadata: { product: 'CloudTrail' },
    raw: { eventName: 'ListBuckets', n },
    ...overrides,
  };
}

/** A valid alert. */
export function makeAlert(overrides: Partial<Alert> = {}): Alert {
  const now = new Date().toISOString();
  const rule = overrides.detections?.[0]?.rule_id ?? 'rule-1';
  return {
    id: uuidv7(),
    fingerprint: fingerprint(rule, 'user:dev-alice'),
    title: 'Test alert',
    source: 'cloudtrail',
    severity: 'high',
    priority: 70,
    status: 'new',
    detections: [
      {
        engine: 'sigma',
        rule_id: rule,
        rule_title: 'Test rule',
        level: 'high',
        tags: ['attack.t1078'],
        event_ids: [],
      },
    ],
    event_ids: [],
    count: 1,
    entities: [{ type: 'user', value: 'dev-alice' }],
    mitre_techniques: ['T1078'],
    mitre_tactics: [],
    first_seen: '2026-11-19T08:00:00.000Z',
    last_seen: '2026-11-19T08:05:00.000Z',
    created_at: now,
    updated_at: now,
    ...overrides,
  };
}

export function makeIncident(overrides: Partial<Incident> = {}): Incident {
  const now = new Date().toISOString();
  return {
    id: uuidv7(),
    title: 'Test incident',
    status: 'open',
    severity: 'high',
    priority: 70,
    alert_ids: [],
    alert_count: 0,
    entities: [{ type: 'user', value: 'dev-alice' }],
    mitre_techniques: [],
    mitre_tactics: [],
    first_seen: '2026-11-19T08:00:00.000Z',
    last_seen: '2026-11-19T08:05:00.000Z',
    created_at: now,
    updated_at: now,
    ...overrides,
  };
}
