import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { BaselineRow } from '../detect/noise/baseline.ts';
import { fingerprint } from '../ids.ts';
import { batchMark, DynamoBaselines } from './baselines.ts';

type Item = Record<string, AttributeValue>;

const dynamo = mockClient(DynamoDBClient);
const db = new DynamoDBClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKID', secretAccessKey: 'x' },
});
const DAY = 86_400_000;
const FORGET = 45 * DAY;
const T0 = Date.parse('2024-08-01T13:33:28Z');
const baselines = new DynamoBaselines({ db, table: 'baselines', forgetAfterMs: FORGET });
const pk = (dim: string, identity: string, value: string) => `${dim}#${fingerprint(identity, value)}`;

const api = (i: number): BaselineRow => ({
  identity: 'arn:aws:iam::111111111111:user/alice',
  dim: 'api',
  value: `iam:Call${i}`,
  first: T0,
  last: T0 + i,
  count: i + 1,
});

beforeEach(() => dynamo.reset());
afterAll(() => dynamo.restore());

describe('DynamoBaselines', () => {
  it('get: BatchGetItem in slices of 100, unprocessed keys asked again; rows as stored', async () => {
    const rows = Array.from({ length: 230 }, (_, i) => api(i));
    const stored = new Map(rows.map((r) => [pk(r.dim, r.identity, r.value), r]));
    let held = false;
    dynamo.on(BatchGetItemCommand).callsFake((input: { RequestItems: Record<string, { Keys: Item[] }> }) => {
      const keys = input.RequestItems.baselines!.Keys;
      // The first call leaves its last 10 keys unprocessed, once.
      const answered = held ? keys : keys.slice(0, -10);
      const unprocessed = held ? [] : keys.slice(-10);
      held = true;
      return {
        Responses: {
          baselines: answered.map((k) => {
            const r = stored.get(k.pk!.S!)!;
            return {
              pk: k.pk!,
              identity: { S: r.identity },
              dim: { S: r.dim },
              value: { S: r.value },
              first: { N: String(r.first) },
              last: { N: String(r.last) },
              count: { N: String(r.count) },
            };
          }),
        },
        UnprocessedKeys: unprocessed.length ? { baselines: { Keys: unprocessed } } : {},
      };
    });
    const got = await baselines.forBatch(['f1']).get(rows);
    const calls = dynamo
      .commandCalls(BatchGetItemCommand)
      .map((c) => c.args[0].input.RequestItems!.baselines!.Keys!);
    expect(calls.map((k) => k.length)).toEqual([100, 10, 100, 30]);
    expect(calls[0]!.slice(0, 2)).toEqual([
      { pk: { S: pk('api', rows[0]!.identity, 'iam:Call0') } },
      { pk: { S: pk('api', rows[1]!.identity, 'iam:Call1') } },
    ]);
    expect(calls[1]).toEqual(calls[0]!.slice(-10));
    expect(got.sort((a, b) => a.count - b.count)).toEqual(rows);
  });

  it('put: BatchWriteItem in slices of 25, unprocessed items written again; TTL is last + forget_after_ms', async () => {
    const rows = Array.from({ length: 60 }, (_, i) => api(i));
    let first = true;
    dynamo.on(BatchWriteItemCommand).callsFake((input: { RequestItems: Record<string, unknown[]> }) => {
      const reqs = input.RequestItems.baselines!;
      const out = first ? { UnprocessedItems: { baselines: reqs.slice(0, 3) } } : { UnprocessedItems: {} };
      first = false;
      return out;
    });
    await baselines.forBatch(['f2', 'f1']).put(rows);
    const calls = dynamo
      .commandCalls(BatchWriteItemCommand)
      .map((c) => c.args[0].input.RequestItems!.baselines!);
    expect(calls.map((c) => c.length)).toEqual([25, 3, 25, 10]);
    expect(calls[1]).toEqual(calls[0]!.slice(0, 3));
    expect(calls[0]![7]).toEqual({
      PutRequest: {
        Item: {
          pk: { S: pk('api', rows[7]!.identity, 'iam:Call7') },
          identity: { S: rows[7]!.identity },
          dim: { S: 'api' },
          value: { S: 'iam:Call7' },
          first: { N: String(T0) },
          last: { N: String(T0 + 7) },
          count: { N: '8' },
          applied: { S: fingerprint('baseline-batch', 'f1', 'f2') },
          expires_at: { N: String(Math.floor((T0 + 7 + FORGET) / 1000)) },
        },
      },
    });
  });

  const item = (r: BaselineRow, extra: Item = {}): Item => ({
    pk: { S: pk(r.dim, r.identity, r.value) },
    identity: { S: r.identity },
    dim: { S: r.dim },
    value: { S: r.value },
    first: { N: String(r.first) },
    last: { N: String(r.last) },
    count: { N: String(r.count) },
    ...extra,
  });
  const start = (last: number): BaselineRow => ({
    identity: '',
    dim: 'baseline',
    value: '',
    first: T0 - 100 * DAY,
    last,
    count: 500,
  });

  it('get: a row last seen forget_after_ms before the newest call is forgotten, as the container prunes it', async () => {
    const newest = T0 + 60 * DAY;
    const old = { ...api(1), last: newest - FORGET - 1 };
    const kept = { ...api(2), last: newest - FORGET };
    dynamo.on(BatchGetItemCommand).resolves({
      Responses: { baselines: [item(start(newest)), item(old), item(kept)] },
    });
    const got = await baselines.forBatch(['f']).get([start(0), old, kept]);
    expect(got).toEqual([start(newest), kept]);
  });

  it('the same batch again reads the values its first delivery read, and writes them back with the same result', async () => {
    const mark = batchMark(['f1']);
    const grown = { ...api(3), last: T0 + DAY, count: 9 };
    const before = api(3);
    const created = api(4);
    dynamo.on(BatchGetItemCommand).resolves({
      Responses: {
        baselines: [
          item(grown, {
            applied: { S: mark },
            prev_first: { N: String(before.first) },
            prev_last: { N: String(before.last) },
            prev_count: { N: String(before.count) },
          }),
          // A row this batch created: no values before it.
          item(created, { applied: { S: mark } }),
        ],
      },
    });
    dynamo.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
    const store = baselines.forBatch(['f1']);
    expect(await store.get([grown, created])).toEqual([before]);
    await store.put([grown]);
    const [w] = dynamo
      .commandCalls(BatchWriteItemCommand)
      .map((c) => c.args[0].input.RequestItems!.baselines!);
    expect(w![0]!.PutRequest!.Item).toMatchObject({
      count: { N: '9' },
      applied: { S: mark },
      prev_first: { N: String(before.first) },
      prev_last: { N: String(before.last) },
      prev_count: { N: String(before.count) },
    });
    // Another batch reads the row as it is now.
    expect(await baselines.forBatch(['f2']).get([grown, created])).toEqual([grown, created]);
  });

  it('prune deletes nothing: the table TTL does', async () => {
    expect(await baselines.forBatch([]).prune(FORGET, 10)).toBe(0);
    expect(dynamo.calls()).toHaveLength(0);
  });
});
