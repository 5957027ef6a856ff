import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { DetectionWindows, WindowGroupRow } from '../detect/types.ts';
import { AisocError } from '../errors.ts';
import { batchGet, batchWrite, docOf, type Item, N, num, queryAll, S, str } from './dynamo.ts';

/**
 * The correlate stage's state in DynamoDB (the container keeps it in
 * PostgreSQL: `correlate_state`, `correlation_windows`, `stage_inbox`):
 *
 * - a lock, so batches correlate one at a time whatever the number of
 *   shards (two batches never make two alerts of one fingerprint);
 * - the inbox of processed items, so a batch Kinesis delivers again changes
 *   nothing (TTL: a day, far beyond Lambda's retries of a batch);
 * - the Sigma correlation windows, restored before a batch and saved after.
 *
 * Items expire through the table's TTL attribute `expires_at`.
 */

export interface StateOptions {
  db: DynamoDBClient;
  table: string;
  now?: () => number;
  /** How long an inbox key is kept, ms (default a day, as `correlate.inbox_retention_ms`). */
  inboxKeepMs?: number;
  /** How long a window group outlives its last match, ms (default 7 days: longer than any rule's timespan). */
  windowKeepMs?: number;
}

const LOCK = { pk: S('lock'), sk: S('correlate') };

export class CorrelationState {
  private readonly db: DynamoDBClient;
  private readonly table: string;
  private readonly now: () => number;

  constructor(private readonly options: StateOptions) {
    this.db = options.db;
    this.table = options.table;
    this.now = options.now ?? Date.now;
  }

  private ttl(ms: number): Item {
    return { expires_at: N(Math.floor((this.now() + ms) / 1000)) };
  }

  /**
   * Take the correlate lock for `leaseMs` (the function's timeout: a
   * function killed holding it is past it by then). Waits up to `waitMs`
   * for another holder; throws `AISOC_ERR_OVERLOADED` after that, and the
   * batch is reported failed, so Kinesis delivers it again.
   */
  async lock(holder: string, leaseMs: number, waitMs: number): Promise<void> {
    const deadline = this.now() + waitMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.db.send(
          new PutItemCommand({
            TableName: this.table,
            Item: { ...LOCK, holder: S(holder), lease_until: N(this.now() + leaseMs), ...this.ttl(leaseMs) },
            ConditionExpression: 'attribute_not_exists(pk) OR lease_until < :now',
            ExpressionAttributeValues: { ':now': N(this.now()) },
          }),
        );
        return;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        if (this.now() >= deadline)
          throw new AisocError('AISOC_ERR_OVERLOADED', 'Another batch holds the correlate lock', {
            field: 'lock',
          });
        await new Promise((r) => setTimeout(r, Math.min(500, 20 * 2 ** attempt)));
      }
    }
  }

  async unlock(holder: string): Promise<void> {
    try {
      await this.db.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: LOCK,
          ConditionExpression: 'holder = :me',
          ExpressionAttributeValues: { ':me': S(holder) },
        }),
      );
    } catch (err) {
      // Our lease ran out and another batch holds it now: it is theirs to release.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  /** Which of these item keys were processed already. */
  async seen(keys: readonly string[]): Promise<Set<string>> {
    const items = await batchGet(
      this.db,
      this.table,
      [...new Set(keys)].map((k) => ({ pk: S('inbox'), sk: S(k) })),
    );
    const now = Math.floor(this.now() / 1000);
    // An expired item may linger until DynamoDB deletes it: it no longer counts.
    return new Set(items.filter((i) => (num(i, 'expires_at') ?? 0) > now).map((i) => str(i, 'sk')!));
  }

  async record(keys: readonly string[]): Promise<void> {
    const keep = this.options.inboxKeepMs ?? 86_400_000;
    await batchWrite(
      this.db,
      this.table,
      keys.map((k) => ({ PutRequest: { Item: { pk: S('inbox'), sk: S(k), ...this.ttl(keep) } } })),
    );
  }

  /** Restore each detector's windows from the table (all of them: a Lambda keeps no copy between batches). */
  async restoreWindows(windows: readonly DetectionWindows[]): Promise<void> {
    for (const w of windows) {
      const rows: WindowGroupRow[] = (
        await queryAll(this.db, {
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': S(`window#${w.detector}`) },
        })
      ).map((i) => ({
        window: str(i, 'window')!,
        key: str(i, 'key')!,
        last: num(i, 'last')!,
        state: docOf<unknown>(i),
      }));
      const marks = await queryAll(this.db, {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk = :sk',
        ExpressionAttributeValues: { ':pk': S('watermark'), ':sk': S(w.detector) },
      });
      w.restore(rows, docOf<Record<string, number>>(marks[0]) ?? {}, true);
    }
  }

  /** Save what the batch changed in each detector's windows (a group whose state is null is deleted). */
  async saveWindows(windows: readonly DetectionWindows[]): Promise<void> {
    const keep = this.options.windowKeepMs ?? 7 * 86_400_000;
    for (const w of windows) {
      const changes = w.takeChanges();
      const writes: WriteRequest[] = changes.groups.map((g): WriteRequest => {
        const k = { pk: S(`window#${w.detector}`), sk: S(JSON.stringify([g.window, g.key])) };
        return g.state === null
          ? { DeleteRequest: { Key: k } }
          : {
              PutRequest: {
                Item: {
                  ...k,
                  window: S(g.window),
                  key: S(g.key),
                  last: N(g.last),
                  doc: S(JSON.stringify(g.state)),
                  ...this.ttl(keep),
                },
              },
            };
      });
      if (changes.watermarks)
        writes.push({
          PutRequest: {
            Item: { pk: S('watermark'), sk: S(w.detector), doc: S(JSON.stringify(changes.watermarks)) },
          },
        });
      await batchWrite(this.db, this.table, writes);
    }
  }
}
