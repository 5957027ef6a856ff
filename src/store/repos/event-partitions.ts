import type { Queryable, SqlClient } from '../sql.ts';

/*
 * The events table's day partitions (docs/ARCHITECTURE.md, Storage). An
 * event goes to the partition of its day (UTC) when that partition exists,
 * otherwise to `events_catchall` (part_time -infinity): the insert decides
 * row by row, so no insert fails for want of a partition. Before inserting,
 * the repository makes sure of the partitions of the days near the present
 * ({@link PARTITION_DAYS_BACK} days back to {@link PARTITION_DAYS_AHEAD}
 * ahead, today and tomorrow always): older or later times stay in the
 * catch-all, so a file of odd timestamps cannot make thousands of tables.
 *
 * A partition is made as a table of its own and then attached: ATTACH
 * PARTITION locks the parent only in SHARE UPDATE EXCLUSIVE mode, which
 * inserts and reads do not conflict with, where CREATE TABLE … PARTITION OF
 * waits for every open transaction that touched the table. On PostgreSQL it
 * is made in a transaction of its own, so another process making the same
 * day at the same moment fails harmlessly (the loser finds it attached).
 */

export const PARTITION_DAYS_BACK = 31;
export const PARTITION_DAYS_AHEAD = 1;
export const CATCHALL_PARTITION = 'events_catchall';
export const DAY_MS = 86_400_000;

/**
 * `toast_tuple_target` of the embedded engine's partitions: the largest
 * row that stays inline and uncompressed (a page's worth). Most events are
 * 2-8 KiB with their raw record; compressing them (pglz, the only method
 * PGlite has) and moving them out of line was a sixth of an insert's work,
 * for a third less disk. Larger rows are compressed as before.
 */
export const EVENT_TOAST_TARGET = 8160;

/** How long an insert waits for a partition to be made before its events go to the catch-all instead. */
const MAKE_WAIT_MS = 5_000;

const NAME = /^events_p(\d{4})(\d{2})(\d{2})$/;

/** The start (UTC midnight) of the day `ms` falls in. */
export function dayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** The partition of the day starting at `day`: `events_p20261207`. */
export function partitionName(day: number): string {
  return `events_p${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/** The day a partition name stands for (its start, UTC), or undefined for another table. */
export function partitionDay(name: string): number | undefined {
  const m = NAME.exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Partitions made or found inside one transaction: known to others only once it commits. */
export interface PartitionScope {
  readonly added: Set<string>;
  commit(): void;
}

/**
 * Which day partitions exist, per store (one per database), and how new
 * ones are made. Only partitions of today and later are remembered: an
 * older one may be dropped by retention in another process at any time.
 */
export class EventPartitions {
  private readonly known = new Set<string>();
  private readonly making = new Map<string, Promise<boolean>>();

  constructor(
    readonly root: SqlClient,
    readonly now: () => number = Date.now,
  ) {}

  /** A scope for a transaction: what it makes is remembered when it commits. */
  transactionScope(): PartitionScope {
    const added = new Set<string>();
    return {
      added,
      commit: () => {
        for (const n of added) this.known.add(n);
      },
    };
  }

  forget(name: string): void {
    this.known.delete(name);
  }

  /**
   * Make sure the day partitions for events at `times` (ms) exist, where
   * their days are near enough the present to have one, and return the
   * names of those that do. `db` is the caller's queryable (a transaction
   * when `scope` is given).
   */
  async ensure(db: Queryable, scope: PartitionScope | undefined, times: number[]): Promise<string[]> {
    const today = dayStart(this.now());
    const low = today - PARTITION_DAYS_BACK * DAY_MS;
    const high = today + PARTITION_DAYS_AHEAD * DAY_MS;
    const wanted = new Map<string, number>([
      [partitionName(today), today],
      [partitionName(today + DAY_MS), today + DAY_MS],
    ]);
    for (const t of times) {
      const day = dayStart(t);
      if (day >= low && day <= high) wanted.set(partitionName(day), day);
    }
    const ready: string[] = [];
    const unknown: string[] = [];
    for (const [name, day] of wanted) {
      if ((day >= today && this.known.has(name)) || scope?.added.has(name)) ready.push(name);
      else unknown.push(name);
    }
    if (unknown.length === 0) return ready;
    // Inside a PGlite transaction the catalogue shows partitions this transaction made: remembered only on commit.
    const remember = (name: string) => {
      if (scope && this.root.engine === 'pglite') scope.added.add(name);
      else if (wanted.get(name)! >= today) this.known.add(name);
    };
    const found = new Set(await attached(db, unknown));
    const fresh: string[] = [];
    for (const name of unknown) {
      if (found.has(name) || (await this.make(db, scope, name, wanted.get(name)!))) {
        fresh.push(name);
        remember(name);
      }
    }
    if (fresh.length > 0 && scope && this.root.engine === 'postgres') {
      // A transaction that already holds its lock on the events table does not read the catalogue changes that
      // another connection committed since (the partitions just attached) until it takes a lock it did not hold:
      // one on each new partition, so the insert routes rows to them.
      await db.query('SELECT pg_relation_size(c.oid) FROM pg_class c WHERE c.relname = ANY($1::text[])', [
        fresh,
      ]);
    }
    return [...ready, ...fresh];
  }

  /** Make one day partition; false when it could not be made (its events then go to the catch-all). */
  private async make(db: Queryable, scope: PartitionScope | undefined, name: string, day: number) {
    if (this.root.engine === 'pglite') {
      // One connection: inside the caller's transaction (under a savepoint), or in a transaction of its own.
      if (!scope) return this.root.transaction((tx) => makeIn(tx, name, day, true)).catch(() => false);
      await db.query('SAVEPOINT aisoc_partition');
      try {
        await makeIn(db, name, day, true);
        await db.query('RELEASE SAVEPOINT aisoc_partition');
        return true;
      } catch {
        await db.query('ROLLBACK TO SAVEPOINT aisoc_partition');
        await db.query('RELEASE SAVEPOINT aisoc_partition');
        return false;
      }
    }
    // PostgreSQL: on a connection of its own, committed at once, one attempt per day in this process. The caller's
    // transaction may hold the pool's last connections, so it waits a bounded time and lets the attempt finish later.
    let attempt = this.making.get(name);
    if (!attempt) {
      attempt = this.root
        .transaction(async (tx) => {
          await tx.query("SET LOCAL lock_timeout = '5s'");
          return makeIn(tx, name, day, false);
        })
        .catch(async () => (await attached(this.root, [name])).length === 1)
        .catch(() => false)
        .finally(() => this.making.delete(name));
      this.making.set(name, attempt);
    }
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), MAKE_WAIT_MS);
      timer.unref();
    });
    try {
      return await Promise.race([attempt, waited]);
    } finally {
      clearTimeout(timer);
    }
  }
}

async function makeIn(q: Queryable, name: string, day: number, embedded: boolean): Promise<true> {
  // `name` is made by partitionName: letters, digits and an underscore.
  const options = embedded ? ` WITH (toast_tuple_target = ${EVENT_TOAST_TARGET})` : '';
  await q.query(`CREATE TABLE "${name}" (LIKE events)${options}`);
  await q.query(
    `ALTER TABLE events ATTACH PARTITION "${name}" FOR VALUES FROM ('${iso(day)}') TO ('${iso(day + DAY_MS)}')`,
  );
  return true;
}

/** Which of `names` are partitions of the events table now. */
export async function attached(q: Queryable, names?: string[]): Promise<string[]> {
  const r = await q.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'events'::regclass ${names ? 'AND c.relname = ANY($1::text[])' : ''}`,
    names ? [names] : [],
  );
  return r.rows.map((row) => row.name);
}
