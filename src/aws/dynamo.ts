import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';

/**
 * The few DynamoDB shapes the AWS deployment uses, with the batching and
 * the retries of unprocessed items DynamoDB asks of its callers.
 */

export type Item = Record<string, AttributeValue>;

export const S = (value: string): AttributeValue => ({ S: value });
export const N = (value: number): AttributeValue => ({ N: String(value) });

/** A string attribute, or undefined. */
export function str(item: Item | undefined, name: string): string | undefined {
  const v = item?.[name];
  return v && 'S' in v ? v.S : undefined;
}

/** A number attribute, or undefined. */
export function num(item: Item | undefined, name: string): number | undefined {
  const v = item?.[name];
  return v && 'N' in v && v.N !== undefined ? Number(v.N) : undefined;
}

/** The JSON document an item holds in `doc`. */
export function docOf<T>(item: Item | undefined): T | undefined {
  const text = str(item, 'doc');
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

/** Attempts at the unprocessed part of a batch before it fails (DynamoDB's advice: retry with back-off). */
const BATCH_ATTEMPTS = 5;

function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
}

/** BatchWriteItem in slices of 25, retrying what DynamoDB leaves unprocessed. */
export async function batchWrite(db: DynamoDBClient, table: string, requests: WriteRequest[]): Promise<void> {
  for (let i = 0; i < requests.length; i += 25) {
    let pending: WriteRequest[] = requests.slice(i, i + 25);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= BATCH_ATTEMPTS)
        throw new Error(
          `DynamoDB left ${pending.length} writes to ${table} unprocessed ${BATCH_ATTEMPTS} times`,
        );
      if (attempt > 0) await backoff(attempt);
      const out = await db.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
      pending = out.UnprocessedItems?.[table] ?? [];
    }
  }
}

/** BatchGetItem in slices of 100, retrying unprocessed keys; items in no particular order. */
export async function batchGet(db: DynamoDBClient, table: string, keys: Item[]): Promise<Item[]> {
  const out: Item[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Item[] = keys.slice(i, i + 100);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= BATCH_ATTEMPTS)
        throw new Error(
          `DynamoDB left ${pending.length} reads of ${table} unprocessed ${BATCH_ATTEMPTS} times`,
        );
      if (attempt > 0) await backoff(attempt);
      const r = await db.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: pending } } }));
      out.push(...(r.Responses?.[table] ?? []));
      pending = r.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  }
  return out;
}

/** Every page of a query (or `limit` items). */
export async function queryAll(
  db: DynamoDBClient,
  input: QueryCommandInput,
  limit = Infinity,
): Promise<Item[]> {
  const out: Item[] = [];
  let start: Item | undefined;
  do {
    const r = await db.send(new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
    out.push(...(r.Items ?? []));
    start = r.LastEvaluatedKey;
  } while (start && out.length < limit);
  return out.slice(0, limit);
}
