import { toPgJson } from '../json.ts';
import { fromJson, type Queryable, toNumber } from '../sql.ts';
import type { Row } from './shared.ts';

/** One claimed work item: what the worker needs to do it, and what names its claim. */
export interface WorkClaim {
  id: number;
  key: string;
  payload: unknown;
  /** Failed attempts so far, expired leases included. */
  attempts: number;
  /** The version claimed: queuing the item again while it is claimed makes a newer one. */
  version: number;
  /** The claim's number for this item: a later claim (after the lease expired) has a higher one. */
  token: number;
  /** Who holds the claim (`claim`'s `owner`). */
  owner: string;
  /** Why the last attempt failed (an error, or a lease that expired). */
  lastError?: string;
}

/** What became of a claim when it was completed or put back. */
export type ClaimOutcome =
  /** The claimed version was the latest: the item is gone (`done`) or waits for its retry (`retryLater`, `defer`). */
  | 'settled'
  /** The item was queued again while claimed: the newer version stays, due now. */
  | 'requeued'
  /** The claim was no longer ours (the lease expired and another worker claimed it, or the item is gone). */
  | 'lost';

/** Milliseconds as a PostgreSQL interval parameter. */
const ms = (n: number) => Math.max(0, Math.round(n));

/**
 * The durable work queue (`work_queue`): one item per topic and key, shared
 * by any number of workers on one database. A worker claims due items
 * (`FOR UPDATE SKIP LOCKED`, so two claimers never get the same one) under
 * a lease; an item whose lease expires is claimable again, and that counts
 * as a failed attempt. Queuing a key again while it is pending or claimed
 * refreshes its payload and bumps its version, so completing the claim of
 * an older version never removes or delays the newer work.
 *
 * @example
 * await store.work.enqueue('triage', `alert:${alert.id}`, { type: 'alert', id: alert.id });
 * const [claim] = await store.work.claim('triage', 1, { owner: 'host:4242', leaseMs: 60_000 });
 * if (claim) await store.work.done(claim);
 */
export class WorkQueueRepository {
  constructor(private readonly db: Queryable) {}

  /** Enqueue one item per topic and key; queuing a key already there refreshes its payload and version. */
  async enqueue(topic: string, key: string, payload: unknown): Promise<void> {
    await this.db.query(
      `INSERT INTO work_queue (topic, key, payload) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (topic, key) DO UPDATE SET payload = EXCLUDED.payload, version = work_queue.version + 1`,
      [topic, key, toPgJson(payload)],
    );
  }

  /**
   * Claim up to `limit` due items of a topic, oldest due first, for
   * `leaseMs`. An item is due when its retry time has come and nobody holds
   * a live lease on it; taking one whose lease expired counts an attempt.
   */
  async claim(
    topic: string,
    limit: number,
    opts: { owner: string; leaseMs: number; exclude?: readonly number[] },
  ): Promise<WorkClaim[]> {
    const r = await this.db.query<Row>(
      `WITH picked AS (
         SELECT id FROM work_queue
          WHERE topic = $1 AND available_at <= now() AND (lease_until IS NULL OR lease_until <= now())
            AND id <> ALL($5::bigint[])
          ORDER BY available_at, id
          LIMIT $2
          FOR UPDATE SKIP LOCKED)
       UPDATE work_queue w
          SET claims = w.claims + 1, claimed_by = $3,
              lease_until = now() + $4::double precision * interval '1 millisecond',
              attempts = w.attempts + CASE WHEN w.lease_until IS NULL THEN 0 ELSE 1 END,
              last_error = CASE WHEN w.lease_until IS NULL THEN w.last_error
                                ELSE 'the lease of ' || coalesce(w.claimed_by, 'a worker') || ' expired before it finished' END
         FROM picked WHERE w.id = picked.id
       RETURNING w.id, w.key, w.payload, w.attempts, w.version, w.claims, w.last_error`,
      [topic, Math.max(1, Math.floor(limit)), opts.owner, ms(opts.leaseMs), [...(opts.exclude ?? [])]],
    );
    return r.rows
      .map((row) => {
        const c: WorkClaim = {
          id: toNumber(row.id),
          key: String(row.key),
          payload: fromJson(row.payload),
          attempts: toNumber(row.attempts),
          version: toNumber(row.version),
          token: toNumber(row.claims),
          owner: opts.owner,
        };
        if (row.last_error != null) c.lastError = String(row.last_error);
        return c;
      })
      .sort((a, b) => a.id - b.id);
  }

  /**
   * Extend the leases of claims still held, to `leaseMs` from now. Returns
   * the ids of the claims renewed: a claim missing from it was lost.
   */
  async renew(claims: readonly WorkClaim[], leaseMs: number): Promise<Set<number>> {
    const held = new Set<number>();
    // One statement per owner (a worker renews only its own claims, so in practice one).
    const byOwner = new Map<string, WorkClaim[]>();
    for (const c of claims) byOwner.set(c.owner, [...(byOwner.get(c.owner) ?? []), c]);
    for (const [owner, list] of byOwner) {
      const r = await this.db.query<Row>(
        `UPDATE work_queue w SET lease_until = now() + $4::double precision * interval '1 millisecond'
           FROM unnest($1::bigint[], $2::integer[]) AS c(id, token)
          WHERE w.id = c.id AND w.claims = c.token AND w.claimed_by = $3
          RETURNING w.id`,
        [list.map((c) => c.id), list.map((c) => c.token), owner, ms(leaseMs)],
      );
      for (const row of r.rows) held.add(toNumber(row.id));
    }
    return held;
  }

  /**
   * The claimed work is done. The item is removed if the claim is still the
   * current one and no newer version was queued meanwhile; a newer version
   * stays, due now.
   */
  async done(claim: WorkClaim): Promise<ClaimOutcome> {
    const r = await this.db.query<Row>(
      `WITH removed AS (
         DELETE FROM work_queue WHERE id = $1 AND claims = $2 AND claimed_by = $3 AND version = $4 RETURNING id),
       released AS (
         UPDATE work_queue SET claimed_by = NULL, lease_until = NULL
          WHERE id = $1 AND claims = $2 AND claimed_by = $3 AND version <> $4 RETURNING id)
       SELECT (SELECT count(*) FROM removed) AS removed, (SELECT count(*) FROM released) AS released`,
      [claim.id, claim.token, claim.owner, claim.version],
    );
    return outcome(r.rows[0]);
  }

  /**
   * Give a claimed item back to be claimed again after `delayMs`, without
   * counting an attempt: nothing failed, the work must wait (another worker
   * is carrying out part of it). A newer version queued meanwhile is due now.
   */
  async defer(claim: WorkClaim, delayMs: number): Promise<ClaimOutcome> {
    const r = await this.db.query<Row>(
      `UPDATE work_queue
          SET claimed_by = NULL, lease_until = NULL,
              available_at = CASE WHEN version = $4 THEN now() + $5::double precision * interval '1 millisecond'
                                  ELSE now() END
        WHERE id = $1 AND claims = $2 AND claimed_by = $3
        RETURNING version`,
      [claim.id, claim.token, claim.owner, claim.version, ms(delayMs)],
    );
    const row = r.rows[0];
    if (!row) return 'lost';
    return toNumber(row.version) === claim.version ? 'settled' : 'requeued';
  }

  /**
   * Put a claimed item back for a later attempt, recording why it failed.
   * A newer version queued meanwhile is due now instead: its work has not
   * been tried yet. Either way the failure counts an attempt.
   */
  async retryLater(claim: WorkClaim, delayMs: number, error: string): Promise<ClaimOutcome> {
    const r = await this.db.query<Row>(
      `UPDATE work_queue
          SET attempts = attempts + 1, last_error = $5, claimed_by = NULL, lease_until = NULL,
              available_at = CASE WHEN version = $4 THEN now() + $6::double precision * interval '1 millisecond'
                                  ELSE now() END
        WHERE id = $1 AND claims = $2 AND claimed_by = $3
        RETURNING version`,
      [claim.id, claim.token, claim.owner, claim.version, error.slice(0, 2000), ms(delayMs)],
    );
    const row = r.rows[0];
    if (!row) return 'lost';
    return toNumber(row.version) === claim.version ? 'settled' : 'requeued';
  }

  /**
   * A read-only look at items a `claim` would take now (due, no live lease),
   * oldest due first. Nothing is claimed.
   */
  async due(
    topic: string,
    limit: number,
  ): Promise<Array<{ id: number; key: string; payload: unknown; attempts: number; version: number }>> {
    const r = await this.db.query<Row>(
      `SELECT id, key, payload, attempts, version FROM work_queue
        WHERE topic = $1 AND available_at <= now() AND (lease_until IS NULL OR lease_until <= now())
        ORDER BY available_at, id LIMIT $2`,
      [topic, limit],
    );
    return r.rows.map((row) => ({
      id: toNumber(row.id),
      key: String(row.key),
      payload: fromJson(row.payload),
      attempts: toNumber(row.attempts),
      version: toNumber(row.version),
    }));
  }

  /** Items of a topic (or of all topics), pending and claimed alike. */
  async count(topic?: string): Promise<number> {
    const r = topic
      ? await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM work_queue WHERE topic = $1', [topic])
      : await this.db.query<{ n: unknown }>('SELECT count(*) AS n FROM work_queue');
    return toNumber(r.rows[0]?.n);
  }
}

function outcome(row: Row | undefined): ClaimOutcome {
  if (toNumber(row?.removed) > 0) return 'settled';
  if (toNumber(row?.released) > 0) return 'requeued';
  return 'lost';
}
