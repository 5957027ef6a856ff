import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detector } from '../src/detect/types.ts';
import { verifyWebhook } from '../src/respond/actions/notify/signature.ts';
import { type Receiver, startReceiver } from '../src/respond/actions/testing/servers.ts';
import type { Alert } from '../src/schema/alert.ts';
import type { NormalisedEvent } from '../src/schema/event.ts';
import { SOURCE_FACTORIES } from '../src/sources/index.ts';
import { normaliseText } from '../src/sources/testing/conformance.ts';
import { type TestServer, testServer } from './helpers/runtime.ts';

/**
 * What is stored can be read back: one test ingests the fixtures of every
 * registered source through `POST /ingest/:source`, lets the pipeline
 * process them, and reads every event back through every read route; a
 * second walks an SSH brute force from syslog through the playbooks.
 */

const SOURCES_DIR = join(import.meta.dirname, '../src/sources');
const ATTACK_FIXTURE = join(import.meta.dirname, '../src/knowledge/attack/fixtures/mini-attack-stix20.json');

/** Every fixture input of a source (the `*.expected.json` files are outputs). */
function fixtureInputs(type: string): Array<{ file: string; text: string }> {
  const dir = join(SOURCES_DIR, type, 'fixtures');
  return readdirSync(dir)
    .filter((f) => !f.endsWith('.expected.json') && !f.startsWith('.'))
    .sort()
    .map((file) => ({ file, text: readFileSync(join(dir, file), 'utf8') }));
}

/** An event as a reader compares it: what varies between runs removed, raw kept, through JSON. */
function comparableEvent(e: NormalisedEvent): unknown {
  const { ingested_at: _i, id, ...rest } = e;
  return JSON.parse(JSON.stringify({ ...rest, id: e.source_event_id ? id : '<random>' }));
}

/** JSON with sorted keys: the store (jsonb) does not keep key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

const byJson = (a: unknown, b: unknown) => (canonical(a) < canonical(b) ? -1 : 1);

/** Raises one alert per event (rule `readback-<event id>`), so every source's events reach the alert routes. */
const everyEvent: Detector = {
  name: 'readback',
  detect: (events) =>
    events.map((e) => ({
      detection: {
        engine: 'manual' as const,
        rule_id: `readback-${e.id}`,
        rule_title: `Read-back check for a ${e.source} event`,
        level: 'low' as const,
        tags: [],
        event_ids: [e.id],
      },
      events: [e],
    })),
};

describe('every source reads back through every read route', () => {
  let t: TestServer;
  let key: string;
  const call = (method: 'GET' | 'POST', url: string, payload?: string) =>
    t.app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${key}`,
        ...(payload === undefined ? {} : { 'content-type': 'application/octet-stream' }),
      },
      ...(payload === undefined ? {} : { payload }),
    });

  beforeAll(async () => {
    t = await testServer(
      { knowledge: { load: 'lazy', attack_path: ATTACK_FIXTURE } },
      { response: true, detectors: [everyEvent] },
    );
    key = await t.key(['ingest', 'read', 'analyst']);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('covers every registered source', () => {
    expect(t.runtime.sources.types().sort()).toEqual(SOURCE_FACTORIES.map((f) => f.type).sort());
  });

  it('stores the fixtures of every source and answers 200 with the stored content on every read route', async () => {
    const expected = new Map<string, unknown[]>();
    // Per fixture file, its first event: by id when the source has one, else by content.
    const firstOfFile: Array<{ source: string; file: string; id?: string; event: unknown }> = [];
    for (const type of t.runtime.sources.types()) {
      const source = t.runtime.sources.get(type);
      const want = new Map<string, unknown>();
      for (const { file, text } of fixtureInputs(type)) {
        const r = await call('POST', `/ingest/${type}`, text);
        expect(r.statusCode, `${type}/${file}: ${r.body}`).toBe(202);
        const events = normaliseText(source, text).events;
        expect(events.length, `${type}/${file} holds events`).toBeGreaterThan(0);
        const first = events[0]!;
        firstOfFile.push({
          source: type,
          file,
          ...(first.source_event_id ? { id: first.id } : {}),
          event: comparableEvent(first),
        });
        // An event with a source id is stored once, as it came first, however often it occurs.
        for (const e of events) {
          const k = e.source_event_id ? e.id : canonical(comparableEvent(e));
          if (!want.has(k)) want.set(k, comparableEvent(e));
        }
      }
      expected.set(type, [...want.values()].sort(byJson));
    }
    await t.runtime.runner.drain(60_000);

    const alertsList = await call('GET', '/alerts?limit=1000');
    expect(alertsList.statusCode, alertsList.body).toBe(200);
    const allAlerts = alertsList.json().items as Alert[];

    const storedEvents = new Map<string, NormalisedEvent>();
    for (const [type, want] of expected) {
      const list = await call('GET', `/events?source=${type}&limit=1000`);
      expect(list.statusCode, `${type}: ${list.body.slice(0, 300)}`).toBe(200);
      const items = list.json().items as NormalisedEvent[];
      expect(items.map(comparableEvent).sort(byJson), `GET /events?source=${type}`).toEqual(want);
      for (const e of items) {
        storedEvents.set(e.id, e);
        const one = await call('GET', `/events/${e.id}`);
        expect(one.statusCode, `GET /events/${e.id} (${type}): ${one.body.slice(0, 300)}`).toBe(200);
        expect(one.json()).toEqual(e);

        const alert = allAlerts.find((a) => a.detections.some((d) => d.rule_id === `readback-${e.id}`));
        expect(alert, `the read-back alert of ${type} event ${e.id}`).toBeDefined();
        const a = await call('GET', `/alerts/${alert!.id}`);
        expect(a.statusCode, `GET /alerts/${alert!.id} (${type}): ${a.body.slice(0, 300)}`).toBe(200);
        expect(a.json().events).toEqual([e]);
        expect(alert!.incident_id).toBeDefined();
        const inc = await call('GET', `/incidents/${alert!.incident_id}`);
        expect(inc.statusCode, `GET /incidents/${alert!.incident_id} (${type})`).toBe(200);
        expect(inc.json().alerts.map((x: Alert) => x.id)).toContain(alert!.id);
      }
    }

    // Every alert the pipeline raised (upstream, Sigma and the read-back rule) reads back with its events.
    for (const alert of allAlerts) {
      const a = await call('GET', `/alerts/${alert.id}`);
      expect(a.statusCode, `GET /alerts/${alert.id} (${alert.source}): ${a.body.slice(0, 300)}`).toBe(200);
      expect(
        a
          .json()
          .events.map((e: NormalisedEvent) => e.id)
          .sort(),
      ).toEqual(alert.event_ids.slice(0, 100).sort());
    }

    // The analyst reads the stored events of one alert per fixture file.
    for (const { source, file, id, event } of firstOfFile) {
      const stored = id
        ? storedEvents.get(id)
        : [...storedEvents.values()].find((e) => canonical(comparableEvent(e)) === canonical(event));
      expect(stored, `${source}/${file}: its first event is stored`).toBeDefined();
      const alert = allAlerts.find((a) => a.detections.some((d) => d.rule_id === `readback-${stored!.id}`))!;
      const v = await call('POST', `/alerts/${alert.id}/analyze`);
      expect(
        v.statusCode,
        `POST /alerts/${alert.id}/analyze (${source}/${file}): ${v.body.slice(0, 300)}`,
      ).toBe(200);
      const body = v.json();
      expect(body.verdict.alert_id).toBe(alert.id);
      // Evidence cites only what the analyst was given: the alert, its incident and its event.
      const given = [alert.id, alert.incident_id, stored!.id];
      const cited = (body.response.evidence as Array<{ event_ids: string[] }>).flatMap((x) => x.event_ids);
      expect(cited).toContain(stored!.id);
      for (const id of cited) expect(given, `${source}/${file}`).toContain(id);
    }
  }, 300_000);
});

describe('an SSH brute force from syslog walks the playbooks', () => {
  const SECRET = 'whsec_readback_test_0123456789abcdefghij';
  let t: TestServer;
  let receiver: Receiver;
  let key: string;

  beforeAll(async () => {
    receiver = await startReceiver((req, res) => {
      const sig = req.headers['x-aisoc-signature'];
      res.writeHead(verifyWebhook(SECRET, typeof sig === 'string' ? sig : undefined, req.body) ? 204 : 401);
      res.end();
    });
    process.env.AISOC_READBACK_WEBHOOK_URL = `${receiver.url}/hooks/soc`;
    process.env.AISOC_READBACK_WEBHOOK_SECRET = SECRET;
    t = await testServer(
      {
        knowledge: { load: 'lazy', attack_path: ATTACK_FIXTURE },
        respond: {
          actions: {
            'notify.webhook': {
              url_env: 'AISOC_READBACK_WEBHOOK_URL',
              secret_env: 'AISOC_READBACK_WEBHOOK_SECRET',
            },
          },
        },
      },
      { response: true, worker: true },
    );
    key = await t.key(['ingest', 'read', 'analyst']);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
    delete process.env.AISOC_READBACK_WEBHOOK_URL;
    delete process.env.AISOC_READBACK_WEBHOOK_SECRET;
  });

  it('analyses the incident, opens its case and notifies, reading the raw syslog lines back', async () => {
    // Twelve wrong passwords from one address, then the guess that worked.
    const lines = Array.from(
      { length: 12 },
      (_, i) =>
        `Mar  9 07:10:${String(i * 2).padStart(2, '0')} bastion-01 sshd[${5000 + i}]: Failed password for root from 203.0.113.77 port ${40000 + i} ssh2`,
    );
    lines.push(
      'Mar  9 07:10:40 bastion-01 sshd[5100]: Accepted password for root from 203.0.113.77 port 40100 ssh2',
    );
    const r = await t.app.inject({
      method: 'POST',
      url: '/ingest/syslog',
      payload: `${lines.join('\n')}\n`,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' },
    });
    expect(r.statusCode, r.body).toBe(202);
    expect(r.json().stored).toBe(13);
    await t.runtime.runner.drain(60_000);
    await t.runtime.response!.worker.idle(120_000);

    const incidents = (await t.runtime.store.incidents.list({ limit: 10 })).items;
    const incident = incidents.find((i) => i.entities.some((e) => e.value === '203.0.113.77'));
    expect(incident, JSON.stringify(incidents.map((i) => [i.title, i.priority]))).toBeDefined();
    const runs = await t.runtime.store.runs.forSubject('incident', incident!.id);
    const run = runs.find((x) => x.playbook === 'incident-response');
    expect(run, `runs: ${JSON.stringify(runs.map((x) => x.playbook))}`).toBeDefined();
    const status = (step: string) => ({
      step,
      status: run!.steps[step]?.status,
      error: run!.steps[step]?.error,
    });
    expect(status('analyse')).toEqual({ step: 'analyse', status: 'done', error: undefined });
    expect(status('case')).toEqual({ step: 'case', status: 'done', error: undefined });
    expect(status('notify-webhook')).toEqual({ step: 'notify-webhook', status: 'done', error: undefined });

    // The responders got one signed notification naming the incident.
    const notes = receiver.received.filter((x) => x.path === '/hooks/soc');
    expect(notes).toHaveLength(1);
    expect(JSON.parse(notes[0]!.body)).toMatchObject({
      type: 'aisoc.notification',
      notification: { incident_id: incident!.id },
    });

    // The raw lines read back as the lines they were.
    const a = await t.app.inject({
      method: 'GET',
      url: `/alerts/${incident!.alert_ids[0]}`,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(a.statusCode, a.body.slice(0, 300)).toBe(200);
    for (const e of a.json().events as NormalisedEvent[]) expect(lines).toContain(e.raw);
  }, 300_000);
});
