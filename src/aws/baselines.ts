import type { DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import type { BaselineRow } from '../detect/noise/baseline.ts';
import type { BaselineStore } from '../detect/noise/persisted.ts';
import { fingerprint } from '../ids.ts';
import { batchGet, batchWrite, type Item, N, num, S, str } from './dynamo.ts';

/**
 * Noise control's first-seen baselines of cloud calls in DynamoDB (the
 * container keeps them in the store's `cloud_baselines` table): the
 * {@link BaselineStore} that `NoiseControl.apply` reads and grows, called by
 * the detection function under its correlate lock (src/aws/state.ts), so
 * two concurrent invocations never read-modify-write one row at once.
 *
 * One item per row: `pk` = `<part>#<hash of identity and value>` (an
 * identity or a user agent may be longer than a key may be), the row's
 * `identity`, `dim`, `value`, `first`, `last` and `count`, and the TTL
 * attribute `expires_at` = `last` + `forget_after_ms` (seconds): DynamoDB
 * deletes forgotten rows, no scan prunes them.
 *
 * A batch delivered again is recognised by the handler's inbox (its feed's
 * key), and adds nothing. For a batch whose rows were written but whose
 * inbox keys were not (the function failed in between), each row also keeps
 * `applied`, the mark of the batch that last wrote it, and the values it
 * had before (`prev_*`): the same batch, delivered again, reads those, so
 * it judges its calls as the first delivery did and writes the same values.
 */

export interface BaselinesOptions {
  db: DynamoDBClient;
  table: string;
  /** `detect.noise.forget_after_ms`: a row last seen this long before the newest call is forgotten. */
  forgetAfterMs: number;
}

/** The row that marks when the baselines began (as src/detect/noise/baseline.ts writes it). */
const START = { identity: '', dim: 'baseline', value: '' };

type RowKey = Pick<BaselineRow, 'identity' | 'dim' | 'value'>;

/** The item key of a row. */
export function baselineKey(r: RowKey): Item {
  return { pk: S(`${r.dim}#${fingerprint(r.identity, r.value)}`) };
}

/** The mark of a batch by the ids of its baseline feeds. */
export function batchMark(feedIds: readonly string[]): string {
  return fingerprint('baseline-batch', ...[...feedIds].sort());
}

export class DynamoBaselines {
  constructor(private readonly options: BaselinesOptions) {}

  /**
   * The store for one batch, whose baseline feeds have these ids (what it
   * writes is marked with them).
   */
  forBatch(feedIds: readonly string[]): BaselineStore {
    const { db, table, forgetAfterMs } = this.options;
    const mark = batchMark(feedIds);
    /** What `get` returned, by item key: the values before this batch. */
    const before = new Map<string, BaselineRow>();
    return {
      async get(keys) {
        const unique = new Map(keys.map((k) => [baselineKey(k).pk!.S!, k]));
        const items = await batchGet(
          db,
          table,
          [...unique.keys()].map((pk) => ({ pk: S(pk) })),
        );
        const rows: BaselineRow[] = [];
        for (const item of items) {
          const row = rowOf(item, mark);
          if (row) rows.push(row);
        }
        // Forgotten in event time, from the newest call (the start row's last): as the container prunes them.
        const newest = rows.find((r) => r.dim === START.dim && r.identity === '' && r.value === '')?.last;
        const kept = newest === undefined ? rows : rows.filter((r) => r.last >= newest - forgetAfterMs);
        before.clear();
        for (const r of kept) before.set(baselineKey(r).pk!.S!, r);
        return kept;
      },
      async put(rows) {
        const writes: WriteRequest[] = rows.map((r) => {
          const key = baselineKey(r);
          const prev = before.get(key.pk!.S!);
          return {
            PutRequest: {
              Item: {
                ...key,
                identity: S(r.identity),
                dim: S(r.dim),
                value: S(r.value),
                first: N(r.first),
                last: N(r.last),
                count: N(r.count),
                applied: S(mark),
                ...(prev
                  ? { prev_first: N(prev.first), prev_last: N(prev.last), prev_count: N(prev.count) }
                  : {}),
                expires_at: N(Math.floor((r.last + forgetAfterMs) / 1000)),
              },
            },
          };
        });
        await batchWrite(db, table, writes);
      },
      // DynamoDB's TTL deletes forgotten rows (`expires_at`): nothing to scan.
      prune: async () => 0,
    };
  }
}

/** The row an item holds, as it was before the batch `mark` wrote it (undefined: the batch created it). */
function rowOf(item: Item, mark: string): BaselineRow | undefined {
  const identity = str(item, 'identity');
  const dim = str(item, 'dim');
  const value = str(item, 'value');
  if (identity === undefined || dim === undefined || value === undefined) return undefined;
  const again = str(item, 'applied') === mark;
  const first = num(item, again ? 'prev_first' : 'first');
  const last = num(item, again ? 'prev_last' : 'last');
  const count = num(item, again ? 'prev_count' : 'count');
  if (first === undefined || last === undefined || count === undefined) return undefined;
  return { identity, dim: dim as BaselineRow['dim'], value, first, last, count };
}
