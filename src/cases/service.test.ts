import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlert, makeEvent, makeIncident } from '../../test/helpers/builders.ts';
import type { Case } from '../schema/case.ts';
import { openStore, type Store } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { isInternalIp } from './observables.ts';
import { CaseService, DEFAULT_TASKS } from './service.ts';

describe('cases', () => {
  let store: Store;
  const closed: Case[] = [];
  let cases: CaseService;
  let incidentId: string;

  beforeAll(async () => {
    store = await openStore({});
    cases = new CaseService(store, silentLogger(), { onClosed: async (c) => void closed.push(c) });
    const e1 = makeEvent({
      src_endpoint: { ip: '203.0.113.45' },
      actor: { user: { name: 'dev-alice', credential_uid: 'AKIAEXAMPLE000000001' } },
    });
    const e2 = makeEvent({
      src_endpoint: { ip: '10.0.1.10' },
      dns: { query: 'evil.example' },
      file: { path: '/tmp/x', hashes: { sha256: 'ab'.repeat(32) } },
    });
    await store.events.insert([e1, e2]);
    const a = makeAlert({
      event_ids: [e1.id, e2.id],
      detections: [
        { engine: 'sigma', rule_id: 'rule-fp', rule_title: 'r', level: 'high', tags: [], event_ids: [] },
      ],
    });
    const inc = makeIncident({ alert_ids: [a.id], alert_count: 1 });
    a.incident_id = inc.id;
    await store.alerts.upsert([a]);
    await store.incidents.upsert([inc]);
    incidentId = inc.id;
  });
  afterAll(async () => {
    await store.close();
  });

  it('opens one case per incident with observables and default tasks', async () => {
    const { case: c, created } = await cases.openForIncident(incidentId, 'playbook:default');
    expect(created).toBe(true);
    expect(c.tasks.map((t) => t.title)).toEqual(DEFAULT_TASKS);
    const iocs = c.observables.filter((o) => o.ioc).map((o) => `${o.type}:${o.value}`);
    expect(iocs).toEqual(
      expect.arrayContaining([
        'ip:203.0.113.45',
        'access_key:AKIAEXAMPLE000000001',
        'domain:evil.example',
        `hash:${'ab'.repeat(32)}`,
      ]),
    );
    expect(c.observables.find((o) => o.value === '10.0.1.10')?.ioc).toBe(false);
    expect(c.observables.find((o) => o.value === 'dev-alice')?.ioc).toBe(false);
    const again = await cases.openForIncident(incidentId, 'playbook:default');
    expect(again).toMatchObject({ created: false, case: { id: c.id } });
    const inc = await store.incidents.get(incidentId);
    expect(inc).toMatchObject({ case_id: c.id, status: 'investigating' });
  });

  it('keeps a timeline of status, assignee, comments and tasks, with audit entries', async () => {
    const { case: c } = await cases.openForIncident(incidentId, 'x');
    await cases.update(c.id, { status: 'in_progress', assignee: 'sam' }, 'sam');
    await cases.comment(c.id, 'sam', 'Key used from an unknown VPS.');
    const withTask = await cases.addTask(c.id, 'sam', 'Ask dev-alice about the key', 'sam');
    const task = withTask.tasks.at(-1)!;
    const done = await cases.setTask(c.id, 'sam', task.id, 'done');
    expect(done.tasks.at(-1)!.status).toBe('done');
    expect(done.timeline.map((t) => t.action)).toEqual([
      'case.created',
      'status',
      'assignee',
      'comment',
      'task.added',
      'task.done',
    ]);
    expect((await store.audit.list({ target_id: c.id })).map((e) => e.action)).toEqual([
      'case.create',
      'case.update',
      'case.comment',
      'case.task',
      'case.task',
    ]);
    await expect(cases.comment(c.id, 'sam', '  ')).rejects.toMatchObject({ field: 'text' });
    await expect(cases.update(c.id, { status: 'closed' }, 'sam')).rejects.toMatchObject({
      field: 'resolution',
    });
    await expect(
      cases.update(
        c.id,
        { resolution: 'true_positive', suppress: { entity: { type: 'user', value: 'x' }, days: 1 } },
        'sam',
      ),
    ).rejects.toMatchObject({
      field: 'suppress',
    });
  });

  it('closing as a false positive creates an audited suppression and indexes the case', async () => {
    const { case: c } = await cases.openForIncident(incidentId, 'x');
    const r = await cases.update(
      c.id,
      {
        status: 'closed',
        resolution: 'false_positive',
        suppress: { entity: { type: 'user', value: 'dev-alice' }, days: 7 },
      },
      'sam',
    );
    expect(r.case).toMatchObject({ status: 'closed', resolution: 'false_positive' });
    expect(r.suppressions).toHaveLength(1);
    expect(r.suppressions[0]).toMatchObject({
      rule_id: 'rule-fp',
      entity_type: 'user',
      entity_value: 'dev-alice',
      case_id: c.id,
    });
    const active = await store.suppressions.active(new Date().toISOString());
    expect(active.map((s) => s.id)).toContain(r.suppressions[0]!.id);
    expect(
      (await store.audit.list({ action: 'suppression.create' })).some((e) => e.details.case_id === c.id),
    ).toBe(true);
    expect(closed.map((x) => x.id)).toEqual([c.id]);
    expect((await store.incidents.get(incidentId))!.status).toBe('closed');
    // A closed case lets a new one open for the incident.
    expect((await cases.openForIncident(incidentId, 'x')).created).toBe(true);
  });

  it('knows internal addresses', () => {
    expect(['10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', 'fd00::1'].every(isInternalIp)).toBe(true);
    expect(['203.0.113.45', '172.32.0.1', '8.8.8.8', '2001:db8::1'].some(isInternalIp)).toBe(false);
  });
});
