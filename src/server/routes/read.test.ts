import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlert, makeEvent, makeIncident } from '../../../test/helpers/builders.ts';
import { type TestServer, testServer } from '../../../test/helpers/runtime.ts';

describe('read API: events, alerts, incidents', () => {
  let t: TestServer;
  let key: string;
  const get = (url: string) =>
    t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });
  const ev = [
    makeEvent({ source: 'cloudtrail', time: '2026-11-19T08:00:00.000Z' }),
    makeEvent({ source: 'cloudtrail', time: '2026-11-19T09:00:00.000Z' }),
    makeEvent({ source: 'generic', time: '2026-11-19T10:00:00.000Z' }),
  ];
  const alerts = [
    makeAlert({
      severity: 'critical',
      priority: 90,
      last_seen: '2026-11-19T08:00:00.000Z',
      event_ids: [ev[0]!.id],
    }),
    makeAlert({ severity: 'medium', priority: 45, last_seen: '2026-11-19T10:00:00.000Z', status: 'closed' }),
    makeAlert({
      severity: 'high',
      priority: 70,
      last_seen: '2026-11-19T09:00:00.000Z',
      detections: [
        { engine: 'ml', rule_id: 'model-x', rule_title: 'm', level: 'high', tags: [], event_ids: [] },
      ],
    }),
  ];

  beforeAll(async () => {
    t = await testServer();
    key = await t.key(['read']);
    await t.runtime.store.events.insert(ev);
    await t.runtime.store.alerts.upsert(alerts);
    await t.runtime.store.incidents.upsert([makeIncident({ alert_ids: [alerts[0]!.id], alert_count: 1 })]);
  });
  afterAll(async () => {
    await t.close();
  });

  it('lists events by source and time with a total, and returns one event', async () => {
    const r = await get('/events?source=cloudtrail');
    expect(r.statusCode).toBe(200);
    expect(r.json().total).toBe(2);
    expect(r.json().items.map((e: { id: string }) => e.id)).toEqual([ev[1]!.id, ev[0]!.id]);
    const ranged = await get('/events?from=2026-11-19T08:30:00Z&to=2026-11-19T09:30:00Z');
    expect(ranged.json().items.map((e: { id: string }) => e.id)).toEqual([ev[1]!.id]);
    expect((await get(`/events/${ev[2]!.id}`)).json().source).toBe('generic');
  });

  it('sorts alerts by priority by default and by time on request, and filters', async () => {
    expect((await get('/alerts')).json().items.map((a: { id: string }) => a.id)).toEqual([
      alerts[0]!.id,
      alerts[2]!.id,
      alerts[1]!.id,
    ]);
    expect((await get('/alerts?sort=time')).json().items.map((a: { id: string }) => a.id)).toEqual([
      alerts[1]!.id,
      alerts[2]!.id,
      alerts[0]!.id,
    ]);
    expect((await get('/alerts?severity=high,critical')).json().total).toBe(2);
    expect((await get('/alerts?status=closed')).json().items[0].id).toBe(alerts[1]!.id);
    expect((await get('/alerts?rule=model-x')).json().items[0].id).toBe(alerts[2]!.id);
    expect((await get('/alerts?min_severity=high&limit=1&offset=1')).json()).toMatchObject({
      total: 2,
      items: [{ id: alerts[2]!.id }],
    });
  });

  it('returns an alert with its events and an incident with its alerts', async () => {
    const a = (await get(`/alerts/${alerts[0]!.id}`)).json();
    expect(a.events.map((e: { id: string }) => e.id)).toEqual([ev[0]!.id]);
    expect(a.verdict).toBeNull();
    const list = (await get('/incidents')).json();
    expect(list.total).toBe(1);
    const inc = (await get(`/incidents/${list.items[0].id}`)).json();
    expect(inc.alerts.map((x: { id: string }) => x.id)).toEqual([alerts[0]!.id]);
    expect(inc.verdict).toBeNull();
  });

  it('names the bad field in 400s and answers 404 for unknown ids', async () => {
    const bad = await get('/alerts?severity=high,urgent');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'AISOC_ERR_VALIDATION', field: 'querystring.severity' });
    expect(bad.json().message).toContain('urgent');
    const lim = await get('/events?limit=5000');
    expect(lim.json().field).toBe('querystring.limit');
    const id = await get('/alerts/not-a-uuid');
    expect(id.json().field).toBe('params.id');
    const missing = await get('/alerts/0190b6c4-5f1e-7c3a-9d2b-000000000000');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('AISOC_ERR_NOT_FOUND');
  });

  it('serves the OpenAPI document and Prometheus metrics with the seed names', async () => {
    const doc = (await get('/openapi.json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/ingest/{source}', '/alerts', '/events/{id}']),
    );
    const m = (await get('/metrics')).body;
    for (const name of [
      'triage_requests_total',
      'triage_request_duration_seconds',
      'triage_confidence_score',
      'ml_inference_latency_seconds',
      'ml_predictions_total',
      'wazuh_alerts_total',
      'wazuh_events_processed_total',
    ]) {
      expect(m).toContain(`# TYPE ${name}`);
    }
  });

  it('sets security headers', async () => {
    const r = await get('/alerts');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['content-security-policy']).toContain("default-src 'self'");
    expect(r.headers['x-frame-options']).toBeDefined();
  });
});

describe('rate limiting', () => {
  it('answers 429 with a stable code past the per-key limit', async () => {
    const t = await testServer({ server: { rate_limit_per_minute: 3 } });
    try {
      const key = await t.key(['read']);
      const codes: number[] = [];
      for (let i = 0; i < 4; i++)
        codes.push(
          (await t.app.inject({ method: 'GET', url: '/alerts', headers: { authorization: `Bearer ${key}` } }))
            .statusCode,
        );
      expect(codes).toEqual([200, 200, 200, 429]);
      const r = await t.app.inject({
        method: 'GET',
        url: '/alerts',
        headers: { authorization: `Bearer ${key}` },
      });
      expect(r.json().code).toBe('AISOC_ERR_RATE_LIMITED');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      // Health checks are never rate limited.
      for (let i = 0; i < 5; i++)
        expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});
