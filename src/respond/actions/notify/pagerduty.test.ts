import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AisocError } from '../../../errors.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { FAST_RETRY } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { json, type Receiver, startReceiver } from '../testing/servers.ts';
import type { NotificationInput } from './message.ts';
import { dedupKey, pagerDutyFactory } from './pagerduty.ts';

const ROUTING_KEY = 'R0ut1ngKeyAisocTest0123456789abc';
const INCIDENT = '0190b6c4-5f1e-7c3a-9d2b-0123456789ab';
const INPUT = {
  title: 'Credentials exfiltrated from instance metadata',
  summary: 'Instance role credentials of i-0abc were used from 203.0.113.45.',
  severity: 'critical',
  incident_id: INCIDENT,
  fields: { Account: '111122223333' },
};

/**
 * A PagerDuty Events API v2 endpoint: validates events as PagerDuty does and
 * keeps one alert per dedup_key (trigger opens or updates, resolve closes).
 */
async function pagerDuty(state: { failing: boolean }) {
  const alerts = new Map<string, { status: 'triggered' | 'resolved'; events: number; summary?: string }>();
  const server = await startReceiver((req, res) => {
    if (state.failing)
      return json(res, 500, { status: 'error', message: `upstream failure for ${req.body}` });
    if (req.method !== 'POST' || req.path !== '/v2/enqueue') return json(res, 404, { status: 'not found' });
    let e: {
      routing_key?: string;
      event_action?: string;
      dedup_key?: string;
      payload?: { summary?: string; source?: string; severity?: string };
    };
    try {
      e = JSON.parse(req.body);
    } catch {
      return json(res, 400, {
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: ['Invalid JSON'],
      });
    }
    const errors: string[] = [];
    if (e.routing_key !== ROUTING_KEY) errors.push("'routing_key' is invalid");
    if (!['trigger', 'acknowledge', 'resolve'].includes(e.event_action ?? ''))
      errors.push("'event_action' is invalid");
    if (e.event_action === 'trigger') {
      if (!e.payload?.summary) errors.push("'payload.summary' is missing or blank");
      if (!e.payload?.source) errors.push("'payload.source' is missing or blank");
      if (!['critical', 'error', 'warning', 'info'].includes(e.payload?.severity ?? ''))
        errors.push("'payload.severity' is invalid");
    } else if (!e.dedup_key) errors.push("'dedup_key' is missing");
    if (errors.length > 0)
      return json(res, 400, { status: 'invalid event', message: 'Event object is invalid', errors });
    const key = e.dedup_key ?? `pd-${alerts.size + 1}`;
    const alert = alerts.get(key) ?? { status: 'triggered' as const, events: 0 };
    alert.events++;
    if (e.event_action === 'trigger')
      Object.assign(alert, { status: 'triggered', summary: e.payload?.summary });
    if (e.event_action === 'resolve') alert.status = 'resolved';
    alerts.set(key, alert);
    json(res, 202, { status: 'success', message: 'Event processed', dedup_key: key });
  });
  return { server, alerts };
}

const config = (url: string) => ({
  events_url: `${url}/v2/enqueue`,
  retry: FAST_RETRY,
  link_base_url: 'https://soc.example.com',
});
const env = { AISOC_PAGERDUTY_ROUTING_KEY: ROUTING_KEY };

let conformanceUrl = '';
describeActionConformance({
  factory: pagerDutyFactory,
  get config() {
    return config(conformanceUrl);
  },
  async harness() {
    const state = { failing: false };
    const pd = await pagerDuty(state);
    conformanceUrl = pd.server.url;
    return {
      ctx: { env },
      mutations: () => pd.server.received.map((r) => `POST ${r.path}`),
      calls: () => pd.server.received.length,
      state: () => [...pd.alerts].filter(([, a]) => a.status === 'triggered').map(([k]) => k),
      fail: () => {
        state.failing = true;
      },
      close: () => pd.server.close(),
    };
  },
  validInput: INPUT,
  otherInput: { ...INPUT, incident_id: '0190b6c4-5f1e-7c3a-9d2b-0123456789ac' },
  badInputs: [
    { input: { ...INPUT, severity: 'error' }, field: 'severity' },
    { input: { ...INPUT, routing_key: 'other' }, field: 'routing_key' },
  ],
  secrets: [ROUTING_KEY],
});

describe('notify.pagerduty', () => {
  let pd: Awaited<ReturnType<typeof pagerDuty>>;
  let server: Receiver;
  const state = { failing: false };
  beforeEach(async () => {
    state.failing = false;
    pd = await pagerDuty(state);
    server = pd.server;
  });
  afterEach(() => server.close());
  const action = () => pagerDutyFactory.create(config(server.url), { logger: silentLogger(), env });
  const run = { dryRun: false, idempotencyKey: 'k' };

  it('sends one trigger event with the fields PagerDuty requires', async () => {
    const r = await action().execute(INPUT, run);
    expect(r.status).toBe('succeeded');
    expect(server.received).toHaveLength(1);
    expect(JSON.parse(server.received[0]!.body)).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: `aisoc/incident/${INCIDENT}`,
      payload: {
        summary: INPUT.title,
        source: 'aisoc',
        severity: 'critical',
        custom_details: {
          summary: INPUT.summary,
          severity: 'critical',
          incident_id: INCIDENT,
          Account: '111122223333',
        },
      },
      client: 'AI-SOC',
      client_url: `https://soc.example.com/incidents/${INCIDENT}`,
      links: [{ href: `https://soc.example.com/incidents/${INCIDENT}`, text: 'Open in AI-SOC' }],
    });
    expect(r.rollback_data).toEqual({ dedup_key: `aisoc/incident/${INCIDENT}` });
  });

  it('updates one PagerDuty alert when the same incident is notified again', async () => {
    const a = action();
    await a.execute(INPUT, run);
    await a.execute({ ...INPUT, title: 'Credentials exfiltrated (second host)', severity: 'high' }, run);
    expect([...pd.alerts.keys()]).toEqual([`aisoc/incident/${INCIDENT}`]);
    expect(pd.alerts.get(`aisoc/incident/${INCIDENT}`)).toMatchObject({
      events: 2,
      summary: 'Credentials exfiltrated (second host)',
    });
  });

  it('resolves the alert on rollback', async () => {
    const a = action();
    const r = await a.execute(INPUT, run);
    await a.rollback!(INPUT, r.rollback_data, run);
    expect(JSON.parse(server.received[1]!.body)).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'resolve',
      dedup_key: `aisoc/incident/${INCIDENT}`,
    });
    expect(pd.alerts.get(`aisoc/incident/${INCIDENT}`)?.status).toBe('resolved');
  });

  it('derives the dedup_key from the alert, or from the content when there is neither id', () => {
    const alertId = '0190b6c4-5f1e-7c3a-9d2b-0000000000aa';
    const byAlert: NotificationInput = {
      title: INPUT.title,
      summary: INPUT.summary,
      severity: 'high',
      alert_id: alertId,
    };
    expect(dedupKey(byAlert)).toBe(`aisoc/alert/${alertId}`);
    const plain = { title: 'x', summary: 'y', severity: 'low' } as const;
    expect(dedupKey(plain)).toBe(dedupKey({ ...plain }));
    expect(dedupKey(plain)).not.toBe(dedupKey({ ...plain, title: 'z' }));
    expect(dedupKey(plain)).toMatch(/^aisoc\/notification\/[0-9a-f]{32}$/);
  });

  it('refuses to send the routing key over plain HTTP to another host', () => {
    expect(() =>
      pagerDutyFactory.create(
        { events_url: 'http://events.example.com/v2/enqueue' },
        { logger: silentLogger(), env },
      ),
    ).toThrow(/events_url: must use https/);
  });

  it('retries 429 and 5xx, then succeeds; a 400 is final and typed', async () => {
    let n = 0;
    await server.close();
    server = await startReceiver((_req, res) => {
      n++;
      if (n === 1) return json(res, 429, { status: 'throttled' }, { 'retry-after': '0' });
      if (n === 2) return json(res, 503, { status: 'unavailable' });
      json(res, 202, {
        status: 'success',
        message: 'Event processed',
        dedup_key: `aisoc/incident/${INCIDENT}`,
      });
    });
    expect((await action().execute(INPUT, run)).status).toBe('succeeded');
    expect(server.received).toHaveLength(3);

    await server.close();
    server = await startReceiver((_req, res) =>
      json(res, 400, { status: 'invalid event', errors: ["'payload.summary' is missing"] }),
    );
    const err = await action()
      .execute(INPUT, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_FAILED');
    expect((err as AisocError).details).toMatchObject({ http_status: 400 });
    expect(server.received).toHaveLength(1);
  });
});
