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
      { respond: { actions: { 'local.block_ip': {} } }, knowledge: { load: 'lazy' } },
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
});
