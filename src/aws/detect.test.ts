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
import type { Detector } from '../detect/types.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { Incident } from '../schema/incident.ts';
import { SourceRegistry } from '../sources/index.ts';
import { normaliseRecords } from '../sources/normalise.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
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

function setup() {
  const db = memoryDynamo();
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

describe('executionName', () => {
  it('is stable under the order of alerts and changes when an alert is added', () => {
    const a = executionName({ id: 'inc-1', alert_ids: ['a', 'b'] });
    expect(executionName({ id: 'inc-1', alert_ids: ['b', 'a'] })).toBe(a);
    expect(executionName({ id: 'inc-1', alert_ids: ['a', 'b', 'c'] })).not.toBe(a);
  });
});
