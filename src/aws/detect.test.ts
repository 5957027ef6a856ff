import { join } from 'node:path';
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cloudTrailRecords, kinesisBatch } from '../../test/helpers/aws-events.ts';
import { sharedData } from '../../test/helpers/data.ts';
import { memoryDynamo } from '../../test/helpers/memory-dynamo.ts';
import { loadConfig } from '../app-config.ts';
import { Correlator } from '../correlate/index.ts';
import { buildDetectors } from '../detect/index.ts';
import { NoiseControl } from '../detect/noise/persisted.ts';
import type { Detector } from '../detect/types.ts';
import { fingerprint, uuidv7 } from '../ids.ts';
import type { Alert } from '../schema/alert.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { Incident } from '../schema/incident.ts';
import { SourceRegistry } from '../sources/index.ts';
import { normaliseRecords } from '../sources/normalise.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { DynamoBaselines } from './baselines.ts';
import { createDetectHandler, executionName } from './detect.ts';
import { DynamoRecords } from './records.ts';
import { CorrelationState } from './state.ts';

const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/111111111111/detect-dlq';
const MACHINE = 'arn:aws:states:eu-west-1:111111111111:stateMachine:aisoc-triage';
const NOW = Date.parse('2024-08-02T09:00:00Z');
const sfn = mockClient(SFNClient);
const sqs = mockClient(SQSClient);
const stratus = sharedData('cloudtrail', 'stratus-detonation');

let detectors: Detector[];
let events: NormalisedEvent[];

beforeAll(async () => {
  const config = loadConfig({ env: {} });
  const logger = silentLogger();
  detectors = await buildDetectors(config.detect, {
    logger,
    metrics: createMetrics({ defaultMetrics: false }),
    detect: config.detect,
  });
  if (stratus) {
    const records = cloudTrailRecords(join(stratus, 'aws.persistence.iam-create-admin-user.json'));
    const source = new SourceRegistry({}, logger).get('cloudtrail');
    events = normaliseRecords(
      source,
      records.map((value) => ({ value })),
      new Date(NOW).toISOString(),
    ).events;
  }
});
afterAll(() => {
  sfn.restore();
  sqs.restore();
});

function setup(opts: { noise?: boolean } = {}) {
  const db = memoryDynamo();
  const settings = loadConfig({ env: {} }).detect.noise;
  const handler = createDetectHandler({
    records: new DynamoRecords({ db: db.client, table: 'records', eventsTtlDays: 30, now: () => NOW }),
    state: new CorrelationState({ db: db.client, table: 'state', now: () => NOW }),
    sqs: new SQSClient({ region: 'eu-west-1' }),
    sfn: new SFNClient({ region: 'eu-west-1' }),
    detectors,
    correlator: new Correlator({
      dedupeWindowMs: 3_600_000,
      groupWindowMs: 3_600_000,
      groupBy: ['user', 'host'],
    }),
    windows: detectors.flatMap((d) => (d.windowed ? [d.windowed.windows()] : [])),
    deadLetterQueueUrl: QUEUE,
    stateMachineArn: MACHINE,
    logger: silentLogger(),
    holder: () => 'test',
    leaseMs: 300_000,
    lockWaitMs: 1000,
    ...(opts.noise
      ? {
          noise: {
            control: new NoiseControl(settings),
            baselines: new DynamoBaselines({
              db: db.client,
              table: 'baselines',
              forgetAfterMs: settings.forget_after_ms,
            }),
          },
        }
      : {}),
  });
  return { db, handler };
}

beforeEach(() => {
  sfn.reset();
  sqs.reset();
  sfn.on(StartExecutionCommand).resolves({ executionArn: `${MACHINE}:x`, startDate: new Date(NOW) });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
});

describe.skipIf(!stratus)('detect: a Kinesis batch of CloudTrail events', () => {
  it('one bad record goes to the DLQ and is not failed; the rest are detected, correlated, and triage starts', async () => {
    const { db, handler } = setup();
    const batch = kinesisBatch([
      ...events.map((e) => JSON.stringify(e)),
      '{"not": "an event"',
      JSON.stringify({ id: 'x' }),
    ]);
    expect(await handler(batch)).toEqual({ batchItemFailures: [] });

    // The two bad records: the DLQ, each with its reason and field.
    const letters = sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(letters).toHaveLength(2);
    expect(letters.every((l) => l.QueueUrl === QUEUE)).toBe(true);
    const bodies = letters.map((l) => JSON.parse(l.MessageBody!));
    expect(bodies[0]).toMatchObject({ stage: 'detect', code: 'AISOC_ERR_VALIDATION', field: 'data' });
    expect(bodies[0].reason).toMatch(/not JSON/);
    expect(bodies[1]).toMatchObject({ stage: 'detect', code: 'AISOC_ERR_VALIDATION' });
    expect(bodies[1].field).not.toBe('data');

    // An incident, and one execution named after it and its alerts.
    const incidents = db
      .items('records')
      .filter((i) => i.pk?.S?.startsWith('incident#'))
      .map((i) => JSON.parse(i.doc!.S!) as Incident);
    expect(incidents.length).toBeGreaterThanOrEqual(1);
    const starts = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(starts.map((s) => s.name).sort()).toEqual(incidents.map((i) => executionName(i)).sort());
    for (const s of starts) {
      expect(s.stateMachineArn).toBe(MACHINE);
      expect(s.name).toMatch(/^[\w-]{1,80}$/);
      const input = JSON.parse(s.input!);
      expect(input).toEqual({ subject: { type: 'incident', id: expect.any(String) } });
    }

    // The cited events are kept with a TTL of 30 days; alerts are not.
    const kept = db.items('records').filter((i) => i.pk?.S?.startsWith('event#'));
    expect(kept.length).toBeGreaterThan(0);
    for (const e of kept) expect(Number(e.expires_at?.N)).toBe(Math.floor(NOW / 1000) + 30 * 86_400);
    const alerts = db.items('records').filter((i) => i.pk?.S?.startsWith('alert#'));
    expect(alerts.length).toBeGreaterThan(0);
    // The lock is released; the inbox remembers what was processed (with its TTL).
    expect(db.get('state', 'lock', 'correlate')).toBeUndefined();
    expect(
      db
        .items('state')
        .filter((i) => i.pk?.S === 'inbox')
        .every((i) => Number(i.expires_at?.N) > NOW / 1000),
    ).toBe(true);
  });

  it('a redelivered batch starts nothing twice: the same names, ExecutionAlreadyExists is not a failure', async () => {
    const { handler } = setup();
    const batch = kinesisBatch(events.map((e) => JSON.stringify(e)));
    await handler(batch);
    const first = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);
    expect(first.length).toBeGreaterThan(0);
    sfn.reset();
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' }));
    expect(await handler(batch)).toEqual({ batchItemFailures: [] });
    // The inbox skips what was processed: correlation changes nothing, so nothing is started again.
    const second = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);
    for (const n of second) expect(first).toContain(n);
  });

  it('when correlation fails, every valid record is reported (Lambda retries them), the bad one is not', async () => {
    const { db, handler } = setup();
    db.mock.on(BatchWriteItemCommand).rejects(new Error('ProvisionedThroughputExceeded'));
    const batch = kinesisBatch([...events.map((e) => JSON.stringify(e)), 'garbage']);
    const out = await handler(batch);
    const valid = batch.Records.slice(0, events.length).map((r) => r.kinesis.sequenceNumber);
    expect(out.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(valid);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    expect(db.get('state', 'lock', 'correlate')).toBeUndefined();
  });
});

const DAY = 86_400_000;
const ADMIN_POLICY = 'dd191c3e-1207-4ec8-8cfc-135e87720229';
const ACCESS_KEY = '520e35e6-4621-4ca5-a230-c0a150857df9';

describe.skipIf(!stratus)('detect: noise control over the baselines table', () => {
  /** The detonation's calls again, `days` later, as new events; `agent` replaces one call's user agent. */
  function later(days: number, agent?: { operation: string; value: string }): NormalisedEvent[] {
    return events.map((e) => ({
      ...e,
      id: uuidv7(Date.parse(e.time) + days * DAY),
      time: new Date(Date.parse(e.time) + days * DAY).toISOString(),
      cloud: {
        ...e.cloud!,
        ...(agent && e.cloud!.operation === agent.operation ? { user_agent: agent.value } : {}),
      },
    }));
  }
  const detections = (db: ReturnType<typeof setup>['db'], ids: string[]) =>
    db
      .items('records')
      .filter((i) => i.pk?.S?.startsWith('alert#'))
      .map((i) => JSON.parse(i.doc!.S!) as Alert)
      .filter((a) => a.event_ids.some((id) => ids.includes(id)))
      .flatMap((a) => a.detections);
  const onTable = (db: ReturnType<typeof setup>['db'], name: string) =>
    db.mock.calls().flatMap((c) => {
      const cmd = c.args[0] as {
        constructor: { name: string };
        input: { RequestItems?: Record<string, unknown> };
      };
      return cmd.input.RequestItems?.[name]
        ? [{ command: cmd.constructor.name, request: cmd.input.RequestItems[name] }]
        : [];
    });

  it('a familiar call is lowered a level a week on; a call with a part first seen is not; the exact DynamoDB calls', async () => {
    const { db, handler } = setup({ noise: true });
    const identity = 'arn:aws:iam::229654561268:user/christophe';
    const region = 'ap-isob-central-3r';
    const agent = 'stratus-red-team_6bf00313-712c-4fd2-9bdd-88f48a4b1282';
    const t0 = Date.parse('2024-08-01T13:33:28Z');
    expect(events.map((e) => e.time)).toEqual(Array(3).fill(new Date(t0).toISOString()));

    // The first batch: the baselines begin, they learn, no level moves.
    expect(await handler(kinesisBatch(events.map((e) => JSON.stringify(e))))).toEqual({
      batchItemFailures: [],
    });
    const first = detections(
      db,
      events.map((e) => e.id),
    );
    expect(first.map((d) => [d.rule_id, d.level, d.rule_level, d.rarity?.verdict]).sort()).toEqual([
      [ACCESS_KEY, 'medium', undefined, 'learning'],
      [ADMIN_POLICY, 'high', undefined, 'learning'],
    ]);
    const rows: Array<[string, string, string, number]> = [
      ['baseline', '', '', 3],
      ['identity', identity, '', 3],
      ['api', identity, 'iam:AttachUserPolicy', 1],
      ['api', identity, 'iam:CreateAccessKey', 1],
      ['api', identity, 'iam:CreateUser', 1],
      ['region', identity, region, 3],
      ['user_agent', identity, agent, 3],
    ];
    const pk = (dim: string, id: string, value: string) => ({ S: `${dim}#${fingerprint(id, value)}` });
    const ttl = (last: number) => ({ N: String(Math.floor((last + 45 * DAY) / 1000)) });
    const byPk = <T extends { pk?: { S?: string } }>(list: T[]) =>
      [...list].sort((a, b) => (a.pk!.S! < b.pk!.S! ? -1 : 1));
    const calls1 = onTable(db, 'baselines');
    expect(calls1.map((c) => c.command)).toEqual(['BatchGetItemCommand', 'BatchWriteItemCommand']);
    expect(byPk((calls1[0]!.request as { Keys: Array<{ pk: { S: string } }> }).Keys)).toEqual(
      byPk(rows.map(([dim, id, value]) => ({ pk: pk(dim, id, value) }))),
    );
    const mark1 = fingerprint('baseline-batch', fingerprint('baseline', ...events.map((e) => e.id).sort()));
    expect(
      byPk(
        (calls1[1]!.request as Array<{ PutRequest: { Item: Record<string, unknown> } }>).map(
          (w) => w.PutRequest.Item as { pk: { S: string } },
        ),
      ),
    ).toEqual(
      byPk(
        rows.map(([dim, id, value, count]) => ({
          pk: pk(dim, id, value),
          identity: { S: id },
          dim: { S: dim },
          value: { S: value },
          first: { N: String(t0) },
          last: { N: String(t0) },
          count: { N: String(count) },
          applied: { S: mark1 },
          expires_at: ttl(t0),
        })),
      ),
    );

    // Eight days on (past the 7-day learning window): the same calls, but the admin policy from another tool.
    db.mock.resetHistory();
    const next = later(8, { operation: 'AttachUserPolicy', value: 'Boto3/1.34.0 Python/3.12.1 Linux/6.5' });
    expect(await handler(kinesisBatch(next.map((e) => JSON.stringify(e))))).toEqual({
      batchItemFailures: [],
    });
    const second = detections(
      db,
      next.map((e) => e.id),
    );
    const access = second.find((d) => d.rule_id === ACCESS_KEY)!;
    // Every part of CreateAccessKey was seen on an earlier call of the identity: medium → low, with the reason.
    expect(access).toMatchObject({
      level: 'low',
      rule_level: 'medium',
      rarity: { verdict: 'familiar', score: 0.5 },
    });
    expect(access.level_reasons).toEqual([expect.stringMatching(/lowered from medium$/)]);
    // The admin policy's user agent is first seen for the identity: never lowered (high is the raise limit).
    const admin = second.find((d) => d.rule_id === ADMIN_POLICY)!;
    expect(admin).toMatchObject({ level: 'high', rarity: { verdict: 'new', first_seen: ['user_agent'] } });
    expect(admin.rule_level).toBeUndefined();
    const t1 = t0 + 8 * DAY;
    const calls2 = onTable(db, 'baselines');
    expect(calls2.map((c) => c.command)).toEqual(['BatchGetItemCommand', 'BatchWriteItemCommand']);
    const written = (
      calls2[1]!.request as Array<{ PutRequest: { Item: Record<string, { S?: string; N?: string }> } }>
    ).map((w) => w.PutRequest.Item);
    const boto = written.find((i) => i.pk!.S === pk('user_agent', identity, 'Boto3 Python Linux').S)!;
    expect(boto).toMatchObject({ first: { N: String(t1) }, count: { N: '1' }, expires_at: ttl(t1) });
    expect(boto.prev_count).toBeUndefined();
    const access2 = written.find((i) => i.pk!.S === pk('api', identity, 'iam:CreateAccessKey').S)!;
    expect(access2).toMatchObject({
      first: { N: String(t0) },
      last: { N: String(t1) },
      count: { N: '2' },
      prev_first: { N: String(t0) },
      prev_last: { N: String(t0) },
      prev_count: { N: '1' },
      expires_at: ttl(t1),
    });
    expect(written).toHaveLength(8);
  });

  it('a batch delivered again adds nothing: its feed is in the inbox, the baselines table is not called', async () => {
    const { db, handler } = setup({ noise: true });
    const batch = kinesisBatch(events.map((e) => JSON.stringify(e)));
    await handler(batch);
    const rows = JSON.stringify(db.items('baselines'));
    db.mock.resetHistory();
    expect(await handler(batch)).toEqual({ batchItemFailures: [] });
    expect(onTable(db, 'baselines')).toEqual([]);
    expect(JSON.stringify(db.items('baselines'))).toBe(rows);
    expect(db.items('state').filter((i) => i.pk?.S === 'inbox' && i.sk?.S?.startsWith('b:'))).toHaveLength(1);
  });

  it('a batch that failed after its baselines were written, delivered again, counts its calls once and judges them alike', async () => {
    const { db, handler } = setup({ noise: true });
    await handler(kinesisBatch(events.map((e) => JSON.stringify(e))));
    const next = later(8);
    const batch = kinesisBatch(next.map((e) => JSON.stringify(e)));
    // The inbox cannot be written: the batch fails after the baselines and the alerts were.
    db.fault((command, input) =>
      command === 'BatchWriteItem' && JSON.stringify(input).includes('"inbox"')
        ? new Error('throttled')
        : undefined,
    );
    expect((await handler(batch)).batchItemFailures).toHaveLength(next.length);
    const afterFailure = JSON.stringify(db.items('baselines'));
    db.fault(undefined);
    expect(await handler(batch)).toEqual({ batchItemFailures: [] });
    expect(JSON.stringify(db.items('baselines'))).toBe(afterFailure);
    const counts = Object.fromEntries(
      db.items('baselines').map((i) => [`${i.dim!.S}:${i.value!.S}`, i.count!.N]),
    );
    expect(counts).toMatchObject({ 'baseline:': '6', 'identity:': '6', 'api:iam:CreateAccessKey': '2' });
    const access = detections(
      db,
      next.map((e) => e.id),
    ).filter((d) => d.rule_id === ACCESS_KEY);
    expect(access.map((d) => d.level)).toEqual(['low']);
  });
});

describe('executionName', () => {
  it('is stable under the order of alerts and changes when an alert is added', () => {
    const a = executionName({ id: 'inc-1', alert_ids: ['a', 'b'] });
    expect(executionName({ id: 'inc-1', alert_ids: ['b', 'a'] })).toBe(a);
    expect(executionName({ id: 'inc-1', alert_ids: ['a', 'b', 'c'] })).not.toBe(a);
  });
});
