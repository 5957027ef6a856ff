import { createHash } from 'node:crypto';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryDynamo } from '../../test/helpers/memory-dynamo.ts';
import { DynamoRecords } from './records.ts';
import { createIndexHandler, createStoreHandler } from './results.ts';

const NOW = new Date('2024-08-02T09:30:00Z');
const EXECUTION = 'arn:aws:states:eu-west-1:111111111111:execution:aisoc-triage:inc-1-abc';
const state = {
  subject: { type: 'incident', id: 'inc-1' },
  score: { priority: 91, alerts: 2, components: [] },
  analysis: { verdict: { severity: 'high' }, plan: [] },
  remediations: [{ status: 'denied' }],
};

describe('store', () => {
  const db = memoryDynamo();
  afterAll(() => db.mock.restore());

  it('puts the outcome under result#<incident>#<execution> and appends the audit trail', async () => {
    const store = createStoreHandler({
      records: new DynamoRecords({
        db: db.client,
        table: 'records',
        eventsTtlDays: 30,
        now: () => NOW.getTime(),
      }),
      now: () => NOW,
    });
    expect(await store({ execution: EXECUTION, state })).toEqual({
      id: 'inc-1-inc-1-abc',
      at: NOW.toISOString(),
    });
    const puts = db.mock.commandCalls(PutItemCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(2);
    expect(puts[0]).toMatchObject({
      TableName: 'records',
      Item: {
        pk: { S: `result#inc-1#${EXECUTION}` },
        gsi1pk: { S: 'results#inc-1' },
        gsi1sk: { S: NOW.toISOString() },
      },
    });
    expect(JSON.parse(puts[0]!.Item!.doc!.S!)).toMatchObject({
      incident_id: 'inc-1',
      priority: 91,
      analysed: true,
    });
    expect(JSON.parse(puts[1]!.Item!.doc!.S!)).toMatchObject({
      actor: 'aws:state-machine',
      action: 'triage.completed',
      target_id: 'inc-1',
      reason: 'priority 91: analysed',
    });
  });

  it('refuses a state without a score, naming the field', async () => {
    const store = createStoreHandler({
      records: new DynamoRecords({ db: db.client, table: 'records', eventsTtlDays: 30 }),
    });
    await expect(store({ execution: EXECUTION, state: { subject: state.subject } })).rejects.toMatchObject({
      code: 'AISOC_ERR_VALIDATION',
      field: expect.stringContaining('score'),
    });
  });
});

describe('index: a SigV4-signed PUT to OpenSearch Serverless', () => {
  function capture(status = 201) {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    const fetch = (async (url: URL | string, init?: RequestInit) => {
      calls.push({ url: String(url), init: init! });
      return new Response(status < 300 ? '{"result":"created"}' : 'forbidden', { status });
    }) as typeof globalThis.fetch;
    return { calls, fetch };
  }

  it('signs for service aoss in the region, with the payload hash', async () => {
    const { calls, fetch } = capture();
    const index = createIndexHandler({
      endpoint: 'https://abc123.eu-west-1.aoss.amazonaws.com',
      index: 'aisoc-results',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' },
      fetch,
      now: () => NOW,
    });
    expect(await index({ execution: EXECUTION, state })).toEqual({
      id: 'inc-1-inc-1-abc',
      index: 'aisoc-results',
    });
    expect(calls).toHaveLength(1);
    const { url, init } = calls[0]!;
    expect(url).toBe('https://abc123.eu-west-1.aoss.amazonaws.com/aisoc-results/_doc/inc-1-inc-1-abc');
    expect(init.method).toBe('PUT');
    const headers = init.headers as Record<string, string>;
    const body = String(init.body);
    expect(JSON.parse(body)).toMatchObject({ id: 'inc-1-inc-1-abc', incident_id: 'inc-1', priority: 91 });
    expect(headers['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
    expect(headers['x-amz-security-token']).toBe('token');
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/aoss\/aws4_request, SignedHeaders=[^,]*host[^,]*x-amz-content-sha256[^,]*, Signature=[0-9a-f]{64}$/,
    );
  });

  it('an error answer fails the state (the state machine retries, then the DLQ)', async () => {
    const { fetch } = capture(403);
    const index = createIndexHandler({
      endpoint: 'https://abc123.eu-west-1.aoss.amazonaws.com',
      index: 'aisoc-results',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 's' },
      fetch,
    });
    await expect(index({ execution: EXECUTION, state })).rejects.toMatchObject({
      code: 'AISOC_ERR_STORE',
      field: 'collection',
    });
  });
});
