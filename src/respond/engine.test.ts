import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlert } from '../../test/helpers/builders.ts';
import { uuidv7 } from '../ids.ts';
import { openStore, type Store } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { entitiesByType, type RunContext } from './context.ts';
import { type CoreHandlers, PlaybookEngine } from './engine.ts';
import { Playbook } from './playbooks/model.ts';
import { ActionService } from './service.ts';
import { RecordingPort } from './testing/fake-port.ts';

function playbook(raw: unknown) {
  return Playbook.parse(raw);
}

describe('playbook engine and action requests', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({});
  });
  afterAll(async () => {
    await store.close();
  });

  function setup(
    playbooks: ReturnType<typeof playbook>[],
    opts: { verdict?: RunContext['verdict']; dryRun?: boolean } = {},
  ) {
    const port = new RecordingPort();
    // respond.dry_run is the service's ceiling, as setup.ts wires it.
    const actions = new ActionService(store, port, silentLogger(), undefined, {
      dryRunCeiling: opts.dryRun ?? false,
    });
    const alerts = new Map<string, ReturnType<typeof makeAlert>>();
    const core: CoreHandlers = {
      'core.score': async (ctx) => ({ priority: ctx.priority }),
      'core.analyse': async () => ({ analysed: true }),
      'case.create': async () => ({ case_id: uuidv7() }),
    };
    const engine = new PlaybookEngine({
      store,
      actions,
      core,
      playbooks,
      logger: silentLogger(),
      dryRun: opts.dryRun ?? false,
      loadContext: async (subject, pb) => {
        const alert = alerts.get(subject.id);
        if (!alert) return undefined;
        return {
          subject,
          alert,
          priority: alert.priority,
          detection_priority: alert.priority,
          above_threshold: alert.priority >= 80,
          ...(opts.verdict ? { verdict: opts.verdict } : {}),
          entities: entitiesByType(alert.entities),
          external_ips: [],
          steps: {},
          playbook: { id: pb.id, name: pb.name },
          config: { dry_run: opts.dryRun ?? false, threshold: 80 },
        };
      },
    });
    const addAlert = (extra: Parameters<typeof makeAlert>[0] = {}) => {
      const a = makeAlert({
        entities: [
          { type: 'access_key', value: 'AKIAEXAMPLE000000001' },
          { type: 'user', value: 'dev-alice' },
        ],
        ...extra,
      });
      alerts.set(a.id, a);
      return a;
    };
    return { port, actions, engine, addAlert };
  }

  const flow = playbook({
    id: 'flow',
    name: 'Test flow',
    trigger: { on: 'alert', when: { priority: { gte: 50 } } },
    steps: [
      { id: 'score', uses: 'core.score' },
      {
        id: 'notify',
        uses: 'test.notify',
        with: { message: 'Alert {{ alert.title }} priority {{ priority }}' },
      },
      {
        id: 'contain',
        uses: 'test.disable_key',
        with: { access_key_id: '{{ entities.access_key | first }}' },
      },
      { id: 'delete', uses: 'test.delete_user', with: { user: '{{ entities.user | first }}' } },
      { id: 'after', uses: 'test.notify', with: { message: 'delete step ended {{ steps.delete.status }}' } },
    ],
  });

  it('runs steps in order, rendering inputs; a destructive action waits for approval, then runs once', async () => {
    const { port, actions, engine, addAlert } = setup([flow]);
    const a = addAlert({ priority: 80, title: 'Key abuse' });
    const [run] = await engine.process({ type: 'alert', id: a.id });
    expect(run!.status).toBe('waiting');
    expect(run!.steps.notify!.status).toBe('done');
    expect(port.executions('test.notify')[0]!.input).toEqual({
      message: 'Alert Key abuse priority 80',
      channel: 'soc',
    });
    expect(port.executions('test.disable_key')[0]!.input).toEqual({ access_key_id: 'AKIAEXAMPLE000000001' });
    expect(port.executions('test.delete_user')).toHaveLength(0);
    const pending = await store.actions.get(run!.steps.delete!.request_id!);
    expect(pending).toMatchObject({
      status: 'pending_approval',
      needs_approval: true,
      effect: 'destructive',
    });

    await actions.approve(pending!.id, 'responder-key', 'confirmed with the owner');
    expect(port.executions('test.delete_user')).toHaveLength(1);
    const resumed = await engine.resume(run!.id);
    expect(resumed!.status).toBe('completed');
    expect(resumed!.steps.after!.status).toBe('done');
    expect(port.executions('test.notify')[1]!.input).toMatchObject({
      message: 'delete step ended succeeded',
    });
    // Processing the alert again does not run anything again.
    await engine.process({ type: 'alert', id: a.id });
    expect(port.executions('test.delete_user')).toHaveLength(1);
    const audit = await store.audit.list({ target_id: pending!.id });
    expect(audit.map((e) => e.action)).toEqual(['action.request', 'action.approve', 'action.result']);
    expect(audit[1]!.actor).toBe('responder-key');
  });

  it('continues after a denial without running the action', async () => {
    const { port, actions, engine, addAlert } = setup([flow]);
    const a = addAlert({
      priority: 90,
      entities: [
        { type: 'user', value: 'deny-me' },
        { type: 'access_key', value: 'AKIAEXAMPLE000000002' },
      ],
    });
    const [run] = await engine.process({ type: 'alert', id: a.id });
    await actions.deny(run!.steps.delete!.request_id!, 'responder-key', 'not this user');
    const resumed = await engine.resume(run!.id);
    expect(resumed!.steps.delete!.status).toBe('denied');
    expect(resumed!.status).toBe('completed');
    expect(port.executions('test.delete_user')).toHaveLength(0);
  });

  it('does not start a run when the trigger condition does not hold', async () => {
    const { engine, addAlert, port } = setup([flow]);
    const a = addAlert({ priority: 10 });
    expect(await engine.process({ type: 'alert', id: a.id })).toEqual([]);
    expect(port.calls).toEqual([]);
  });

  it('lets a policy run a destructive action without approval only on detection facts, never on a verdict', async () => {
    const withPolicy = playbook({
      ...flow,
      id: 'flow-policy',
      policies: [
        {
          action: 'test.delete_user',
          when: { 'alert.detections.rule_id': 'rule-1', priority: { gte: 85 } },
          reason: 'rule-1 at high priority is always a compromise',
        },
      ],
    });
    const llmVerdict = {
      analyst: 'ollama',
      checked: true,
      is_true_positive: true,
      confidence: 1,
    } as unknown as RunContext['verdict'];
    // Priority from detections is 70: the policy does not hold, whatever the LLM says.
    const low = setup([withPolicy], { verdict: llmVerdict });
    const a = low.addAlert({
      priority: 70,
      entities: [
        { type: 'user', value: 'p1' },
        { type: 'access_key', value: 'AKIAEXAMPLE000000003' },
      ],
    });
    const [run] = await low.engine.process({ type: 'alert', id: a.id });
    expect(run!.steps.delete!.status).toBe('waiting');
    const high = setup([withPolicy]);
    const b = high.addAlert({
      priority: 90,
      entities: [
        { type: 'user', value: 'p2' },
        { type: 'access_key', value: 'AKIAEXAMPLE000000004' },
      ],
    });
    const [run2] = await high.engine.process({ type: 'alert', id: b.id });
    expect(run2!.status).toBe('completed');
    const req = await store.actions.get(run2!.steps.delete!.request_id!);
    expect(req).toMatchObject({
      needs_approval: false,
      status: 'succeeded',
      policy: 'rule-1 at high priority is always a compromise',
    });
  });

  it('never runs an action twice for one idempotency key, across alerts and across a restart', async () => {
    const first = setup([flow]);
    const entities = [
      { type: 'user' as const, value: 'same-user' },
      { type: 'access_key' as const, value: 'AKIAEXAMPLE000000005' },
    ];
    const a = first.addAlert({ priority: 80, entities });
    await first.engine.process({ type: 'alert', id: a.id });
    expect(first.port.executions('test.disable_key')).toHaveLength(1);
    // A second alert about the same key asks for the same containment: it is the same request.
    const b = first.addAlert({ priority: 80, entities });
    const [runB] = await first.engine.process({ type: 'alert', id: b.id });
    expect(first.port.executions('test.disable_key')).toHaveLength(1);
    expect(runB!.steps.contain!.status).toBe('done');
    // A "restarted" engine over the same store resumes the waiting run and runs nothing twice.
    const restarted = setup([flow]);
    restarted.addAlert({ ...a });
    await restarted.engine.process({ type: 'alert', id: a.id });
    expect(restarted.port.executions()).toHaveLength(0);
  });

  it('marks a request left running by a crash as interrupted instead of running it again', async () => {
    const { actions, port } = setup([flow]);
    const req = await actions.request({
      type: 'test.delete_user',
      input: { user: 'crash-test' },
      requested_by: 'test',
      reason: 'crash test',
      approval: 'auto',
      dry_run: false,
      expires_in_ms: 60_000,
    });
    await store.actions.transition(req.id, ['pending_approval'], { status: 'approved' });
    await store.actions.transition(req.id, ['approved'], { status: 'running' });
    expect(await actions.recoverInterrupted()).toBe(1);
    expect((await store.actions.get(req.id))!.status).toBe('interrupted');
    expect((await actions.execute(req.id)).status).toBe('interrupted');
    expect(port.executions('test.delete_user')).toHaveLength(0);
  });

  it('expires approval requests whose window passed', async () => {
    const { actions, port } = setup([flow]);
    const req = await actions.request({
      type: 'test.delete_user',
      input: { user: 'late' },
      requested_by: 'test',
      reason: 'expiry test',
      approval: 'auto',
      dry_run: false,
      expires_in_ms: 1,
    });
    await new Promise((r) => setTimeout(r, 20));
    const expired = await actions.expire();
    expect(expired.map((r) => r.id)).toContain(req.id);
    await expect(actions.approve(req.id, 'responder')).rejects.toThrow(/expired, not waiting/);
    expect(port.executions()).toHaveLength(0);
  });

  it('refuses bad inputs naming the field, and rolls back a completed reversible action', async () => {
    const { actions, port } = setup([flow]);
    await expect(
      actions.request({
        type: 'test.disable_key',
        input: { access_key_id: 'nope' },
        requested_by: 't',
        reason: 'r',
        approval: 'auto',
        dry_run: true,
        expires_in_ms: 1000,
      }),
    ).rejects.toMatchObject({ code: 'AISOC_ERR_VALIDATION', field: 'input.access_key_id' });
    const done = await actions.request({
      type: 'test.disable_key',
      input: { access_key_id: 'AKIAEXAMPLE000000009' },
      requested_by: 't',
      reason: 'r',
      approval: 'auto',
      dry_run: true,
      expires_in_ms: 1000,
    });
    expect(done.status).toBe('dry_run');
    const rolled = await actions.rollback(done.id, 'responder');
    expect(rolled.status).toBe('rolled_back');
    expect(port.calls.map((c) => c.kind)).toEqual(['execute', 'rollback']);
    await expect(actions.rollback(done.id, 'responder')).rejects.toThrow(/only a completed action/);
  });

  it('records a failing action as failed and stops the run when the step says so', async () => {
    const stopping = playbook({
      id: 'stopper',
      name: 'Stops',
      trigger: { on: 'alert' },
      steps: [
        {
          id: 'contain',
          uses: 'test.disable_key',
          with: { access_key_id: 'AKIAEXAMPLE000000010' },
          on_error: 'stop',
        },
        { id: 'never', uses: 'test.notify', with: { message: 'x' } },
      ],
    });
    const { engine, addAlert, port } = setup([stopping]);
    port.failing.add('test.disable_key');
    const [run] = await engine.process({ type: 'alert', id: addAlert().id });
    expect(run!.status).toBe('failed');
    expect(run!.steps.contain).toMatchObject({
      status: 'failed',
      error: 'test.disable_key failed on purpose',
    });
    expect(run!.steps.never).toBeUndefined();
  });

  it("never takes an earlier unapproved request as a step's approval", async () => {
    const guarded = playbook({
      id: 'guarded',
      name: 'Guarded',
      trigger: { on: 'alert' },
      steps: [
        {
          id: 'contain',
          uses: 'test.disable_key',
          approval: 'required',
          with: { access_key_id: '{{ entities.access_key | first }}' },
        },
      ],
    });
    const { port, actions, engine, addAlert } = setup([guarded]);
    const key = 'AKIAEXAMPLE000000077';
    // Someone already did the same thing without an approval.
    const earlier = await actions.request({
      type: 'test.disable_key',
      input: { access_key_id: key },
      requested_by: 'responder-key',
      reason: 'by hand',
      approval: 'auto',
      dry_run: false,
      expires_in_ms: 60_000,
    });
    expect(earlier.status).toBe('succeeded');
    const a = addAlert({ entities: [{ type: 'access_key', value: key }] });
    const [run] = await engine.process({ type: 'alert', id: a.id });
    expect(run!.status).toBe('waiting');
    const own = await store.actions.get(run!.steps.contain!.request_id!);
    expect(own!.id).not.toBe(earlier.id);
    expect(own).toMatchObject({ status: 'pending_approval', needs_approval: true, run_id: run!.id });
    expect(port.executions('test.disable_key')).toHaveLength(1);
  });

  it('under the dry-run ceiling, a step asking for a live run waits for a person; a policy naming the action runs it', async () => {
    const live = playbook({
      id: 'live-steps',
      name: 'Live steps',
      trigger: { on: 'alert' },
      steps: [
        {
          id: 'remove',
          uses: 'test.delete_user',
          dry_run: false,
          with: { user: '{{ entities.user | first }}' },
        },
        {
          id: 'contain',
          uses: 'test.disable_key',
          dry_run: false,
          with: { access_key_id: '{{ entities.access_key | first }}' },
        },
      ],
      policies: [
        { action: 'test.delete_user', when: { priority: { gte: 0 } }, reason: 'always, in this test' },
      ],
    });
    const { port, engine, addAlert } = setup([live], { dryRun: true });
    const a = addAlert({
      entities: [
        { type: 'access_key', value: 'AKIAEXAMPLE000000088' },
        { type: 'user', value: 'ceiling-user' },
      ],
    });
    const [run] = await engine.process({ type: 'alert', id: a.id });
    expect(run!.status).toBe('waiting');
    const held = await store.actions.get(run!.steps.contain!.request_id!);
    expect(held).toMatchObject({ status: 'pending_approval', dry_run: false, needs_approval: true });
    expect(port.executions('test.disable_key')).toHaveLength(0);
    expect(run!.steps.remove!.status).toBe('done');
    expect(port.executions('test.delete_user').map((c) => c.dryRun)).toEqual([false]);
  });
});
