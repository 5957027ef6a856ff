import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../../test/helpers/builders.ts';
import { type TestServer, testServer } from '../../../test/helpers/runtime.ts';
import type { NormalisedEvent } from '../../schema/event.ts';

/* GET /events: the filters by user, address, host and free text, their validation, and the scope they need. */

describe('GET /events filters', () => {
  let t: TestServer;
  let read: string;
  let ingestOnly: string;
  const day = (h: number) => `2026-11-19T${String(h).padStart(2, '0')}:00:00.000Z`;
  const ev: NormalisedEvent[] = [
    makeEvent({
      source: 'cloudtrail',
      time: day(8),
      actor: { user: { name: 'Dev-Alice' } },
      src_endpoint: { ip: '203.0.113.45' },
      message: 'ConsoleLogin failed for dev-alice',
    }),
    makeEvent({
      source: 'syslog',
      time: day(9),
      actor: { user: { name: 'root' } },
      src_endpoint: { ip: '::ffff:198.51.100.7' },
      device: { hostname: 'Bastion-01' },
      message: "Failed password for root from 198.51.100.7; user O'Brien said DROP TABLE events",
    }),
    makeEvent({
      source: 'suricata',
      time: day(10),
      actor: { user: { name: 'svc' } },
      src_endpoint: { ip: '10.0.0.5' },
      dst_endpoint: { ip: '2001:db8::10', hostname: 'db-01.example.com' },
      message: 'ET SCAN Nmap scripting engine',
    }),
  ].map((e) => ({ ...e, observables: [] }));
  const get = (url: string, key = read) =>
    t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });
  const ids = async (url: string) => {
    const r = await get(url);
    expect(r.statusCode, `${url}: ${r.body}`).toBe(200);
    return r.json().items.map((e: { id: string }) => ev.findIndex((x) => x.id === e.id));
  };

  beforeAll(async () => {
    t = await testServer();
    read = await t.key(['read']);
    ingestOnly = await t.key(['ingest']);
    await t.runtime.store.events.insert(ev);
  });
  afterAll(async () => {
    await t.close();
  });

  it('filters by user, address, host and text, alone and with source and time', async () => {
    expect(await ids('/events?user=dev-alice')).toEqual([0]);
    expect(await ids('/events?user=ROOT')).toEqual([1]);
    expect(await ids('/events?ip=198.51.100.7')).toEqual([1]);
    expect(await ids(`/events?ip=${encodeURIComponent('::ffff:198.51.100.7')}`)).toEqual([1]);
    expect(await ids(`/events?ip=${encodeURIComponent('2001:DB8:0::10')}`)).toEqual([2]);
    expect(await ids(`/events?ip=${encodeURIComponent('10.0.0.0/8')}`)).toEqual([2]);
    expect(await ids('/events?host=bastion-01')).toEqual([1]);
    expect(await ids('/events?host=DB-01.example.com')).toEqual([2]);
    expect(await ids('/events?q=failed')).toEqual([1, 0]);
    expect(await ids(`/events?q=${encodeURIComponent('"failed password"')}`)).toEqual([1]);
    expect(await ids(`/events?q=${encodeURIComponent('nmap or consolelogin')}`)).toEqual([2, 0]);
    expect(await ids('/events?q=failed&source=cloudtrail')).toEqual([0]);
    expect(await ids('/events?q=failed&from=2026-11-19T08:30:00Z&to=2026-11-19T09:30:00Z')).toEqual([1]);
    const r = await get('/events?q=failed&limit=1');
    expect(r.json().total).toBe(2);
    expect(r.json().items).toHaveLength(1);
  });

  it('takes SQL and query syntax as plain values', async () => {
    expect(await ids(`/events?q=${encodeURIComponent("O'Brien; DROP TABLE events; --")}`)).toEqual([1]);
    expect(await ids(`/events?user=${encodeURIComponent("' OR '1'='1")}`)).toEqual([]);
    expect(await ids(`/events?host=${encodeURIComponent("x%'; SELECT pg_sleep(10); --")}`)).toEqual([]);
    expect(await ids(`/events?source=${encodeURIComponent("cloudtrail' OR 'a'='a")}`)).toEqual([]);
    expect(await ids(`/events?q=${encodeURIComponent('-failed')}`)).toEqual([1, 0]);
    expect((await get('/events')).json().total).toBe(3);
  });

  it('answers 400 naming the parameter for a bad address, oversized or control text, or a query without words', async () => {
    const cases: Array<[string, string]> = [
      ['ip=example.com', 'querystring.ip'],
      ['ip=10.0.0.5%2F24', 'querystring.ip'],
      ['ip=010.0.0.1', 'querystring.ip'],
      [`ip=${encodeURIComponent('fe80::1%eth0')}`, 'querystring.ip'],
      [`ip=${'1'.repeat(100)}`, 'querystring.ip'],
      ['q=', 'querystring.q'],
      [`q=${'a'.repeat(201)}`, 'querystring.q'],
      ['q=%00', 'querystring.q'],
      ['q=a%00b', 'querystring.q'],
      ['q=%21%21%21', 'querystring.q'],
      [`user=${'u'.repeat(257)}`, 'querystring.user'],
      ['user=a%00', 'querystring.user'],
      ['user=a%0Ab', 'querystring.user'],
      ['host=h%00', 'querystring.host'],
      [`host=${'h'.repeat(256)}`, 'querystring.host'],
      ['source=c%00', 'querystring.source'],
    ];
    for (const [query, field] of cases) {
      const r = await get(`/events?${query}`);
      expect(r.statusCode, query).toBe(400);
      expect(r.json(), query).toMatchObject({ code: 'AISOC_ERR_VALIDATION', field });
    }
    expect((await get(`/events?q=${'a'.repeat(200)}`)).statusCode).toBe(200);
  });

  it('needs the read scope: 401 without a key, 403 with a key lacking it', async () => {
    const anon = await t.app.inject({ method: 'GET', url: '/events?user=root' });
    expect(anon.statusCode).toBe(401);
    const wrong = await get('/events?user=root', ingestOnly);
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().code).toBe('AISOC_ERR_FORBIDDEN');
    expect((await get('/events?user=root')).statusCode).toBe(200);
  });

  it('documents the filters in the OpenAPI schema', async () => {
    const doc = (await get('/openapi.json')).json();
    const params = (doc.paths['/events'].get.parameters as Array<{ name: string; description?: string }>).map(
      (p) => p.name,
    );
    expect(params).toEqual(expect.arrayContaining(['source', 'from', 'to', 'user', 'ip', 'host', 'q']));
  });
});
