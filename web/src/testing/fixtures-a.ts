/** Records for the views' tests, shaped like the server's (types from its zod schemas). */
import type { ActionRequest, Alert, NormalisedEvent, StoredVerdict } from '../lib/types.ts';

/** A UUID whose first 8 characters (what the console shows as a short id) differ between records. */
const uuid = (n: number, prefix = '0') =>
  `${prefix.repeat(4)}${String(n).padStart(4, '0')}-0000-4000-8000-${prefix.repeat(12)}`;

export function makeAlert(n: number, over: Partial<Alert> = {}): Alert {
  return {
    id: uuid(n, 'a'),
    fingerprint: `fp${n}`,
    title: `Alert number ${n}`,
    source: 'cloudtrail',
    severity: 'high',
    priority: 70,
    status: 'new',
    detections: [
      {
        engine: 'sigma',
        rule_id: 'rule-1',
        rule_title: 'Rule one',
        level: 'high',
        tags: [],
        event_ids: [uuid(n, 'e')],
      },
    ],
    event_ids: [uuid(n, 'e')],
    count: 1,
    entities: [{ type: 'user', value: `user${n}` }],
    mitre_techniques: ['T1078.004'],
    mitre_tactics: ['initial-access'],
    first_seen: '2025-05-01T10:00:00Z',
    last_seen: '2025-05-01T10:05:00Z',
    created_at: '2025-05-01T10:05:01Z',
    updated_at: '2025-05-01T10:05:01Z',
    ...over,
  };
}

export function makeEvent(n: number, over: Partial<NormalisedEvent> = {}): NormalisedEvent {
  return {
    id: uuid(n, 'e'),
    source: 'cloudtrail',
    time: '2025-05-01T10:00:00Z',
    ingested_at: '2025-05-01T10:00:01Z',
    class_uid: 6003,
    class_name: 'API Activity',
    category_uid: 6,
    category_name: 'Application Activity',
    activity_name: 'CreateAccessKey',
    severity_id: 3,
    status: 'success',
    observables: [],
    metadata: {},
    cloud: { provider: 'aws', operation: 'CreateAccessKey', region: 'us-east-1' },
    actor: { user: { name: 'mallory', credential_uid: 'AKIAEXAMPLE' } },
    raw: { eventName: 'CreateAccessKey' },
    ...over,
  };
}

export function makeVerdict(alertId: string, over: Partial<StoredVerdict['response']> = {}): StoredVerdict {
  return {
    id: uuid(99, 'f'),
    alert_id: alertId,
    subject_type: 'alert',
    analyst: 'builtin',
    checked: true,
    repaired: false,
    created_at: '2025-05-01T10:06:00Z',
    response: {
      alert_id: alertId,
      analysis_timestamp: '2025-05-01T10:06:00Z',
      severity: 'high',
      category: 'credential_access',
      confidence: 0.82,
      summary: 'A new access key was created by an unusual identity.',
      detailed_analysis: 'The identity created a key from a new address.',
      potential_impact: 'Persistent access to the account.',
      is_true_positive: true,
      iocs: [],
      mitre_techniques: ['T1098.001'],
      mitre_tactics: ['persistence'],
      recommendations: [{ action: 'Disable the new key', priority: 1, rationale: 'Stops its use' }],
      investigation_priority: 2,
      model_used: 'builtin',
      processing_time_ms: 12,
      knowledge_base_references: [],
      evidence: [],
      disputed: false,
      ...over,
    },
  };
}

export function makeAction(n: number, over: Partial<ActionRequest> = {}): ActionRequest {
  return {
    id: uuid(n, 'c'),
    idempotency_key: `k${n}`,
    type: 'aws.disable_access_key',
    effect: 'reversible',
    input: { access_key_id: 'AKIAEXAMPLE', user_name: 'mallory' },
    status: 'pending_approval',
    dry_run: false,
    requested_by: 'bob',
    reason: 'Key created by an unknown identity',
    needs_approval: true,
    created_at: '2025-05-01T10:07:00Z',
    updated_at: '2025-05-01T10:07:00Z',
    ...over,
  };
}

export { uuid };
