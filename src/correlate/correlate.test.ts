import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/helpers/builders.ts';
import type { AlertCandidate } from '../detect/types.ts';
import { upstreamDetector } from '../detect/upstream.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { Suppression } from '../schema/response.ts';
import { openStore, type Store } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { techniquesAndTactics } from './attack-tags.ts';
import { Correlator, correlateStage, incidentPriority, TRIAGE_TOPIC } from './index.ts';
import { detectionPriority } from './priority.ts';

const HOUR = 3_600_000;

function candidate(
  rule: string,
  event: NormalisedEvent,
  level: 'low' | 'medium' | 'high' | 'critical' = 'high',
  tags: string[] = [],
): AlertCandidate {
  return {
    detection: {
      engine: 'sigma',
      rule_id: rule,
      rule_title: `Rule ${rule}`,
      level,
      tags,
      event_ids: [event.id],
    },
    events: [event],
  };
}

function at(minutes: number): string {
  return new Date(Date.UTC(2026, 10, 19, 8, 0, 0) + minutes * 60_000).toISOString();
}

describe('correlation', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({});
  });
  afterAll(async () => {
    await store.close();
  });

  const correlator = () =>
    new Correlator({
      dedupeWindowMs: HOUR,
      groupWindowMs: 4 * HOUR,
      groupBy: ['user', 'access_key', 'ip', 'host', 'instance'],
    });

  it('folds identical alerts within the dedupe window into one, with a count', async () => {
    const c = correlator();
    const who = { actor: { user: { name: 'dedupe-user' } }, src_endpoint: { ip: '192.0.2.1' } };
    const e1 = makeEvent({ ...who, time: at(0) });
    const e2 = makeEvent({ ...who, time: at(30) });
    const e3 = makeEvent({ ...who, time: at(200) });
    const [a1] = await c.correlate([candidate('dup', e1)], store);
    const [a2] = await c.correlate([candidate('dup', e2)], store);
    expect(a2!.id).toBe(a1!.id);
    expect(a2!.count).toBe(2);
    expect(a2!.event_ids).toEqual([e1.id, e2.id]);
    expect(a2!.last_seen).toBe(e2.time);
    const [a3] = await c.correlate([candidate('dup', e3)], store);
    expect(a3!.id).not.toBe(a1!.id);
    expect(a3!.count).toBe(1);
  });

  it('folds repeats inside one batch too', async () => {
    const who = { actor: { user: { name: 'batch-user' } } };
    const out = await correlator().correlate(
      [
        candidate('b', makeEvent({ ...who, time: at(1) })),
        candidate('b', makeEvent({ ...who, time: at(2) })),
      ],
      store,
    );
    expect(out).toHaveLength(1);
    expect(out[0]!.count).toBe(2);
  });

  it('groups alerts that share an entity within the window into one incident, and keeps strangers apart', async () => {
    const c = correlator();
    const key = {
      actor: { user: { name: 'alice-g', credential_uid: 'AKIAGROUP00000000001' } },
      src_endpoint: { ip: '203.0.113.9' },
    };
    const [first] = await c.correlate([candidate('g1', makeEvent({ ...key, time: at(0) }), 'medium')], store);
    // Same access key from another IP: still the same incident.
    const [second] = await c.correlate(
      [
        candidate(
          'g2',
          makeEvent({
            actor: { user: { name: 'other', credential_uid: 'AKIAGROUP00000000001' } },
            src_endpoint: { ip: '198.51.100.77' },
            time: at(60),
          }),
          'critical',
        ),
      ],
      store,
    );
    const [stranger] = await c.correlate(
      [
        candidate(
          'g3',
          makeEvent({
            actor: { user: { name: 'bob-g' } },
            src_endpoint: { ip: '192.0.2.200' },
            time: at(61),
          }),
        ),
      ],
      store,
    );
    expect(second!.incident_id).toBe(first!.incident_id);
    expect(stranger!.incident_id).not.toBe(first!.incident_id);
    const incident = await store.incidents.get(first!.incident_id!);
    expect(incident!.alert_ids).toEqual([first!.id, second!.id]);
    expect(incident!.severity).toBe('critical');
    expect(incident!.priority).toBe(incidentPriority([first!.priority, second!.priority]));
    expect(incident!.first_seen).toBe(at(0));
    expect(incident!.last_seen).toBe(at(60));
    // Beyond the grouping window the same entity opens a new incident.
    const [late] = await c.correlate([candidate('g4', makeEvent({ ...key, time: at(60 + 5 * 60) }))], store);
    expect(late!.incident_id).not.toBe(first!.incident_id);
  });

  it('does not group alerts through the account alone (it would merge a whole AWS account)', async () => {
    const c = correlator();
    const [a] = await c.correlate(
      [
        candidate(
          'acc1',
          makeEvent({
            actor: { user: { name: 'u-acc-1' } },
            src_endpoint: { ip: '192.0.2.31' },
            time: at(0),
          }),
        ),
      ],
      store,
    );
    const [b] = await c.correlate(
      [
        candidate(
          'acc2',
          makeEvent({
            actor: { user: { name: 'u-acc-2' } },
            src_endpoint: { ip: '192.0.2.32' },
            time: at(1),
          }),
        ),
      ],
      store,
    );
    expect(a!.entities.some((e) => e.type === 'account')).toBe(true);
    expect(b!.incident_id).not.toBe(a!.incident_id);
  });

  it('suppresses alerts a false-positive case silenced, keeps them out of incidents, and lets them back when it expires', async () => {
    let active: Suppression[] = [
      {
        id: '0190b6c4-5f1e-7c3a-9d2b-000000000001',
        rule_id: 'noisy-rule',
        entity_type: 'user',
        entity_value: 'Backup-Bot',
        expires_at: '2099-01-01T00:00:00.000Z',
        reason: 'case closed as false positive',
        created_by: 'analyst',
        created_at: at(0),
      },
    ];
    const c = new Correlator({
      dedupeWindowMs: HOUR,
      groupWindowMs: 4 * HOUR,
      groupBy: ['user', 'ip'],
      suppressions: async () => active,
    });
    const who = { actor: { user: { name: 'backup-bot' } }, src_endpoint: { ip: '192.0.2.77' } };
    const r = await c.correlateDetailed(
      [
        candidate('noisy-rule', makeEvent({ ...who, time: at(0) })),
        candidate('other-rule', makeEvent({ ...who, time: at(1) })),
      ],
      store,
    );
    const noisy = r.alerts.find((a) => a.detections[0]!.rule_id === 'noisy-rule')!;
    const other = r.alerts.find((a) => a.detections[0]!.rule_id === 'other-rule')!;
    expect(noisy.status).toBe('suppressed');
    expect(noisy.incident_id).toBeUndefined();
    expect(other.status).toBe('new');
    expect(r.suppressed).toBe(1);
    active = [];
    const [back] = await c.correlate([candidate('noisy-rule', makeEvent({ ...who, time: at(5) }))], store);
    expect(back!.id).toBe(noisy.id);
    expect(back!.status).toBe('new');
    expect(back!.incident_id).toBe(other.incident_id);
  });

  it('sees one address in its IPv4-mapped IPv6 spelling: one incident, and the suppression still holds', async () => {
    const c = new Correlator({
      dedupeWindowMs: HOUR,
      groupWindowMs: 4 * HOUR,
      groupBy: ['ip'],
      suppressions: async () => [
        {
          id: '0190b6c4-5f1e-7c3a-9d2b-000000000002',
          rule_id: 'mapped-noisy',
          entity_type: 'ip',
          entity_value: '198.51.100.23',
          expires_at: '2099-01-01T00:00:00.000Z',
          reason: 'case closed as false positive',
          created_by: 'analyst',
          created_at: at(0),
        },
      ],
    });
    const [plain] = await c.correlate(
      [candidate('mapped-a', makeEvent({ src_endpoint: { ip: '198.51.100.23' }, time: at(0) }))],
      store,
    );
    const [mapped] = await c.correlate(
      [candidate('mapped-b', makeEvent({ src_endpoint: { ip: '::FFFF:c633:6417' }, time: at(1) }))],
      store,
    );
    expect(mapped!.entities).toContainEqual({ type: 'ip', value: '198.51.100.23' });
    expect(mapped!.incident_id).toBe(plain!.incident_id);
    const [silenced] = await c.correlate(
      [candidate('mapped-noisy', makeEvent({ src_endpoint: { ip: '::ffff:198.51.100.23' }, time: at(2) }))],
      store,
    );
    expect(silenced!.status).toBe('suppressed');
  });

  it('queues changed alerts and incidents for triage in the same transaction', async () => {
    const stage = correlateStage(correlator());
    const ctx = { store, logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }) };
    const before = await store.work.count(TRIAGE_TOPIC);
    const out = await stage.process(
      [candidate('queued', makeEvent({ actor: { user: { name: 'queue-user' } }, time: at(0) }))],
      ctx,
    );
    const a = out.outputs[0]!;
    const due = await store.work.due(TRIAGE_TOPIC, 1000);
    expect(due.map((d) => d.key)).toEqual(
      expect.arrayContaining([`alert:${a.id}`, `incident:${a.incident_id}`]),
    );
    expect(await store.work.count(TRIAGE_TOPIC)).toBe(before + 2);
  });

  it('reads ATT&CK techniques and tactics from rule tags', () => {
    expect(
      techniquesAndTactics([
        'attack.t1078.004',
        'attack.initial_access',
        'attack.persistence',
        'attack.T1098',
        'cve.2021',
        'attack.g0016',
      ]),
    ).toEqual({
      techniques: ['T1078.004', 'T1098'],
      tactics: ['initial-access', 'persistence'],
    });
  });

  it('ranks priority by level, confidence and the number of distinct rules', () => {
    const d = (rule: string, level: 'low' | 'high' | 'critical', confidence?: number) => ({
      engine: 'sigma' as const,
      rule_id: rule,
      rule_title: rule,
      level,
      tags: [],
      event_ids: [],
      ...(confidence === undefined ? {} : { confidence }),
    });
    expect(detectionPriority([d('a', 'critical')])).toBeGreaterThan(detectionPriority([d('a', 'high')]));
    expect(detectionPriority([d('a', 'high', 0.95)])).toBeGreaterThan(
      detectionPriority([d('a', 'high', 0.2)]),
    );
    expect(detectionPriority([d('a', 'high'), d('b', 'low')])).toBeGreaterThan(
      detectionPriority([d('a', 'high')]),
    );
    expect(
      detectionPriority([d('a', 'critical', 1), d('b', 'critical'), d('c', 'critical'), d('d', 'critical')]),
    ).toBeLessThanOrEqual(100);
  });

  it('turns upstream findings at or above the threshold into alerts', () => {
    const det = upstreamDetector({ minSeverity: 'medium' });
    const high = makeEvent({
      source: 'suricata',
      finding: {
        uid: '2001219',
        title: 'ET SCAN Potential SSH Scan',
        severity: 'high',
        tags: ['attempted-recon'],
        techniques: ['T1046'],
      },
    });
    const low = makeEvent({
      source: 'suricata',
      finding: { uid: '1', title: 'noise', severity: 'low', tags: [], techniques: [] },
    });
    const out = det.detect([high, low, makeEvent()]) as AlertCandidate[];
    expect(out).toHaveLength(1);
    expect(out[0]!.detection).toMatchObject({
      engine: 'upstream',
      rule_id: 'suricata:2001219',
      level: 'high',
    });
    expect(out[0]!.detection.tags).toContain('attack.t1046');
  });
});
