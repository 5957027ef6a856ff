import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';

type Item = Record<string, AttributeValue>;

/**
 * An in-memory DynamoDB for the AWS handlers' tests, behind
 * aws-sdk-client-mock: the calls src/aws makes (GetItem, PutItem and
 * DeleteItem with the lock's two conditions, BatchGet/BatchWrite, Query on
 * the table's key or on `gsi1` with `=` and `>=`), and nothing else: any
 * other expression throws, so a handler that starts using one fails its
 * test until this learns it. Every call is kept on the mock (`mock.calls()`).
 * `fault` makes calls fail on purpose: it sees each call (command name and
 * input) and may return the error to throw.
 */
export function memoryDynamo() {
  const tables = new Map<string, Map<string, Item>>();
  const table = (name: string | undefined) => {
    if (!name) throw new Error('memoryDynamo: no TableName');
    const t = tables.get(name) ?? new Map<string, Item>();
    tables.set(name, t);
    return t;
  };
  const keyOf = (k: Item) => JSON.stringify([k.pk?.S, k.sk?.S ?? null]);
  const fail = (m: string) => new ConditionalCheckFailedException({ message: m, $metadata: {} });
  const mock = mockClient(DynamoDBClient);
  let fault: ((command: string, input: Record<string, unknown>) => Error | undefined) | undefined;
  const check = (command: string, input: Record<string, unknown>) => {
    const err = fault?.(command, input);
    if (err) throw err;
  };

  mock.on(GetItemCommand).callsFake((i) => {
    check('GetItem', i);
    return { Item: table(i.TableName).get(keyOf(i.Key)) };
  });
  mock.on(PutItemCommand).callsFake((i) => {
    check('PutItem', i);
    const t = table(i.TableName);
    const k = keyOf(i.Item);
    const before = t.get(k);
    if (i.ConditionExpression === 'attribute_not_exists(pk) OR lease_until < :now') {
      const now = Number(i.ExpressionAttributeValues[':now'].N);
      if (before && !(Number(before.lease_until?.N) < now)) throw fail('held');
    } else if (i.ConditionExpression) throw new Error(`memoryDynamo: condition ${i.ConditionExpression}`);
    t.set(k, i.Item);
    return {};
  });
  mock.on(DeleteItemCommand).callsFake((i) => {
    check('DeleteItem', i);
    const t = table(i.TableName);
    const k = keyOf(i.Key);
    if (i.ConditionExpression === 'holder = :me') {
      if (t.get(k)?.holder?.S !== i.ExpressionAttributeValues[':me'].S) throw fail('not yours');
    } else if (i.ConditionExpression) throw new Error(`memoryDynamo: condition ${i.ConditionExpression}`);
    t.delete(k);
    return {};
  });
  mock.on(BatchGetItemCommand).callsFake((i) => {
    check('BatchGetItem', i);
    const Responses: Record<string, Item[]> = {};
    for (const [name, req] of Object.entries(i.RequestItems as Record<string, { Keys: Item[] }>))
      Responses[name] = req.Keys.flatMap((k) => {
        const v = table(name).get(keyOf(k));
        return v ? [v] : [];
      });
    return { Responses, UnprocessedKeys: {} };
  });
  mock.on(BatchWriteItemCommand).callsFake((i) => {
    check('BatchWriteItem', i);
    for (const [name, reqs] of Object.entries(
      i.RequestItems as Record<string, Array<{ PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }>>,
    ))
      for (const r of reqs) {
        if (r.PutRequest) table(name).set(keyOf(r.PutRequest.Item), r.PutRequest.Item);
        else if (r.DeleteRequest) table(name).delete(keyOf(r.DeleteRequest.Key));
      }
    return { UnprocessedItems: {} };
  });
  mock.on(QueryCommand).callsFake((i) => {
    check('Query', i);
    const m = /^(\w+) = :pk(?: AND (\w+) (=|>=) :(\w+))?$/.exec(i.KeyConditionExpression ?? '');
    if (!m) throw new Error(`memoryDynamo: key condition ${i.KeyConditionExpression}`);
    const [, hash, range, op, value] = m;
    const v = i.ExpressionAttributeValues;
    let items = [...table(i.TableName).values()].filter((it) => it[hash!]?.S === v[':pk'].S);
    const sortKey = range ?? (i.IndexName ? 'gsi1sk' : 'sk');
    if (range) {
      const want = v[`:${value}`].S as string;
      items = items.filter((it) => {
        const s = it[range]?.S;
        return s !== undefined && (op === '=' ? s === want : s >= want);
      });
    }
    items.sort((a, b) => (a[sortKey]?.S ?? '').localeCompare(b[sortKey]?.S ?? ''));
    if (i.ScanIndexForward === false) items.reverse();
    return { Items: i.Limit ? items.slice(0, i.Limit) : items };
  });

  return {
    mock,
    client: new DynamoDBClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'x' },
    }),
    /** Fail calls on purpose: `f` sees each call and returns the error to throw (undefined: none). */
    fault: (f: typeof fault) => {
      fault = f;
    },
    /** The items of a table (by `pk`, then `sk`). */
    items: (name: string) => [...table(name).values()],
    get: (name: string, pk: string, sk?: string) => table(name).get(JSON.stringify([pk, sk ?? null])),
  };
}
