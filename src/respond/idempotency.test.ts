import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAlert, makeEvent, makeIncident } from '../../test/helpers/builders.ts';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import { tempDir } from '../../test/helpers/runtime.ts';
import { AnalystService } from '../analyst/service.ts';
import { loadConfig } from '../app-config.ts';
import { TRIAGE_TOPIC } from '../correlate/index.ts';
import { pipelineMetrics } from '../pipeline/metrics.ts';
import { openStore, type Store } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import type { ActionOutcome } from './port.ts';
import { actionInfos, createResponse } from './setup.ts';
import { RecordingPort } from './testing/fake-port.ts';

const pgReady = await postgresAvailable();

/** The recording port, with a gate that holds `test.notify` inside its call until the test opens it. */
class GatedPort extends RecordingPort {
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  /** Calls of `test.notify` that reached the gate. */
  entered = 0;
  hold(): void {
    this.gate = new Promise((r) => {
      this.open = r;
    });
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }
  override async execute(type: string, input: unknown, opts: { dryRun: boolean }): Promise<ActionOutcome> {
    if (type === 'test.notify' && this.gate) {
      this.entered++;
      await this.gate;
    }
    return super.execute(type, input, opts);
  }
}

/** An incident playbook with a step of each kind that must happen once: a case, a notification, an action. */
const PLAYBOOK = `
id: respond-once
name: Respond once
trigger:
  on: incident
  when: { above_threshold: true }
steps:
  - id: analyse
    uses: core.analyse
  - id: case
    uses: case.create
  - id: notify
    uses: test.notify
    with: { message: "{{ incident.title }}" }
  - id: contain
    uses: test.disable_key
    with: { access_key_id: "{{ entities.access_key | first }}" }
`;

const { dir, cleanup } = tempDir('aisoc-idem-');
writeFileSync(join(dir, 'respond-once.yaml'), PLAYBOOK);
afterAll(cleanup);

const config = loadConfig({ env: {}, overrides: {} });

/** The response side as a triage worker process builds it (setup.ts), over `store`. */
function responseOn(store: Store, port: RecordingPort, opts: { leaseMs?: number; metrics?: Metrics } = {}) {
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: false });
  const logger = silentLogger();
  return createResponse({
    store,
    logger,
    metrics,
    analyst: new AnalystService({ store, assets: config.analyst.assets, metrics, logger }),
    port,
    assets: config.analyst.assets,
    playbookDirs: [dir],
    knownActions: actionInfos(port.types().map((t) => port.info(t)!)),
    threshold: 80,
    dryRun: false,
    workerConcurrency: 2,
    ...(opts.leaseMs === undefined ? {} : { workerLeaseMs: opts.leaseMs }),
  });
}

let seeded = 0;

/**
 * An incident above the threshold, with its alert and event. Each has its own key and title: equal action
 * inputs across incidents are one request by design (the idempotency key), which is not what is tested here.
 */
async function seedIncident(store: Store): Promise<string> {
  const key = `AKIAEXAMPLE${String(++seeded).padStart(9, '0')}`;
  const e = makeEvent({
    src_endpoint: { ip: '203.0.113.45' },
    actor: { user: { name: 'dev-alice', credential_uid: key } },
  });
  await store.events.insert([e]);
  const inc = makeIncident({ priority: 95, alert_count: 1 });
  inc.title = `Key ${key} used from a VPS`;
  const a = makeAlert({
    priority: 95,
    event_ids: [e.id],
    incident_id: inc.id,
    entities: [
      { type: 'access_key', value: key },
      { type: 'user', value: 'dev-alice' },
    ],
  });
  inc.alert_ids = [a.id];
  inc.entities = a.entities;
  await store.alerts.upsert([a]);
  await store.incidents.upsert([inc]);
  return inc.id;
}

/** What the responders would see: cases of the incident, notifications and actions run, requests made. */
async function effects(store: Store, port: RecordingPort, incidentId: string) {
  const cases = (await store.cases.list({ limit: 1000 })).items.filter((c) => c.incident_id === incidentId);
  const runs = (await store.runs.forSubject('incident', incidentId)).filter(
    (r) => r.playbook === 'respond-once',
  );
  const requests = runs[0] ? (await store.actions.list({ run_id: runs[0].id, limit: 1000 })).items : [];
  return {
    cases: cases.length,
    notifications: port.executions('test.notify').length,
    containments: port.executions('test.disable_key').length,
    requests: requests.length,
    runs: runs.map((r) => r.status),
  };
}

const ONCE = { cases: 1, notifications: 1, containments: 1, requests: 2, runs: ['completed'] };

describe('triage is idempotent: a second pass over the same work creates nothing twice', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({});
  });
  afterAll(async () => {
    await store.close();
  });

  it('processing an item again, or after a crash lost every checkpoint, opens no second case and sends nothing twice', async () => {
    const port = new RecordingPort();
    const r = responseOn(store, port);
    const incidentId = await seedIncident(store);
    await r.worker.start();
    try {
      await store.work.enqueue(TRIAGE_TOPIC, `incident:${incidentId}`, { type: 'incident', id: incidentId });
      r.worker.wake();
      await r.worker.idle();
      expect(await effects(store, port, incidentId)).toEqual(ONCE);
      const [run] = await store.runs.forSubject('incident', incidentId);
      const first = run!.steps;

      // The same item queued again (correlation saw the incident again).
      await store.work.enqueue(TRIAGE_TOPIC, `incident:${incidentId}`, { type: 'incident', id: incidentId });
      r.worker.wake();
      await r.worker.idle();
      expect(await effects(store, port, incidentId)).toEqual(ONCE);

      // A worker that did every step and died before saving any checkpoint: the run is back at its start. Meanwhile
      // a person closed the case and the incident's title changed, so the notification would read differently.
      await store.runs.save({ ...run!, status: 'running', next_step: 0, steps: {} });
      const [c] = (await store.cases.list({ limit: 1000 })).items.filter((x) => x.incident_id === incidentId);
      await r.cases.update(c!.id, { status: 'closed', resolution: 'true_positive' }, 'sam');
      await store.incidents.patch(incidentId, { status: 'open' }, new Date().toISOString());
      const inc = (await store.incidents.get(incidentId))!;
      await store.incidents.upsert([{ ...inc, title: `${inc.title} (3 alerts)` }]);
      await store.work.enqueue(TRIAGE_TOPIC, `incident:${incidentId}`, { type: 'incident', id: incidentId });
      r.worker.wake();
      await r.worker.idle();
      expect(await effects(store, port, incidentId)).toEqual(ONCE);
      const [again] = await store.runs.forSubject('incident', incidentId);
      expect(again!.steps.case!.output).toMatchObject({ case_id: c!.id, created: false });
      expect(again!.steps.notify!.request_id).toBe(first.notify!.request_id);
      expect(again!.steps.contain!.request_id).toBe(first.contain!.request_id);
      expect(await store.work.count(TRIAGE_TOPIC)).toBe(0);
      expect((await store.deadLetters.list({ source: 'pipeline' })).total).toBe(0);
    } finally {
      await r.worker.stop();
    }
  });

  it('a run resumed while another pass runs its action waits for it instead of failing or repeating it', async () => {
    const port = new GatedPort();
    const r = responseOn(store, port);
    const incidentId = await seedIncident(store);
    port.hold();
    const first = r.engine.process({ type: 'incident', id: incidentId });
    await until(() => port.entered === 1);
    // The resume of the same run (an approval elsewhere, a `run:` item) while the notification is being sent.
    const [run] = await store.runs.forSubject('incident', incidentId);
    const second = await r.engine.resume(run!.id);
    expect(second!.status).toBe('running');
    expect(second!.steps.notify).toBeUndefined();
    port.release();
    expect((await first).map((x) => x.status)).toEqual(['completed']);
    expect(await effects(store, port, incidentId)).toEqual(ONCE);
  });
});

describe.runIf(pgReady)('triage workers in two processes on one PostgreSQL database', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let one: Store;
  let two: Store;
  beforeAll(async () => {
    db = await freshDatabase();
    one = await openStore({ databaseUrl: db.url });
    two = await openStore({ databaseUrl: db.url });
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await db?.drop();
  });

  it('two workers racing over one incident open one case and send one notification and one action', async () => {
    const port = new RecordingPort();
    const a = responseOn(one, port);
    const b = responseOn(two, port);
    for (let round = 0; round < 3; round++) {
      const before = {
        notifications: port.executions('test.notify').length,
        containments: port.executions('test.disable_key').length,
      };
      const incidentId = await seedIncident(one);
      await Promise.all([
        a.engine.process({ type: 'incident', id: incidentId }),
        b.engine.process({ type: 'incident', id: incidentId }),
        a.engine.process({ type: 'incident', id: incidentId }),
        b.engine.process({ type: 'incident', id: incidentId }),
      ]);
      const [run] = await one.runs.forSubject('incident', incidentId);
      // Every pass stopped or finished; one of them (or a later pass) completes the run.
      if (run!.status !== 'completed') await a.engine.process({ type: 'incident', id: incidentId });
      const seen = await effects(one, port, incidentId);
      expect({
        ...seen,
        notifications: seen.notifications - before.notifications,
        containments: seen.containments - before.containments,
      }).toEqual(ONCE);
    }
  });

  it('a worker whose lease was taken over leaves the item to the new holder, and the work happens once', async () => {
    const port = new GatedPort();
    const metricsA = createMetrics({ defaultMetrics: false });
    // A lease that is over as soon as it is given: the other process may take the item at once.
    const a = responseOn(one, port, { leaseMs: 0, metrics: metricsA });
    const metricsB = createMetrics({ defaultMetrics: false });
    const b = responseOn(two, port, { metrics: metricsB });
    const incidentId = await seedIncident(one);
    port.hold();
    await a.worker.start();
    try {
      await one.work.enqueue(TRIAGE_TOPIC, `incident:${incidentId}`, { type: 'incident', id: incidentId });
      a.worker.wake();
      await until(() => port.entered === 1);
      // The other process starts while A is inside the notification: it claims the item (A's lease has run out),
      // finds the notification under way and gives the item back for later; A finds its claim gone.
      await b.worker.start();
      b.worker.wake();
      await until(async () => (await triageItems(metricsB, 'deferred')) >= 1);
      port.release();
      await until(
        async () =>
          (await one.work.count(TRIAGE_TOPIC)) === 0 &&
          (await one.runs.forSubject('incident', incidentId))[0]?.status === 'completed',
      );
      await until(async () => (await triageItems(metricsA, 'lease_lost')) >= 1);
      expect(await effects(one, port, incidentId)).toMatchObject(ONCE);
      expect((await one.deadLetters.list({ source: 'pipeline' })).total).toBe(0);
    } finally {
      port.release();
      await a.worker.stop();
      await b.worker.stop();
    }
  });
});

/** Triage items a worker counted with this outcome. */
async function triageItems(metrics: Metrics, outcome: string): Promise<number> {
  const m = await pipelineMetrics(metrics).stageItems.get();
  return m.values.find((v) => v.labels.stage === 'triage' && v.labels.outcome === outcome)?.value ?? 0;
}

/** Wait for a condition, with a generous deadline (never a fixed sleep as synchronisation). */
async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('The condition did not hold in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
