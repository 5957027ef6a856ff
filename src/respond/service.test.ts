import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AisocError } from '../errors.ts';
import { openStore, type Store } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { ActionService, type ActionServiceOptions, type RequestActionInput } from './service.ts';
import { RecordingPort } from './testing/fake-port.ts';

/**
 * The action service as the CLI, the playbook engine and the API reach it:
 * four eyes, the dry-run ceiling, live-only idempotency and text that cannot
 * be stored.
 */
describe('action service safety', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({});
  });
  afterAll(async () => {
    await store.close();
  });

  let n = 0;
  const service = (options: ActionServiceOptions = {}) => {
    const port = new RecordingPort();
    return { port, actions: new ActionService(store, port, silentLogger(), undefined, options) };
  };
  const ask = (extra: Partial<RequestActionInput> = {}): RequestActionInput => ({
    type: 'test.disable_key',
    input: { access_key_id: `AKIA${String(++n).padStart(16, '0')}` },
    requested_by: 'alice',
    reason: 'suspicious key',
    approval: 'required',
    dry_run: true,
    expires_in_ms: 60_000,
    ...extra,
  });
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected a failure');
      },
      (e: unknown) => e as AisocError,
    );

  describe('four eyes', () => {
    it('refuses the requester as approver, admin names included, and leaves the request pending', async () => {
      for (const who of ['alice', 'admin']) {
        const { port, actions } = service();
        const req = await actions.request(ask({ requested_by: who }));
        const err = await failure(actions.approve(req.id, who, 'looks fine to me'));
        expect(err).toMatchObject({ code: 'AISOC_ERR_FOUR_EYES', status: 403, field: 'id' });
        expect((await store.actions.get(req.id))!.status).toBe('pending_approval');
        expect(await store.audit.list({ target_id: req.id, action: 'action.approve' })).toHaveLength(0);
        expect(port.executions()).toHaveLength(0);
        const done = await actions.approve(req.id, 'bob', 'agreed');
        expect(done).toMatchObject({ status: 'dry_run', decided_by: 'bob', approvals: [{ by: 'bob' }] });
      }
    });

    it('needs min_approvers different people, none of them the requester, each counted once', async () => {
      const { port, actions } = service({ minApprovers: 2 });
      const req = await actions.request(ask());
      const first = await actions.approve(req.id, 'bob', 'one');
      expect(first.status).toBe('pending_approval');
      expect(port.executions()).toHaveLength(0);
      expect(await failure(actions.approve(req.id, 'bob', 'again'))).toMatchObject({
        code: 'AISOC_ERR_FOUR_EYES',
      });
      expect(await failure(actions.approve(req.id, 'alice'))).toMatchObject({ code: 'AISOC_ERR_FOUR_EYES' });
      const second = await actions.approve(req.id, 'carol', 'two');
      expect(second.status).toBe('dry_run');
      expect(second.approvals!.map((a) => a.by)).toEqual(['bob', 'carol']);
      expect(port.executions()).toHaveLength(1);
      const audit = await store.audit.list({ target_id: req.id, action: 'action.approve' });
      expect(audit.map((a) => a.actor)).toEqual(['bob', 'carol']);
    });

    it('lets the requester withdraw (deny) their own request', async () => {
      const { actions } = service();
      const req = await actions.request(ask());
      expect((await actions.deny(req.id, 'alice', 'my mistake')).status).toBe('denied');
    });
  });

  describe('the dry run an approver sees', () => {
    it('previews a waiting request with a dry run that changes nothing, and stores what it reported', async () => {
      const { port, actions } = service({ dryRunCeiling: true });
      const held = await actions.request(ask({ approval: 'required', dry_run: false }));
      expect(held.status).toBe('pending_approval');
      expect(held.preview).toMatchObject({ status: 'dry_run', summary: 'test.disable_key would run' });
      expect(port.previews()).toEqual([expect.objectContaining({ dryRun: true })]);
      expect(port.executions()).toHaveLength(0);
      expect((await store.actions.get(held.id))!.preview?.details).toEqual({ input: held.input });
      // Approval runs it once, live; the preview stays as it was reported.
      const done = await actions.approve(held.id, 'bob');
      expect(done.status).toBe('succeeded');
      expect(port.executions().map((c) => c.dryRun)).toEqual([false]);
      expect(done.preview?.status).toBe('dry_run');
    });

    it('keeps a request whose dry run fails, saying why, and never previews one that runs at once', async () => {
      const { port, actions } = service();
      port.failing.add('test.disable_key');
      const held = await actions.request(ask());
      expect(held.status).toBe('pending_approval');
      expect(held.preview).toMatchObject({ status: 'failed' });
      expect(held.preview?.summary).toMatch(/dry run failed: .*failed on purpose/);
      port.failing.delete('test.disable_key');
      const now = await actions.request(ask({ approval: 'auto' }));
      expect(now.status).toBe('dry_run');
      expect(now.preview).toBeUndefined();
      expect(port.previews()).toHaveLength(1);
    });
  });

  describe('the dry-run ceiling', () => {
    it('refuses a live request that no approval or policy licenses, before storing anything', async () => {
      const { port, actions } = service({ dryRunCeiling: true });
      const before = (await store.actions.list({ limit: 1000 })).total;
      const err = await failure(actions.request(ask({ approval: 'auto', dry_run: false })));
      expect(err).toMatchObject({
        code: 'AISOC_ERR_DRY_RUN_ENFORCED',
        status: 403,
        field: 'dry_run',
        details: { policy: 'respond.dry_run' },
      });
      expect((await store.actions.list({ limit: 1000 })).total).toBe(before);
      expect(port.calls).toHaveLength(0);
    });

    it('runs live only after another person approves, or under a policy naming the action', async () => {
      const { port, actions } = service({ dryRunCeiling: true });
      const held = await actions.request(ask({ approval: 'required', dry_run: false }));
      expect(held.status).toBe('pending_approval');
      expect((await actions.approve(held.id, 'bob')).status).toBe('succeeded');
      const byPolicy = await actions.request(
        ask({ approval: 'auto', dry_run: false, policy: 'SSH open to the world is closed at once' }),
      );
      expect(byPolicy.status).toBe('succeeded');
      // A playbook step that asks for a live run waits for a person instead of failing.
      const step = await actions.request(
        ask({ approval: 'auto', dry_run: false, live_without_approval: 'hold' }),
      );
      expect(step).toMatchObject({ status: 'pending_approval', needs_approval: true });
      // Read-only actions (notifications) change nothing and always run.
      const note = await actions.request({
        ...ask({ approval: 'auto', dry_run: false }),
        type: 'test.notify',
        input: { message: `m${n}` },
      });
      expect(note.status).toBe('succeeded');
      expect(port.executions().map((c) => c.dryRun)).toEqual([false, false, false]);
    });

    it('refuses at run time a live request stored without a licence (another configuration, an older version)', async () => {
      const open = service({ dryRunCeiling: false });
      const req = await open.actions.request(ask({ approval: 'required', dry_run: false }));
      // Forged as if approved without an approval having been needed.
      await store.actions.transition(req.id, ['pending_approval'], {
        status: 'approved',
        needs_approval: false,
      });
      const { port, actions } = service({ dryRunCeiling: true });
      const r = await actions.execute(req.id);
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/respond\.dry_run/);
      expect(port.calls).toHaveLength(0);
      expect(await store.audit.list({ target_id: req.id, action: 'action.result' })).toHaveLength(1);
    });
  });

  describe('idempotency', () => {
    it('makes a new request after the last one was denied, expired, failed or rolled back', async () => {
      const { port, actions } = service();
      const base = ask({ approval: 'auto' });
      // Denied.
      const denied = await actions.request({ ...base, approval: 'required' });
      await actions.deny(denied.id, 'bob');
      const afterDeny = await actions.request({ ...base, approval: 'required' });
      expect(afterDeny.id).not.toBe(denied.id);
      expect(afterDeny.status).toBe('pending_approval');
      // Expired.
      await actions.expire(new Date(Date.now() + 120_000).toISOString());
      expect((await store.actions.get(afterDeny.id))!.status).toBe('expired');
      const afterExpiry = await actions.request({ ...base, approval: 'required' });
      expect(afterExpiry.id).not.toBe(afterDeny.id);
      // Succeeded (dry run) dedupes; rolled back does not.
      const ran = await actions.request(base);
      expect(ran.status).toBe('dry_run');
      expect((await actions.request(base)).id).toBe(ran.id);
      await actions.rollback(ran.id, 'bob', 'undo');
      const again = await actions.request(base);
      expect(again.id).not.toBe(ran.id);
      expect(again.status).toBe('dry_run');
      // Failed.
      port.failing.add('test.disable_key');
      const failedInput = ask({ approval: 'auto' });
      const failed = await actions.request(failedInput);
      expect(failed.status).toBe('failed');
      port.failing.delete('test.disable_key');
      const retried = await actions.request(failedInput);
      expect(retried.id).not.toBe(failed.id);
      expect(retried.status).toBe('dry_run');
    });

    it('never lets a request that needed no approval stand for one that needs it', async () => {
      const { actions } = service();
      const base = ask({ approval: 'auto' });
      const unapproved = await actions.request(base);
      expect(unapproved.status).toBe('dry_run');
      const step = await actions.request({ ...base, approval: 'required' });
      expect(step.id).not.toBe(unapproved.id);
      expect(step).toMatchObject({ status: 'pending_approval', needs_approval: true });
    });
  });

  describe('text that cannot be stored', () => {
    const bad = [
      ['NUL', 'a\u0000b'],
      ['lone high surrogate', 'a\ud800b'],
      ['lone low surrogate', '\udc00b'],
    ] as const;

    it('refuses it in every field of a request with 400 naming the field, storing nothing', async () => {
      const { port, actions } = service();
      for (const [what, text] of bad) {
        const before = (await store.actions.list({ limit: 1000 })).total;
        const cases: Array<[Partial<RequestActionInput>, string]> = [
          [{ reason: text }, 'reason'],
          [{ requested_by: text }, 'requested_by'],
          [{ type: text }, 'type'],
          [{ step_id: text }, 'step_id'],
          [{ policy: text }, 'policy'],
          [{ input: { access_key_id: text } }, 'input.access_key_id'],
          [{ input: { nested: { list: ['ok', text] } } }, 'input.nested.list[1]'],
          [{ input: { [`k${text}`]: 'v' } }, `input.${JSON.stringify(`k${text}`).slice(1, -1)}`],
        ];
        for (const [extra, field] of cases) {
          const err = await failure(actions.request(ask({ approval: 'auto', ...extra })));
          expect(err, `${what} in ${field}`).toMatchObject({
            code: 'AISOC_ERR_VALIDATION',
            status: 400,
            field,
          });
        }
        expect((await store.actions.list({ limit: 1000 })).total, what).toBe(before);
      }
      expect(port.calls).toHaveLength(0);
    });

    it('refuses it in decisions (approve, deny, roll back) and leaves the request as it was', async () => {
      const { actions } = service();
      const req = await actions.request(ask());
      for (const [what, text] of bad) {
        for (const [verb, call] of [
          ['approve comment', () => actions.approve(req.id, 'bob', text)],
          ['approve by', () => actions.approve(req.id, text)],
          ['deny comment', () => actions.deny(req.id, 'bob', text)],
          ['rollback comment', () => actions.rollback(req.id, 'bob', text)],
        ] as const) {
          const err = await failure(call());
          expect(err, `${what} in ${verb}`).toMatchObject({ code: 'AISOC_ERR_VALIDATION', status: 400 });
        }
      }
      const after = await store.actions.get(req.id);
      expect(after!.status).toBe('pending_approval');
      expect(after!.approvals).toEqual([]);
    });
  });

  describe('start-up recovery', () => {
    it('runs a request left approved but never started, once, with an audit entry; interrupts a running one', async () => {
      const { port, actions } = service();
      const approved = await actions.request(ask());
      await store.actions.transition(approved.id, ['pending_approval'], { status: 'approved' });
      const running = await actions.request(ask());
      await store.actions.transition(running.id, ['pending_approval'], { status: 'running' });
      const { interrupted, resumed } = await actions.recoverAtStart();
      expect(interrupted).toBeGreaterThanOrEqual(1);
      expect(resumed.map((r) => r.id)).toContain(approved.id);
      expect((await store.actions.get(approved.id))!.status).toBe('dry_run');
      expect((await store.actions.get(running.id))!.status).toBe('interrupted');
      expect(await store.audit.list({ target_id: approved.id, action: 'action.resume' })).toHaveLength(1);
      expect(await store.audit.list({ target_id: approved.id, action: 'action.result' })).toHaveLength(1);
      expect(
        port
          .executions()
          .filter(
            (c) => (c.input as { access_key_id: string }).access_key_id === approved.input.access_key_id,
          ),
      ).toHaveLength(1);
      // A second start finds nothing left to do.
      const second = await actions.recoverAtStart();
      expect(second.resumed.map((r) => r.id)).not.toContain(approved.id);
    });

    it('leaves an action another process is running to it until its time is up, then marks it interrupted', async () => {
      const { actions } = service();
      const live = await actions.request(ask());
      await store.actions.transition(live.id, ['pending_approval'], { status: 'approved' });
      // Another worker moved it to running and holds it for a minute.
      await store.actions.transition(live.id, ['approved'], { status: 'running' }, { runningForMs: 60_000 });
      expect((await actions.interruptAbandoned()).map((r) => r.id)).not.toContain(live.id);
      expect((await store.actions.get(live.id))!.status).toBe('running');
      // Its time is up (the runner died): now it is taken for abandoned, once.
      await store.actions.transition(live.id, ['running'], { status: 'running' }, { runningForMs: 0 });
      expect((await actions.interruptAbandoned()).map((r) => r.id)).toContain(live.id);
      expect((await store.actions.get(live.id))!.status).toBe('interrupted');
      expect(await actions.interruptAbandoned()).toEqual([]);
      expect(await store.audit.list({ target_id: live.id, action: 'action.interrupted' })).toHaveLength(1);
    });

    it('on the embedded database, which no other process shares, interrupts at start whatever is running', async () => {
      const { actions } = service();
      const left = await actions.request(ask());
      await store.actions.transition(left.id, ['pending_approval'], { status: 'approved' });
      await store.actions.transition(left.id, ['approved'], { status: 'running' }, { runningForMs: 60_000 });
      const { interruptedRequests } = await actions.recoverAtStart();
      expect(interruptedRequests.map((r) => r.id)).toContain(left.id);
    });
  });
});
