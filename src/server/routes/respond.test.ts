import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlert, makeEvent, makeIncident } from '../../../test/helpers/builders.ts';
import { type TestServer, testServer } from '../../../test/helpers/runtime.ts';

describe('analyst, response and case API', () => {
  let t: TestServer;
  const keys: Record<string, string> = {};
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, who: string, payload?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${keys[who]}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  let incidentId: string;
  let alertId: string;

  beforeAll(async () => {
    t = await testServer(
      { respond: { actions: { 'local.block_ip': {} } }, knowledge: { load: 'lazy' } },
      { response: true },
    );
    keys.analyst = await t.key(['analyst', 'read']);
    keys.responder = await t.key(['responder', 'read']);
    keys.other = await t.key(['responder', 'read'], 'second-responder');
    keys.admin = await t.key(['admin']);
    const e = makeEvent({
      src_endpoint: { ip: '203.0.113.45' },
      actor: { user: { name: 'dev-alice', credential_uid: 'AKIAEXAMPLEALICE0001' } },
    });
    await t.runtime.store.events.insert([e]);
    const inc = makeIncident({ alert_count: 1 });
    const a = makeAlert({
      event_ids: [e.id],
      incident_id: inc.id,
      detections: [
        {
          engine: 'sigma',
          rule_id: 'r-api',
          rule_title: 'API rule',
          level: 'high',
          tags: ['attack.t1098'],
          event_ids: [e.id],
        },
      ],
    });
    inc.alert_ids = [a.id];
    await t.runtime.store.alerts.upsert([a]);
    await t.runtime.store.incidents.upsert([inc]);
    incidentId = inc.id;
    alertId = a.id;
  });
  afterAll(async () => {
    await t.close();
  });

  const sa = (id: string, extra: Record<string, unknown> = {}) => ({
    alert_id: id,
    timestamp: '2026-11-19T08:00:00Z',
    rule_id: '5712',
    rule_description: 'sshd: brute force trying to get access to the system',
    rule_level: 10,
    source_ip: '203.0.113.45',
    user: 'root',
    ...extra,
  });

  it('POST /analyze returns the seed TriageResponse with checked evidence, and names bad fields', async () => {
    const r = await call('POST', '/analyze', 'analyst', sa('a-1'));
    expect(r.statusCode).toBe(200);
    const v = r.json();
    expect(v).toMatchObject({ alert_id: 'a-1', model_used: 'builtin' });
    for (const k of [
      'severity',
      'category',
      'confidence',
      'summary',
      'detailed_analysis',
      'potential_impact',
      'is_true_positive',
      'iocs',
      'mitre_techniques',
      'mitre_tactics',
      'recommendations',
      'investigation_priority',
      'processing_time_ms',
      'knowledge_base_references',
      'evidence',
    ]) {
      expect(v).toHaveProperty(k);
    }
    expect(v.evidence.length).toBeGreaterThan(0);
    const bad = await call('POST', '/analyze', 'analyst', sa('a-2', { rule_level: 20 }));
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toBe('body.rule_level');
  });

  it('POST /batch triages up to 100 alerts and refuses more', async () => {
    const r = await call('POST', '/batch', 'analyst', [
      sa('b-1'),
      sa('b-2', { rule_level: 3, source_ip: '10.0.0.4' }),
      sa('b-3'),
    ]);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ total: 3, successful: 3, failed: 0, errors: [] });
    expect(r.json().results.map((x: { alert_id: string }) => x.alert_id)).toEqual(['b-1', 'b-2', 'b-3']);
    const tooMany = await call(
      'POST',
      '/batch',
      'analyst',
      Array.from({ length: 101 }, (_, i) => sa(`m-${i}`)),
    );
    expect(tooMany.statusCode).toBe(400);
  });

  it('analyses stored alerts and incidents, and caches by fingerprint', async () => {
    const first = await call('POST', `/alerts/${alertId}/analyze`, 'analyst');
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ analyst: 'builtin', checked: true, cached: false });
    // A person asking analyses afresh by default; force=false reuses the cached verdict.
    expect((await call('POST', `/alerts/${alertId}/analyze`, 'analyst')).json().cached).toBe(false);
    const reused = (await call('POST', `/alerts/${alertId}/analyze?force=false`, 'analyst')).json();
    expect(reused.cached).toBe(true);
    // The answer is the stored verdict itself (the console reads it so), `verdict` the same for earlier clients.
    expect(reused).toMatchObject({ id: reused.verdict.id, alert_id: alertId, subject_type: 'alert' });
    expect(Date.parse(reused.created_at)).toBeGreaterThan(0);
    for (const kind of ['alerts', 'incidents']) {
      const missing = await call('POST', `/${kind}/0190b6c4-5f1e-7c3a-9d2b-000000000000/analyze`, 'analyst');
      expect(missing.statusCode, kind).toBe(404);
      expect(missing.json().code).toBe('AISOC_ERR_NOT_FOUND');
    }
    const inc = await call('POST', `/incidents/${incidentId}/analyze`, 'analyst');
    expect(inc.json().response.alert_id).toBe(incidentId);
    // The incident's page reads its latest verdict with it.
    const incident = (await call('GET', `/incidents/${incidentId}`, 'analyst')).json();
    expect(incident.verdict).toMatchObject({ id: inc.json().id, subject_type: 'incident' });
    const alert = (await call('GET', `/alerts/${alertId}`, 'analyst')).json();
    expect(alert.verdict.response.alert_id).toBe(alertId);
  });

  it('runs a reversible action at once in dry-run, rolls it back, and keeps a four-eyes request waiting until approved', async () => {
    const r = await call('POST', '/actions', 'responder', {
      type: 'local.block_ip',
      input: { ip: '203.0.113.45' },
      reason: 'scanner',
    });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ status: 'dry_run', needs_approval: false, dry_run: true });
    const back = await call('POST', `/actions/${r.json().id}/rollback`, 'responder', { comment: 'undo' });
    expect(back.json().status).toBe('rolled_back');

    const held = await call('POST', '/actions', 'responder', {
      type: 'local.block_ip',
      input: { ip: '198.51.100.9' },
      reason: 'four eyes',
      require_approval: true,
    });
    expect(held.json()).toMatchObject({ status: 'pending_approval', needs_approval: true });
    const pending = (await call('GET', '/actions?status=pending_approval', 'analyst')).json();
    expect(pending.items.map((a: { id: string }) => a.id)).toContain(held.json().id);
    const approved = await call('POST', `/actions/${held.json().id}/approve`, 'other', { comment: 'agreed' });
    expect(approved.json()).toMatchObject({
      status: 'dry_run',
      decided_by: 'second-responder',
      decision_comment: 'agreed',
    });
    const again = await call('POST', `/actions/${held.json().id}/approve`, 'other');
    expect(again.statusCode).toBe(409);
    const invalid = await call('POST', '/actions', 'responder', {
      type: 'local.block_ip',
      input: { ip: 'not-an-ip' },
      reason: 'x',
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().field).toBe('input.ip');
    const unknown = await call('POST', '/actions', 'responder', {
      type: 'aws.iam.disable_access_key',
      input: { access_key_id: 'AKIAEXAMPLEALICE0001' },
      reason: 'x',
    });
    expect(unknown.json()).toMatchObject({ code: 'AISOC_ERR_VALIDATION', field: 'type' });
  });

  it('manages a case from an incident to a false-positive close with a suppression, all audited', async () => {
    const opened = await call('POST', '/cases', 'analyst', { incident_id: incidentId });
    expect(opened.statusCode).toBe(201);
    const id = opened.json().id;
    expect((await call('POST', '/cases', 'analyst', { incident_id: incidentId })).statusCode).toBe(200);
    await call('POST', `/cases/${id}/comments`, 'analyst', { text: 'Looks like the backup job.' });
    const closed = await call('PATCH', `/cases/${id}`, 'analyst', {
      status: 'closed',
      resolution: 'false_positive',
      suppress: { entity: { type: 'user', value: 'dev-alice' }, days: 7 },
    });
    expect(closed.statusCode).toBe(200);
    expect(closed.json().suppressions).toHaveLength(1);
    const sup = (await call('GET', '/suppressions', 'analyst')).json().items;
    expect(sup.map((s: { rule_id: string }) => s.rule_id)).toContain('r-api');
    expect((await call('DELETE', `/suppressions/${sup[0].id}`, 'analyst')).json()).toEqual({ revoked: true });
    const audit = (await call('GET', `/audit?target_id=${id}`, 'admin'))
      .json()
      .items.map((e: { action: string }) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['case.create', 'case.comment', 'case.update']));
    const badClose = await call(
      'PATCH',
      `/cases/${(await call('POST', '/cases', 'analyst', { incident_id: incidentId })).json().id}`,
      'analyst',
      { status: 'closed' },
    );
    expect(badClose.json()).toMatchObject({ code: 'AISOC_ERR_VALIDATION', field: 'resolution' });
  });

  it('lists playbooks with their problems and the configured actions', async () => {
    const r = (await call('GET', '/playbooks', 'analyst')).json();
    expect(r.items.map((p: { id: string }) => p.id)).toEqual(['default', 'incident-response']);
    expect(r.issues).toEqual([]);
    expect(r.actions).toEqual(['local.block_ip']);
  });
});
