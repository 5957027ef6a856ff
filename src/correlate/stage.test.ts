import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, postgresAvailable } from '../../test/helpers/postgres.ts';
import { type AppConfig, loadConfig } from '../app-config.ts';
import { buildDetectors } from '../detect/index.ts';
import { replaySync } from '../detect/replay.ts';
import { type DetectOutput, type Detector, isWindowFeed } from '../detect/types.ts';
import type { AnyStage, StageContext } from '../pipeline/stage.ts';
import { eventStages } from '../runtime.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import { SourceRegistry } from '../sources/index.ts';
import { openStore, type Store } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { CORRELATE_INBOX, TRIAGE_TOPIC } from './index.ts';

/*
 * The detect and correlate stages as workers run them: each "process" is its
 * own stages (its own detectors, windows and correlator) over its own Store;
 * detect outputs cross to correlate as JSON, as they cross a stream. The
 * alerts and incidents must not depend on which process got which batch, on
 * the order batches arrive, on a batch delivered twice, or on a restart.
 */

const config: AppConfig = loadConfig({ env: {}, overrides: { log_level: 'silent' } });
const sources = new SourceRegistry({}, silentLogger());
const BRUTE = '29df447a-321e-44b9-aec8-2efe5895ad40';
const THEN_LOGIN = 'b90db972-087e-447d-b1f0-c725885c679a';

async function detectors(cfg: AppConfig = config): Promise<Detector[]> {
  return buildDetectors(cfg.detect, {
    logger: silentLogger(),
    metrics: createMetrics({ defaultMetrics: false }),
    detect: cfg.detect,
  });
}

/** One worker: its own stages over its own store. */
interface Worker {
  detect: AnyStage;
  correlate: AnyStage;
  ctx: StageContext;
}

async function worker(store: Store, cfg: AppConfig = config): Promise<Worker> {
  const [detect, correlate] = eventStages(cfg, await detectors(cfg));
  return {
    detect: detect!,
    correlate: correlate!,
    ctx: { store, logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }) },
  };
}

/** Detect a batch on `w`; the outputs as they arrive on the other side of a stream. */
async function detectOn(w: Worker, events: NormalisedEvent[]): Promise<DetectOutput[]> {
  const { outputs } = await w.detect.process(events, w.ctx);
  return JSON.parse(JSON.stringify(outputs)) as DetectOutput[];
}

async function correlateOn(w: Worker, outputs: DetectOutput[]): Promise<void> {
  const r = await w.correlate.process(outputs, w.ctx);
  expect(r.rejected ?? []).toEqual([]);
}

function syslog(lines: string[]): NormalisedEvent[] {
  const out: NormalisedEvent[] = [];
  for (const item of replaySync([{ name: 'mem', source: 'syslog', records: lines }], { sources }))
    if (item.kind === 'events') out.push(...item.events);
  return out;
}

const pad = (n: number) => String(n).padStart(2, '0');
/** `n` failed SSH logins from `ip`, two seconds apart from `startSecond` past 07:10. */
const failures = (
  ip: string,
  n: number,
  startSecond = 0,
  user: (i: number) => string = (i) => (i % 2 ? 'root' : 'admin'),
) =>
  Array.from({ length: n }, (_, i) => {
    const s = startSecond + 2 * i;
    return `<38>1 2026-03-09T07:${pad(10 + Math.floor(s / 60))}:${pad(s % 60)}Z bastion-01 sshd ${5000 + i} - - Failed password for ${user(i)} from ${ip} port ${40000 + i} ssh2`;
  });
const success = (ip: string, second: number) =>
  `<38>1 2026-03-09T07:${pad(10 + Math.floor(second / 60))}:${pad(second % 60)}Z bastion-01 sshd 6000 - - Accepted password for root from ${ip} port 41000 ssh2`;

/** A CloudTrail record by mallory; StopLogging raises an alert of our pack. */
function cloudtrail(id: number, eventName: string, minute: number): NormalisedEvent[] {
  const record = {
    eventVersion: '1.08',
    eventID: `5e0c1f1a-0000-4000-8000-0000000001${pad(id)}`,
    eventTime: `2026-03-09T08:${pad(minute)}:00Z`,
    eventSource: eventName === 'StopLogging' ? 'cloudtrail.amazonaws.com' : 's3.amazonaws.com',
    eventName,
    awsRegion: 'eu-west-1',
    sourceIPAddress: '192.0.2.44',
    recipientAccountId: '111122223333',
    userIdentity: { type: 'IAMUser', accountId: '111122223333', userName: 'mallory' },
    requestParameters: { name: 'main' },
  };
  const out: NormalisedEvent[] = [];
  for (const item of replaySync([{ name: 'ct', source: 'cloudtrail', records: [record] }], { sources }))
    if (item.kind === 'events') out.push(...item.events);
  return out;
}

/** A CloudTrail call by `user` at `minute` past 09:00 (the noise-control runs). */
function call(
  id: number,
  user: string,
  eventName: string,
  minute: number,
  extra: object = {},
): NormalisedEvent[] {
  const record = {
    eventVersion: '1.08',
    eventID: `7a0c1f1a-0000-4000-8000-0000000${String(id).padStart(5, '0')}`,
    eventTime: `2026-03-09T09:${pad(minute)}:00Z`,
    eventSource:
      eventName === 'StopLogging'
        ? 'cloudtrail.amazonaws.com'
        : eventName === 'ListBuckets'
          ? 's3.amazonaws.com'
          : 'ec2.amazonaws.com',
    eventName,
    awsRegion: 'eu-west-1',
    sourceIPAddress: '192.0.2.44',
    userAgent: 'aws-cli/2.15.0 Python/3.11.6',
    recipientAccountId: '111122223333',
    userIdentity: {
      type: 'IAMUser',
      accountId: '111122223333',
      arn: `arn:aws:iam::111122223333:user/${user}`,
      userName: user,
    },
    requestParameters:
      eventName === 'DescribeInstanceAttribute'
        ? { instanceId: 'i-1', attribute: 'userData' }
        : { name: 'main' },
    ...extra,
  };
  const out: NormalisedEvent[] = [];
  for (const item of replaySync([{ name: 'ct', source: 'cloudtrail', records: [record] }], { sources }))
    if (item.kind === 'events') out.push(...item.events);
  return out;
}

/** Ten minutes of learning, then a familiar call, a call new for a known identity, and a new identity. */
function noiseInput(): NormalisedEvent[] {
  return [
    ...call(1, 'mallory', 'ListBuckets', 0),
    ...call(2, 'mallory', 'StopLogging', 1),
    ...call(3, 'mallory', 'ListBuckets', 8),
    // After the learning window (10 minutes from 09:00).
    ...call(4, 'mallory', 'StopLogging', 15),
    ...call(5, 'mallory', 'DescribeInstanceAttribute', 16),
    ...call(6, 'eve', 'DescribeInstanceAttribute', 17),
  ];
}

const noiseConfig = loadConfig({
  env: {},
  // Alerts fold only within a minute here, so each call below is an alert of its own.
  overrides: {
    log_level: 'silent',
    detect: { noise: { learning_window_ms: 10 * 60_000 } },
    correlate: { dedupe_window_ms: 60_000 },
  },
});

/** The level of each alert's detection, with the rule's own and the rarity verdict, by rule title and user. */
async function levels(store: Store) {
  const alerts = (await store.alerts.list({ limit: 1000 })).items;
  return alerts
    .flatMap((a) =>
      a.detections.map((d) => ({
        rule: d.rule_title,
        user: a.entities.find((e) => e.type === 'user')?.value,
        first: a.first_seen,
        level: d.level,
        rule_level: d.rule_level ?? null,
        rarity: d.rarity?.verdict ?? null,
      })),
    )
    .sort((x, y) => x.first.localeCompare(y.first) || x.rule.localeCompare(y.rule));
}

/** The input of the equality runs: two brute forces (one then a login), repeated alerts that fold, quiet traffic. */
function input(): NormalisedEvent[] {
  return [
    ...syslog([...failures('203.0.113.77', 10), success('203.0.113.77', 40)]),
    ...syslog(failures('198.51.100.9', 10, 100, (i) => `guess${i}`)),
    ...syslog(failures('192.0.2.200', 4, 200)),
    ...cloudtrail(1, 'StopLogging', 0),
    ...cloudtrail(2, 'ListBuckets', 1),
    ...cloudtrail(3, 'StopLogging', 5),
    ...cloudtrail(4, 'StopLogging', 9),
  ];
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Alerts and incidents without what differs between runs by construction (ids, wall-clock times). */
async function snapshot(store: Store) {
  const alerts = (await store.alerts.list({ limit: 1000 })).items;
  const incidents = (await store.incidents.list({ limit: 1000 })).items;
  const fpOf = new Map(alerts.map((a) => [a.id, a.fingerprint]));
  return {
    alerts: alerts
      .map((a) => ({
        fingerprint: a.fingerprint,
        rules: a.detections.map((d) => d.rule_id).sort(),
        count: a.count,
        events: [...a.event_ids].sort(),
        status: a.status,
        severity: a.severity,
        priority: a.priority,
        first_seen: a.first_seen,
        last_seen: a.last_seen,
        incident: incidents
          .find((i) => i.id === a.incident_id)
          ?.alert_ids.map((id) => fpOf.get(id))
          .sort(),
      }))
      .sort((x, y) => x.fingerprint.localeCompare(y.fingerprint)),
    incidents: incidents
      .map((i) => ({
        alerts: i.alert_ids.map((id) => fpOf.get(id)).sort(),
        alert_count: i.alert_count,
        priority: i.priority,
        severity: i.severity,
        first_seen: i.first_seen,
        last_seen: i.last_seen,
        entities: i.entities.map((e) => `${e.type}:${e.value}`).sort(),
      }))
      .sort((x, y) => String(x.alerts).localeCompare(String(y.alerts))),
  };
}

/** Everything a redelivery must leave as it was, wall-clock times included. */
async function state(store: Store) {
  return {
    alerts: (await store.alerts.list({ limit: 1000 })).items,
    incidents: (await store.incidents.list({ limit: 1000 })).items,
    triage: await store.work.count(TRIAGE_TOPIC),
    windows: await store.correlation.count(),
    baselines: await store.baselines.list(),
  };
}

/** The SSH brute-force alerts about one address. */
const bruteForces = async (store: Store, ip: string) =>
  (await store.alerts.list({ limit: 1000 })).items.filter(
    (a) => a.detections[0]!.rule_id === BRUTE && a.entities.some((e) => e.value === ip),
  );

describe('the correlate stage on the embedded store', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({});
  });
  afterAll(async () => {
    await store?.close();
  });

  it('changes nothing when a batch is delivered again: no count + 1, no incident update, no triage item, no window step', async () => {
    const w = await worker(store);
    const first = await detectOn(w, [
      ...syslog(failures('203.0.113.10', 6)),
      ...cloudtrail(10, 'StopLogging', 20),
      ...cloudtrail(11, 'StopLogging', 21),
    ]);
    expect(first.filter(isWindowFeed)).toHaveLength(6);
    expect(first.filter((o) => 'kind' in o && o.kind === 'baseline_feed')).toHaveLength(1);
    await correlateOn(w, first);
    const before = await state(store);
    expect(before.alerts.map((a) => a.count)).toEqual([2]);
    expect(before.windows).toBeGreaterThan(0);
    expect(before.baselines.find((r) => r.dim === 'api' && r.value === 'cloudtrail:StopLogging')?.count).toBe(
      2,
    );
    // Delivered again, whole and in part, and to another process.
    await correlateOn(w, first);
    await correlateOn(w, first.slice(2));
    await correlateOn(await worker(store), first);
    expect(await state(store)).toEqual(before);
    // The redelivered failures were not counted again: four more reach ten, not two.
    await correlateOn(w, await detectOn(w, syslog(failures('203.0.113.10', 2, 20))));
    expect(await bruteForces(store, '203.0.113.10')).toEqual([]);
    await correlateOn(w, await detectOn(w, syslog(failures('203.0.113.10', 2, 30))));
    const brute = await bruteForces(store, '203.0.113.10');
    expect(brute).toHaveLength(1);
    expect(new Set(brute[0]!.event_ids).size).toBe(10);
    expect(await store.inbox.count(CORRELATE_INBOX)).toBeGreaterThan(10);
  });

  it('forgets in memory what a failed batch did: the batch delivered again counts once', async () => {
    const w = await worker(store);
    const events = syslog(failures('203.0.113.50', 10));
    const first = await detectOn(w, events.slice(0, 6));
    // The batch runs, then its commit fails: nothing of it is stored, and the windows in memory ran ahead.
    const lost = Object.create(store) as Store;
    lost.transaction = (fn) =>
      store.transaction(async (tx) => {
        await fn(tx);
        throw new Error('the connection dropped before the commit');
      });
    await expect(w.correlate.process(first, { ...w.ctx, store: lost })).rejects.toThrow('connection dropped');
    await correlateOn(w, first);
    expect(await bruteForces(store, '203.0.113.50')).toEqual([]);
    await correlateOn(w, await detectOn(w, events.slice(6)));
    const brute = await bruteForces(store, '203.0.113.50');
    expect(brute.map((a) => [...a.event_ids].sort())).toEqual([events.map((e) => e.id).sort()]);
  });

  it('fires the SSH brute force whose events go through three detect instances and arrive out of order', async () => {
    const workers = [await worker(store), await worker(store), await worker(store)];
    const events = syslog(failures('203.0.113.20', 12));
    // Shuffled into batches of two, each detected by another worker, correlated in the reverse order.
    const order = [5, 0, 9, 3, 11, 7, 1, 10, 4, 8, 2, 6].map((i) => events[i]!);
    const outputs: DetectOutput[][] = [];
    for (const [i, batch] of chunks(order, 2).entries()) outputs.push(await detectOn(workers[i % 3]!, batch));
    for (const [i, out] of outputs.reverse().entries()) await correlateOn(workers[i % 3]!, out);
    const alerts = await bruteForces(store, '203.0.113.20');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.event_ids).toHaveLength(10);
    expect(alerts[0]!.count).toBe(1);
  });

  it('refuses what is not a detect output, and a window step no windows here take', async () => {
    const w = await worker(store);
    const step = (await detectOn(w, syslog(failures('203.0.113.30', 1)))).find(isWindowFeed)!;
    const r = await w.correlate.process(
      [
        { nonsense: true },
        { ...step, detector: 'elsewhere' },
        'text',
        null,
        {
          kind: 'baseline_feed',
          id: 'x',
          observations: [{ identity: 'a', dim: 'api', value: 'v', first: 'then' }],
        },
        { kind: 'baseline_feed', observations: [] },
        {
          kind: 'baseline_feed',
          id: 'y',
          observations: [
            { identity: 'a', dim: 'password', value: 'v', first: 1, last: 1, count: 1, earliest: [1] },
          ],
        },
      ] as unknown[],
      w.ctx,
    );
    expect(r.outputs).toEqual([]);
    expect(r.rejected?.map((x) => x.code)).toEqual([
      'AISOC_ERR_VALIDATION',
      'AISOC_ERR_CONFIG',
      'AISOC_ERR_VALIDATION',
      'AISOC_ERR_VALIDATION',
      'AISOC_ERR_VALIDATION',
      'AISOC_ERR_VALIDATION',
      'AISOC_ERR_VALIDATION',
    ]);
    expect(await store.baselines.list()).not.toContainEqual(expect.objectContaining({ identity: 'a' }));
  });
});

describe('noise control in the correlate stage', () => {
  it('lowers a familiar call, raises a call new for a known identity, leaves learning and new identities as they are', async () => {
    const store = await openStore({});
    try {
      const w = await worker(store, noiseConfig);
      for (const b of chunks(noiseInput(), 2)) await correlateOn(w, await detectOn(w, b));
      expect(await levels(store)).toEqual([
        // 09:01, learning: the rule's level (test status caps nothing below high).
        expect.objectContaining({
          rule: 'CloudTrail trail stopped or deleted',
          first: '2026-03-09T09:01:00.000Z',
          level: 'high',
          rarity: 'learning',
        }),
        // 09:15: mallory stopped logging before, with the same tool, from the same region: one level lower.
        expect.objectContaining({
          rule: 'CloudTrail trail stopped or deleted',
          first: '2026-03-09T09:15:00.000Z',
          level: 'medium',
          rule_level: 'high',
          rarity: 'familiar',
        }),
        // 09:16: mallory, watched for sixteen minutes, reads user data for the first time: one level higher.
        expect.objectContaining({
          rule: 'EC2 instance user data read',
          user: 'mallory',
          level: 'medium',
          rule_level: 'low',
          rarity: 'new',
        }),
        // 09:17: eve is new; her own history is not a learning window long, so nothing says what is rare for her.
        expect.objectContaining({
          rule: 'EC2 instance user data read',
          user: 'eve',
          level: 'low',
          rule_level: null,
          rarity: 'new',
        }),
      ]);
      const familiar = (await store.alerts.list({ limit: 100 })).items
        .flatMap((a) => a.detections)
        .find((d) => d.rarity?.verdict === 'familiar');
      expect(familiar?.level_reasons?.join(' ')).toMatch(/lowered from high/);
      expect(familiar?.rarity?.identity).toBe('arn:aws:iam::111122223333:user/mallory');
    } finally {
      await store.close();
    }
  });

  it('keeps no baselines when it is off, and moves no level', async () => {
    const store = await openStore({});
    try {
      const off = loadConfig({
        env: {},
        overrides: { log_level: 'silent', detect: { noise: { enabled: false } } },
      });
      const w = await worker(store, off);
      const out = await detectOn(w, noiseInput());
      expect(out.some((o) => 'kind' in o && o.kind === 'baseline_feed')).toBe(false);
      await correlateOn(w, out);
      expect(await store.baselines.count()).toBe(0);
      expect((await levels(store)).every((l) => l.rule_level === null && l.rarity === null)).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe('the correlation windows of processes that fall behind', () => {
  const stores: Store[] = [];
  afterAll(async () => {
    for (const st of stores) await st.close();
  });

  it('reloads every window when it is behind what was forgotten, and only what changed otherwise', async () => {
    const store = await openStore({});
    stores.push(store);
    // Two groups per correlation, so a third evicts the least recently updated.
    const small = loadConfig({
      env: {},
      overrides: { log_level: 'silent', detect: { sigma: { correlation_max_groups: 2 } } },
    });
    const [a, b] = [await worker(store, small), await worker(store, small)];
    // b counts three failures from .70; a then sees .71 and .72, which evicts .70 (its deletion saved).
    await correlateOn(b, await detectOn(b, syslog(failures('203.0.113.70', 3))));
    await correlateOn(
      a,
      await detectOn(a, syslog([...failures('203.0.113.71', 1), ...failures('203.0.113.72', 1)])),
    );
    // b, one save behind, learns the deletion: seven more failures from .70 are seven, not ten.
    await correlateOn(b, await detectOn(b, syslog(failures('203.0.113.70', 7, 10))));
    expect(await bruteForces(store, '203.0.113.70')).toEqual([]);

    // Again, but the deletion is forgotten (as a thousand saves later) before b looks: b reloads every window.
    await correlateOn(b, await detectOn(b, syslog(failures('203.0.113.73', 3))));
    await correlateOn(
      a,
      await detectOn(a, syslog([...failures('203.0.113.74', 1), ...failures('203.0.113.75', 1)])),
    );
    const head = await store.transaction((tx) => tx.correlation.lock());
    expect(
      await store.transaction((tx) => tx.correlation.pruneDeleted(head.version + 1, 100_000)),
    ).toBeGreaterThan(0);
    await correlateOn(b, await detectOn(b, syslog(failures('203.0.113.73', 7, 10))));
    expect(await bruteForces(store, '203.0.113.73')).toEqual([]);
    // Whereas ten in one process's windows fire.
    await correlateOn(a, await detectOn(a, syslog(failures('203.0.113.76', 10))));
    expect(await bruteForces(store, '203.0.113.76')).toHaveLength(1);
  });
});

describe('the correlation windows across a restart', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'aisoc-windows-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('restores the windows: a brute force split by a restart still fires, once', async () => {
    const events = syslog(failures('203.0.113.40', 10));
    let store = await openStore({ dataDir: dir });
    let w = await worker(store);
    await correlateOn(w, await detectOn(w, events.slice(0, 6)));
    expect(await bruteForces(store, '203.0.113.40')).toEqual([]);
    await store.close();
    store = await openStore({ dataDir: dir });
    try {
      w = await worker(store);
      await correlateOn(w, await detectOn(w, events.slice(6)));
      const brute = await bruteForces(store, '203.0.113.40');
      expect(brute.map((a) => [...a.event_ids].sort())).toEqual([events.map((e) => e.id).sort()]);
    } finally {
      await store.close();
    }
  });
});

describe.runIf(await postgresAvailable())('the correlate stage shared by processes on PostgreSQL', () => {
  const dbs: Array<{ url: string; drop: () => Promise<void> }> = [];
  const stores: Store[] = [];
  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {});
    for (const d of dbs) await d.drop();
  });
  async function database(): Promise<string> {
    const db = await freshDatabase();
    dbs.push(db);
    return db.url;
  }
  async function open(url: string): Promise<Store> {
    const s = await openStore({ databaseUrl: url });
    stores.push(s);
    return s;
  }

  it('gives the alerts and incidents of one process over all of it, with the input split over two running at once', async () => {
    const events = input();
    const batches = chunks(events, 3);

    const one = await open(await database());
    const single = await worker(one);
    for (const b of batches) await correlateOn(single, await detectOn(single, b));
    const expected = await snapshot(one);
    expect(expected.alerts.map((a) => a.rules[0])).toEqual(expect.arrayContaining([BRUTE, THEN_LOGIN]));
    expect(expected.alerts.some((a) => a.count === 3)).toBe(true);

    const url = await database();
    const [a, b] = [await worker(await open(url)), await worker(await open(url))];
    // Each process detects every other batch; its detect outputs go to either correlate stage, in a shuffled
    // order, and a few are delivered twice (once to each process), all while both run at once.
    const outputs: DetectOutput[][] = [];
    for (const [i, batch] of batches.entries()) outputs.push(await detectOn(i % 2 ? a : b, batch));
    const order = outputs.map((_, i) => (i * 7) % outputs.length);
    expect(new Set(order).size).toBe(outputs.length);
    const forA = order.filter((_, i) => i % 2 === 0).map((i) => outputs[i]!);
    const forB = order.filter((_, i) => i % 2 === 1).map((i) => outputs[i]!);
    forB.push(outputs[0]!, outputs[3]!);
    forA.push(outputs[1]!);
    const run = async (w: Worker, list: DetectOutput[][]) => {
      for (const out of list) await correlateOn(w, out);
    };
    await Promise.all([run(a, forA), run(b, forB)]);
    expect(await snapshot(a.ctx.store)).toEqual(expected);
  });

  it('shares one baseline among processes: the levels of one process over the input split over two running at once', async () => {
    const events = noiseInput();
    const one = await open(await database());
    const single = await worker(one, noiseConfig);
    for (const b of chunks(events, 1)) await correlateOn(single, await detectOn(single, b));
    const expected = await levels(one);
    expect(expected.map((l) => l.rarity)).toEqual(['learning', 'familiar', 'new', 'new']);

    const url = await database();
    const [a, b] = [await worker(await open(url), noiseConfig), await worker(await open(url), noiseConfig)];
    // In event-time order, alternately to each process, each batch delivered twice (once to each).
    for (const [i, e] of events.entries()) {
      const out = await detectOn(i % 2 ? a : b, [e]);
      await Promise.all([correlateOn(a, out), correlateOn(b, out)]);
    }
    expect(await levels(a.ctx.store)).toEqual(expected);
    const rows = await a.ctx.store.baselines.list();
    expect(rows.find((r) => r.identity.endsWith('user/mallory') && r.dim === 'identity')?.count).toBe(5);
  });

  it('takes the stage lock: no two batches correlate at once, in one process or two, so one fingerprint is one alert', async () => {
    const url = await database();
    const [a, b] = [await worker(await open(url)), await worker(await open(url))];
    // Twenty repeats of one alert (same rule, same entities), half to each process, correlated at once.
    const repeats = Array.from({ length: 20 }, (_, i) => cloudtrail(30 + i, 'StopLogging', 10 + i)).flat();
    const outs = await Promise.all(repeats.map((e) => detectOn(a, [e])));
    // All at once: each process runs several batches concurrently, and the two processes race.
    await Promise.all(outs.map((o, i) => correlateOn(i % 2 ? b : a, o)));
    const alerts = (await a.ctx.store.alerts.list({ limit: 100 })).items;
    expect(alerts.map((x) => x.count)).toEqual([20]);
    const incidents = (await a.ctx.store.incidents.list({ limit: 100 })).items;
    expect(incidents).toHaveLength(1);
    expect(incidents[0]!.alert_ids).toEqual([alerts[0]!.id]);
  });
});
