import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlert, makeEvent, makeIncident } from '../../../test/helpers/builders.ts';
import { type TestServer, testServer } from '../../../test/helpers/runtime.ts';
import { unblockableSamples } from '../../respond/actions/testing/addresses.ts';

/** Response safety (issue 11 §1) through the HTTP API, with every scope. */
describe('response safety through the API', () => {
  let t: TestServer;
  const keys: Record<string, string> = {};
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, who: string, payload?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${keys[who]}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  let n = 0;
  /** A fresh public address per test, so requests never dedupe across tests. */
  const freshIp = () => `198.51.100.${++n}`;

  beforeAll(async () => {
    t = await testServer(
      {
        respond: { actions: { 'local.block_ip': {}, 'aws.iam.disable_access_key': { region: 'eu-west-1' } } },
        knowledge: { load: 'lazy' },
      },
      { response: true },
    );
    keys.read = await t.key(['read'], 'reader');
    keys.ingest = await t.key(['ingest'], 'ingester');
    keys.analyst = await t.key(['analyst', 'read'], 'analyst-1');
    keys.responder = await t.key(['responder', 'read'], 'responder-1');
    keys.other = await t.key(['responder', 'read'], 'responder-2');
    keys.admin = await t.key(['admin'], 'admin-1');
  });
  afterAll(async () => {
    await t.close();
  });

  describe('addresses', () => {
    it('refuses every unblockable address with 400 naming input.ip, before anything is stored', async () => {
      const before = (await t.runtime.store.actions.list({ limit: 1000 })).total;
      for (const ip of unblockableSamples()) {
        const r = await call('POST', '/actions', 'responder', {
          type: 'local.block_ip',
          input: { ip },
          reason: 'adversarial address',
        });
        expect(r.statusCode, ip).toBe(400);
        expect(r.json(), ip).toMatchObject({ code: 'AISOC_ERR_VALIDATION', field: 'input.ip' });
      }
      expect((await t.runtime.store.actions.list({ limit: 1000 })).total).toBe(before);
    });

    it('stores an IPv4-mapped public address as the IPv4 address, so one address is one request', async () => {
      const a = await call('POST', '/actions', 'responder', {
        type: 'local.block_ip',
        input: { ip: '::ffff:203.0.113.99' },
        reason: 'mapped',
      });
      expect(a.statusCode).toBe(201);
      expect(a.json().input).toEqual({ ip: '203.0.113.99' });
      const b = await call('POST', '/actions', 'responder', {
        type: 'local.block_ip',
        input: { ip: '203.0.113.99' },
        reason: 'plain',
      });
      expect(b.json().id).toBe(a.json().id);
    });

    it('offers a playbook only public addresses: a crafted IPv4-mapped loopback never reaches block_ip', async () => {
      const hostile = ['::ffff:127.0.0.1', '::ffff:7f00:1', '0.0.0.0', '::', 'fe80::1', '169.254.169.254'];
      const e = makeEvent({ src_endpoint: { ip: '::ffff:127.0.0.1' } });
      await t.runtime.store.events.insert([e]);
      const inc = makeIncident({ priority: 95, alert_count: 1 });
      const alert = makeAlert({
        priority: 95,
        event_ids: [e.id],
        incident_id: inc.id,
        entities: [
          ...hostile.map((value) => ({ type: 'ip' as const, value })),
          { type: 'ip', value: '::ffff:203.0.113.77' },
        ],
      });
      inc.alert_ids = [alert.id];
      inc.entities = alert.entities;
      await t.runtime.store.alerts.upsert([alert]);
      await t.runtime.store.incidents.upsert([inc]);
      const [run] = await t.runtime.response!.engine.process({ type: 'incident', id: inc.id });
      const requestId = run!.steps['block-source']!.request_id!;
      const req = await t.runtime.store.actions.get(requestId);
      expect(req!.input).toEqual({ ip: '203.0.113.77' });
    });
  });

  const block = (who: string, extra: Record<string, unknown> = {}, ip = freshIp()) =>
    call('POST', '/actions', who, { type: 'local.block_ip', input: { ip }, reason: 'scanner', ...extra });

  describe('four eyes', () => {
    it('refuses every requester approving their own request, admin included, over HTTP', async () => {
      for (const who of ['responder', 'admin']) {
        const held = await block(who, { require_approval: true });
        expect(held.statusCode).toBe(201);
        expect(held.json().status).toBe('pending_approval');
        const self = await call('POST', `/actions/${held.json().id}/approve`, who, { comment: 'lgtm' });
        expect(self.statusCode, who).toBe(403);
        expect(self.json(), who).toMatchObject({ code: 'AISOC_ERR_FOUR_EYES', field: 'id' });
        const after = (await call('GET', `/actions/${held.json().id}`, 'read')).json();
        expect(after.status).toBe('pending_approval');
        const approvals = (await call('GET', `/audit?target_id=${held.json().id}`, 'admin'))
          .json()
          .items.filter((e: { action: string }) => e.action === 'action.approve');
        expect(approvals).toHaveLength(0);
        // Another person may.
        const other = who === 'admin' ? 'responder' : 'other';
        const ok = await call('POST', `/actions/${held.json().id}/approve`, other, { comment: 'agreed' });
        expect(ok.statusCode).toBe(200);
        expect(ok.json()).toMatchObject({ status: 'dry_run', approvals: [{ by: expect.any(String) }] });
      }
    });

    it('keeps approval to the responder and admin scopes', async () => {
      const held = await block('responder', { require_approval: true });
      for (const who of ['read', 'ingest', 'analyst']) {
        const r = await call('POST', `/actions/${held.json().id}/approve`, who);
        expect(r.statusCode, who).toBe(403);
        expect(r.json().code, who).toBe('AISOC_ERR_FORBIDDEN');
      }
      expect((await call('GET', `/actions/${held.json().id}`, 'read')).json().status).toBe(
        'pending_approval',
      );
    });
  });

  describe('the dry-run ceiling', () => {
    it('refuses a live request under respond.dry_run, for every scope that may request, naming the policy', async () => {
      const before = (await t.runtime.store.actions.list({ limit: 1000 })).total;
      for (const who of ['responder', 'admin']) {
        const r = await call('POST', '/actions', who, {
          type: 'aws.iam.disable_access_key',
          input: { access_key_id: 'AKIAIOSFODNN7EXAMPLE' },
          reason: 'live please',
          dry_run: false,
        });
        expect(r.statusCode, who).toBe(403);
        expect(r.json(), who).toMatchObject({
          code: 'AISOC_ERR_DRY_RUN_ENFORCED',
          field: 'dry_run',
          details: { policy: 'respond.dry_run' },
        });
      }
      for (const who of ['read', 'ingest', 'analyst']) {
        const r = await block(who, { dry_run: false });
        expect(r.statusCode, who).toBe(403);
        expect(r.json().code, who).toBe('AISOC_ERR_FORBIDDEN');
      }
      expect((await t.runtime.store.actions.list({ limit: 1000 })).total).toBe(before);
    });

    it('accepts a live request that waits for another person', async () => {
      const r = await block('responder', { dry_run: false, require_approval: true });
      expect(r.statusCode).toBe(201);
      expect(r.json()).toMatchObject({ status: 'pending_approval', dry_run: false });
    });
  });

  describe('idempotency', () => {
    it('answers an identical request after a denial with a new request, not the old record', async () => {
      const ip = freshIp();
      const first = await block('responder', { require_approval: true }, ip);
      const denied = await call('POST', `/actions/${first.json().id}/deny`, 'other', { comment: 'no' });
      expect(denied.json().status).toBe('denied');
      const again = await block('responder', { require_approval: true }, ip);
      expect(again.statusCode).toBe(201);
      expect(again.json().id).not.toBe(first.json().id);
      expect(again.json().status).toBe('pending_approval');
      const approved = await call('POST', `/actions/${again.json().id}/approve`, 'other');
      expect(approved.json().status).toBe('dry_run');
    });

    it('answers an identical request after a rollback with a new request', async () => {
      const ip = freshIp();
      const first = await block('responder', {}, ip);
      expect(first.json().status).toBe('dry_run');
      expect((await block('responder', {}, ip)).json().id).toBe(first.json().id);
      await call('POST', `/actions/${first.json().id}/rollback`, 'responder', { comment: 'undo' });
      const again = await block('responder', {}, ip);
      expect(again.json().id).not.toBe(first.json().id);
      expect(again.json().status).toBe('dry_run');
    });
  });

  describe('text that cannot be stored', () => {
    const bad: Array<[string, string]> = [
      ['NUL', 'a\u0000b'],
      ['lone surrogate', 'a\ud800b'],
    ];

    it('is a 400 naming the field in a request, and nothing is stored or audited', async () => {
      const before = (await t.runtime.store.actions.list({ limit: 1000 })).total;
      for (const [what, text] of bad) {
        for (const [body, field] of [
          [{ type: 'local.block_ip', input: { ip: freshIp() }, reason: text }, 'reason'],
          [{ type: 'local.block_ip', input: { ip: text }, reason: 'x' }, 'input.ip'],
          [{ type: 'local.block_ip', input: { ip: freshIp(), [text]: 1 }, reason: 'x' }, 'input.'],
          [{ type: text, input: {}, reason: 'x' }, 'type'],
        ] as const) {
          const r = await call('POST', '/actions', 'responder', body);
          expect(r.statusCode, `${what} in ${field}`).toBe(400);
          expect(r.json().code).toBe('AISOC_ERR_VALIDATION');
          expect(r.json().field.startsWith(field), `${what}: ${r.json().field}`).toBe(true);
        }
      }
      expect((await t.runtime.store.actions.list({ limit: 1000 })).total).toBe(before);
    });

    it('refuses oversized reasons and comments with 400, storing nothing', async () => {
      const big = 'x'.repeat(100_000);
      const r = await block('responder', { reason: big });
      expect(r.statusCode).toBe(400);
      expect(r.json().field).toBe('body.reason');
      const held = await block('responder', { require_approval: true });
      const c = await call('POST', `/actions/${held.json().id}/approve`, 'other', { comment: big });
      expect(c.statusCode).toBe(400);
      expect((await call('GET', `/actions/${held.json().id}`, 'read')).json().status).toBe(
        'pending_approval',
      );
    });

    it('is a 400 naming comment in approvals, denials and rollbacks, and the request stays as it was', async () => {
      const held = await block('responder', { require_approval: true });
      for (const [, text] of bad)
        for (const verb of ['approve', 'deny', 'rollback']) {
          const r = await call('POST', `/actions/${held.json().id}/${verb}`, 'other', { comment: text });
          expect(r.statusCode, verb).toBe(400);
          expect(r.json()).toMatchObject({ code: 'AISOC_ERR_VALIDATION', field: 'comment' });
        }
      expect((await call('GET', `/actions/${held.json().id}`, 'read')).json().status).toBe(
        'pending_approval',
      );
    });
  });

  describe('suppressions', () => {
    let incidentId: string;
    const openCase = async () => {
      const r = await call('POST', '/cases', 'analyst', { incident_id: incidentId });
      return r.json().id as string;
    };
    const close = (id: string, who: string, suppress: Record<string, unknown>) =>
      call('PATCH', `/cases/${id}`, who, { status: 'closed', resolution: 'false_positive', suppress });

    beforeAll(async () => {
      const e = makeEvent({ actor: { user: { name: 'svc-backup' } } });
      await t.runtime.store.events.insert([e]);
      const inc = makeIncident({ alert_count: 1 });
      const a = makeAlert({
        event_ids: [e.id],
        incident_id: inc.id,
        entities: [{ type: 'user', value: 'svc-backup' }],
        detections: [
          {
            engine: 'sigma',
            rule_id: 'own-rule',
            rule_title: 'Own',
            level: 'high',
            tags: [],
            event_ids: [e.id],
          },
        ],
      });
      inc.alert_ids = [a.id];
      inc.entities = a.entities;
      await t.runtime.store.alerts.upsert([a]);
      await t.runtime.store.incidents.upsert([inc]);
      incidentId = inc.id;
    });

    it('refuses an analyst suppressing other rules, other entities or for longer than max_days', async () => {
      const before = (await call('GET', '/suppressions', 'read')).json().items.length;
      for (const [suppress, field] of [
        [{ entity: { type: 'user', value: 'svc-backup' }, days: 31 }, 'suppress.days'],
        [{ entity: { type: 'user', value: 'svc-backup' }, days: 365 }, 'suppress.days'],
        [
          { entity: { type: 'user', value: 'svc-backup' }, days: 7, rule_ids: ['mimikatz'] },
          'suppress.rule_ids',
        ],
        [{ entity: { type: 'user', value: 'root' }, days: 7 }, 'suppress.entity'],
        [{ entity: { type: 'ip', value: '0.0.0.0' }, days: 7, rule_ids: ['own-rule'] }, 'suppress.entity'],
      ] as const) {
        const id = await openCase();
        const r = await close(id, 'analyst', suppress);
        expect(r.statusCode, field).toBe(403);
        expect(r.json(), field).toMatchObject({ code: 'AISOC_ERR_FORBIDDEN', field });
        // The case is not closed either: the whole change is refused.
        expect((await call('GET', `/cases/${id}`, 'read')).json().status).not.toBe('closed');
        await call('PATCH', `/cases/${id}`, 'analyst', { status: 'closed', resolution: 'benign_positive' });
      }
      expect((await call('GET', '/suppressions', 'read')).json().items.length).toBe(before);
    });

    it("lets an analyst suppress the case's own rules for its own entity within max_days", async () => {
      const r = await close(await openCase(), 'analyst', {
        entity: { type: 'user', value: 'SVC-BACKUP' },
        days: 30,
      });
      expect(r.statusCode).toBe(200);
      expect(r.json().suppressions.map((s: { rule_id: string }) => s.rule_id)).toEqual(['own-rule']);
    });

    it('lets an admin go wider, up to 365 days, and audits that it did', async () => {
      const r = await close(await openCase(), 'admin', {
        entity: { type: 'user', value: 'root' },
        days: 365,
        rule_ids: ['mimikatz'],
      });
      expect(r.statusCode).toBe(200);
      const [s] = r.json().suppressions;
      const audit = (await call('GET', `/audit?target_id=${s.id}`, 'admin')).json().items;
      expect(audit[0].details.wider_than_case).toEqual([
        'suppress.days',
        'suppress.rule_ids',
        'suppress.entity',
      ]);
      const tooLong = await close(await openCase(), 'admin', {
        entity: { type: 'user', value: 'root' },
        days: 366,
      });
      expect(tooLong.statusCode).toBe(400);
    });

    it('keeps closing with a suppression to the analyst scope and up', async () => {
      const id = await openCase();
      for (const who of ['read', 'ingest']) {
        const r = await close(id, who, { entity: { type: 'user', value: 'svc-backup' }, days: 1 });
        expect(r.statusCode, who).toBe(403);
        expect(r.json().code, who).toBe('AISOC_ERR_FORBIDDEN');
      }
      await call('PATCH', `/cases/${id}`, 'analyst', { status: 'closed', resolution: 'benign_positive' });
    });

    it('refuses NUL in a suppression with 400 naming the field', async () => {
      const r = await close(await openCase(), 'admin', {
        entity: { type: 'user', value: 'a\u0000b' },
        days: 1,
      });
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ code: 'AISOC_ERR_VALIDATION', field: 'suppress.entity.value' });
    });
  });
});
