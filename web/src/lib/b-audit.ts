/**
 * The audit trail newest first, over a route that only pages forward: GET /audit answers entries with
 * `id > after_id` in ascending order, at most `limit` of them. Two facts make "newest first" possible without
 * reading the whole log:
 *  - whether any entry has an id above x is one tiny request (`after_id=x&limit=1`), so the newest id is
 *    found by doubling then bisecting (about 2·log2(newest id) requests of one entry each);
 *  - ids are unique integers, so `after_id=lo&limit=hi-lo` returns every entry with an id in (lo, hi].
 * The log is then read backwards in id windows, widened while they hold few matching entries.
 */
import type { AuditEntry } from './types.ts';

export interface AuditFilters {
  action?: string;
  target_type?: string;
  target_id?: string;
}

export type AuditFetch = (
  q: AuditFilters & { after_id: number; limit: number },
) => Promise<{ items: AuditEntry[]; next_after_id: number | null }>;

export interface AuditSlice {
  /** Entries, newest first. */
  items: AuditEntry[];
  /** Every entry with an id above this has been read; 0 when the start of the log was reached. */
  below: number;
}

/** The route's largest `limit`. */
const MAX_WINDOW = 10_000;

/** The highest id among the entries matching `filters`, or 0 when none does. */
export async function newestId(fetch: AuditFetch, filters: AuditFilters): Promise<number> {
  const above = async (x: number) => (await fetch({ ...filters, after_id: x, limit: 1 })).items[0]?.id;
  const first = await above(0);
  if (first === undefined) return 0;
  // Invariant: an entry lies above `lo`, none above `hi`.
  let lo = first - 1;
  let hi = Math.max(first, 1024);
  for (;;) {
    const found = await above(hi);
    if (found === undefined) break;
    lo = found - 1;
    hi = found * 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const found = await above(mid);
    if (found === undefined) hi = mid;
    else lo = Math.max(mid, found - 1);
  }
  return hi;
}

/**
 * Reads backwards from id `from` (inclusive; the newest when undefined) until `want` entries passing `keep`
 * were found, the log's start was reached, or `maxRequests` windows were read.
 */
export async function readBackwards(
  fetch: AuditFetch,
  filters: AuditFilters,
  opts: { from?: number; want?: number; keep?: (e: AuditEntry) => boolean; maxRequests?: number } = {},
): Promise<AuditSlice> {
  const want = opts.want ?? 100;
  const keep = opts.keep ?? (() => true);
  let top = opts.from ?? (await newestId(fetch, filters));
  let width = Math.min(MAX_WINDOW, Math.max(want * 2, 50));
  const items: AuditEntry[] = [];
  for (let n = 0; top > 0 && items.length < want && n < (opts.maxRequests ?? 25); n++) {
    const lo = Math.max(0, top - width);
    const page = await fetch({ ...filters, after_id: lo, limit: top - lo });
    const got = page.items.filter((e) => e.id <= top && keep(e)).reverse();
    items.push(...got);
    top = lo;
    // Sparse matches (a rare action, an actor): look further back per request.
    if (got.length < want / 2) width = Math.min(MAX_WINDOW, width * 2);
  }
  return { items, below: top };
}
