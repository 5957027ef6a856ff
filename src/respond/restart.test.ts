import { afterAll, describe, expect, it } from 'vitest';
import { makeAlert, makeEvent, makeIncident } from '../../test/helpers/builders.ts';
import { tempDir } from '../../test/helpers/runtime.ts';
import { loadConfig } from '../app-config.ts';
import { openRuntime, type Runtime } from '../runtime.ts';

/** Actions never run twice for one idempotency key, also across a restart in the middle of a playbook. */
describe('response across restarts', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);
  const config = loadConfig({
    env: {},
    overrides: { data_dir: dir, knowledge: { load: 'lazy' }, respond: { actions: { 'local.block_ip': {} } } },
  });
  const open = () => openRuntime(config, { response: true });

  async function seed(rt: Runtime, ip = '203.0.113.45') {
    const e = makeEvent({ src_endpoint: { ip }, actor: { user: { name: 'dev-alice' } } });
    await rt.store.events.insert([e]);
    const inc = makeIncident({ priority: 95, alert_count: 1 });
    const a = makeAlert({
      priority: 95,
      event_ids: [e.id],
      incident_id: inc.id,
      entities: [
        { type: 'ip', value: ip },
        { type: 'user', value: 'dev-alice' },
      ],
    });
    inc.alert_ids = [a.id];
    inc.entities = a.entities;
    await rt.store.alerts.upsert([a]);
    await rt.store.incidents.upsert([inc]);
    return inc.id;
  }

  it('resumes a waiting run after a restart and runs its approved action exactly once', async () => {
    let rt = await open();
    const incidentId = await seed(rt);
    const [run] = await rt.response!.engine.process({ type: 'incident', id: incidentId });
    expect(run!.status).toBe('waiting');
    const requestId = run!.steps['block-source']!.request_id!;
    expect((await rt.store.actions.get(requestId))!.status).toBe('pending_approval');
    await rt.close();

    // The process restarts: the run and the request are where they were.
    rt = await open();
    const again = await rt.response!.engine.process({ type: 'incident', id: incidentId });
    expect(again[0]!.id).toBe(run!.id);
    expect(again[0]!.status).toBe('waiting');
    const approved = await rt.response!.actions.approve(requestId, 'responder', 'ok');
    expect(approved.status).toBe('dry_run');
    const resumed = await rt.response!.engine.resume(run!.id);
    expect(resumed!.status).toBe('completed');
    await rt.close();

    // Another restart and another pass: nothing runs again.
    rt = await open();
    await rt.response!.engine.process({ type: 'incident', id: incidentId });
    await rt.response!.engine.resume(run!.id);
    const results = await rt.store.audit.list({ target_id: requestId, action: 'action.result' });
    expect(results).toHaveLength(1);
    expect(
      (await rt.store.actions.list({ limit: 100 })).items.filter(
        (a) => a.type === 'local.block_ip' && a.input.ip === '203.0.113.45',
      ),
    ).toHaveLength(1);
    await rt.close();
  }, 120_000);

  it('never re-runs an action a crash interrupted: it is marked interrupted for a person', async () => {
    let rt = await open();
    const req = await rt.response!.actions.request({
      type: 'local.block_ip',
      input: { ip: '198.51.100.77' },
      requested_by: 'test',
      reason: 'crash',
      approval: 'required',
      dry_run: true,
      expires_in_ms: 60_000,
    });
    // The process dies after claiming the action and before recording its result.
    await rt.store.actions.transition(req.id, ['pending_approval'], { status: 'approved' });
    await rt.store.actions.transition(req.id, ['approved'], { status: 'running' });
    await rt.close();

    rt = await openRuntime(config, { response: true, worker: true });
    const after = await rt.store.actions.get(req.id);
    expect(after!.status).toBe('interrupted');
    expect(await rt.store.audit.list({ target_id: req.id, action: 'action.result' })).toHaveLength(0);
    expect((await rt.store.audit.list({ target_id: req.id, action: 'action.interrupted' })).length).toBe(1);
    await rt.close();
  }, 120_000);

  it('runs at start-up a request left approved but never started, once, audited, and resumes its playbook', async () => {
    let rt = await open();
    const incidentId = await seed(rt, '198.51.100.88');
    const [run] = await rt.response!.engine.process({ type: 'incident', id: incidentId });
    const requestId = run!.steps['block-source']!.request_id!;
    // The process stops after the approval is recorded and before the action is claimed.
    await rt.store.actions.addApproval(requestId, { by: 'responder-2', at: new Date().toISOString() }, 1);
    expect((await rt.store.actions.get(requestId))!.status).toBe('approved');
    await rt.close();

    rt = await openRuntime(config, { response: true, worker: true });
    try {
      expect((await rt.store.actions.get(requestId))!.status).toBe('dry_run');
      const audit = (await rt.store.audit.list({ target_id: requestId })).map((e) => e.action);
      expect(audit.filter((a) => a === 'action.resume')).toHaveLength(1);
      expect(audit.filter((a) => a === 'action.result')).toHaveLength(1);
      await rt.response!.worker.idle();
      expect((await rt.store.runs.get(run!.id))!.status).toBe('completed');
    } finally {
      await rt.close();
    }
  }, 120_000);
});
