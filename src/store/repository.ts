/**
 * The store's one composition point: every record family's repository
 * (`repos/<family>.ts`, each holding its own SQL and row mapping) bound to
 * one {@link Queryable}, so the same code serves PGlite and PostgreSQL,
 * inside or outside a transaction.
 */
import { ActionRepository } from './repos/actions.ts';
import { AlertRepository, IncidentRepository } from './repos/alerts.ts';
import { AuditRepository } from './repos/audit.ts';
import { BaselineRepository } from './repos/baselines.ts';
import { CaseRepository } from './repos/cases.ts';
import { ChangeFeedRepository } from './repos/changes.ts';
import { CorrelationWindowRepository } from './repos/correlation.ts';
import { DeadLetterRepository } from './repos/dead-letters.ts';
import { EventPartitions, type PartitionScope } from './repos/event-partitions.ts';
import { EventRepository } from './repos/events.ts';
import { StageInboxRepository } from './repos/inbox.ts';
import { ApiKeyRepository } from './repos/keys.ts';
import { KnowledgeDocumentRepository } from './repos/knowledge.ts';
import { KvRepository } from './repos/kv.ts';
import { LockRepository } from './repos/locks.ts';
import { OffsetRepository } from './repos/offsets.ts';
import { PlaybookRunRepository } from './repos/runs.ts';
import type { Row } from './repos/shared.ts';
import { StatsRepository } from './repos/stats.ts';
import { SuppressionRepository } from './repos/suppressions.ts';
import { VerdictRepository } from './repos/verdicts.ts';
import { WorkQueueRepository } from './repos/work.ts';
import { type Queryable, type SqlClient, toNumber } from './sql.ts';

export { ActionRepository } from './repos/actions.ts';
export {
  type AlertFilter,
  AlertRepository,
  type IncidentFilter,
  IncidentRepository,
} from './repos/alerts.ts';
export { type AuditInput, AuditRepository } from './repos/audit.ts';
export { type BaselineRecord, BaselineRepository } from './repos/baselines.ts';
export { CaseRepository } from './repos/cases.ts';
export {
  type ChangeCursor,
  ChangeFeedRepository,
  type ChangeRow,
  compareCursors,
  cursorOf,
} from './repos/changes.ts';
export {
  type CorrelateHead,
  CorrelationWindowRepository,
  type StoredWindowGroup,
} from './repos/correlation.ts';
export { type DeadLetterInput, DeadLetterRepository } from './repos/dead-letters.ts';
export { EventPartitions, type PartitionScope } from './repos/event-partitions.ts';
export {
  type EventFilter,
  EventRepository,
  type InsertEventsResult,
  ipFilter,
  MAX_TEXT_QUERY,
} from './repos/events.ts';
export { StageInboxRepository } from './repos/inbox.ts';
export {
  API_SCOPES,
  type ApiKeyRecord,
  ApiKeyRepository,
  type ApiScope,
  generateApiKey,
  hashApiKey,
} from './repos/keys.ts';
export { type DocumentOrigin, KnowledgeDocumentRepository, type StoredDocument } from './repos/knowledge.ts';
export { KvRepository } from './repos/kv.ts';
export { LockRepository, type ReleaseLock } from './repos/locks.ts';
export { OffsetRepository } from './repos/offsets.ts';
export { PlaybookRunRepository } from './repos/runs.ts';
export type { ListResult } from './repos/shared.ts';
export {
  OPEN_INCIDENT_STATUSES,
  PRIORITY_BANDS,
  StatsRepository,
  type TimeWindow,
} from './repos/stats.ts';
export { SuppressionRepository } from './repos/suppressions.ts';
export { VerdictRepository } from './repos/verdicts.ts';
export { type ClaimOutcome, type WorkClaim, WorkQueueRepository } from './repos/work.ts';

/**
 * The repository layer: one repository per record family, all over the same
 * {@link Queryable}.
 *
 * @example
 * const n = await store.events.count({ source: 'cloudtrail' });
 */
export class Repositories {
  readonly events: EventRepository;
  readonly alerts: AlertRepository;
  readonly incidents: IncidentRepository;
  readonly verdicts: VerdictRepository;
  readonly cases: CaseRepository;
  readonly audit: AuditRepository;
  readonly deadLetters: DeadLetterRepository;
  readonly apiKeys: ApiKeyRepository;
  /** The pipeline's checkpoints. */
  readonly offsets: OffsetRepository;
  /** Action requests and their approvals. */
  readonly actions: ActionRepository;
  /** Playbook runs. */
  readonly runs: PlaybookRunRepository;
  readonly suppressions: SuppressionRepository;
  /** The durable work queue. */
  readonly work: WorkQueueRepository;
  readonly kv: KvRepository;
  /** Knowledge documents added at run time. */
  readonly knowledge: KnowledgeDocumentRepository;
  /** The correlate stage's lock and its persisted correlation windows. */
  readonly correlation: CorrelationWindowRepository;
  /** Keys of the items each stage has processed (idempotency). */
  readonly inbox: StageInboxRepository;
  /** Alerts and incidents in the order they changed (GET /stream). */
  readonly changes: ChangeFeedRepository;
  /** The console's counts: overview, coverage, rule hits, source activity. */
  readonly stats: StatsRepository;
  /** Noise control's first-seen baselines of cloud calls. */
  readonly baselines: BaselineRepository;

  /**
   * @param partitions the store's event partitions (one per database)
   * @param scope the transaction `db` is, if it is one
   */
  constructor(
    protected readonly db: Queryable,
    partitions: EventPartitions,
    scope?: PartitionScope,
  ) {
    this.events = new EventRepository(db, partitions, scope);
    this.alerts = new AlertRepository(db);
    this.incidents = new IncidentRepository(db);
    this.verdicts = new VerdictRepository(db);
    this.cases = new CaseRepository(db);
    this.audit = new AuditRepository(db);
    this.deadLetters = new DeadLetterRepository(db);
    this.apiKeys = new ApiKeyRepository(db);
    this.offsets = new OffsetRepository(db);
    this.actions = new ActionRepository(db);
    this.runs = new PlaybookRunRepository(db);
    this.suppressions = new SuppressionRepository(db);
    this.work = new WorkQueueRepository(db);
    this.kv = new KvRepository(db);
    this.knowledge = new KnowledgeDocumentRepository(db);
    this.correlation = new CorrelationWindowRepository(db);
    this.inbox = new StageInboxRepository(db);
    this.changes = new ChangeFeedRepository(db);
    this.stats = new StatsRepository(db);
    this.baselines = new BaselineRepository(db);
  }
}

/** The store: repositories over a client, plus transactions and lifecycle. */
export class Store extends Repositories {
  /** Locks held for a process's lifetime (one embedded runner per database). */
  readonly locks: LockRepository;
  private readonly partitions: EventPartitions;

  /** @param options.now the clock that decides which days have event partitions (tests move it) */
  constructor(
    readonly client: SqlClient,
    options: { now?: () => number } = {},
  ) {
    const partitions = new EventPartitions(client, options.now);
    super(client, partitions);
    this.partitions = partitions;
    this.locks = new LockRepository(client);
  }
  get engine(): SqlClient['engine'] {
    return this.client.engine;
  }
  /** Run `fn` with repositories bound to one transaction. */
  async transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
    const scope = this.partitions.transactionScope();
    const result = await this.client.transaction((q) => fn(new Repositories(q, this.partitions, scope)));
    scope.commit();
    return result;
  }
  /**
   * Whether the database answers: one trivial statement, which throws when
   * the connection is gone (the readiness probe, `GET /ready`).
   *
   * @example
   * await store.ping();
   */
  async ping(): Promise<void> {
    await this.client.query('SELECT 1');
  }

  /**
   * The embedded database's stand-in for autovacuum, which PGlite does not
   * run: `VACUUM` the console's search tables once enough of their rows
   * changed since the last (PostgreSQL's autovacuum thresholds: 1,000 rows
   * plus a tenth of the table). It marks pages all-visible, so counting the
   * alerts that match a filter reads an index alone, and it reclaims the
   * dead rows every alert update leaves. The narrow tables keep it short.
   * On PostgreSQL it does nothing: the server's autovacuum does this.
   * Returns the tables it vacuumed.
   */
  async maintainEmbedded(): Promise<string[]> {
    if (this.client.engine !== 'pglite') return [];
    // A backend reports its table counts at most once a second when idle; ask for them now.
    await this.client.query('SELECT pg_stat_force_next_flush()');
    const r = await this.client.query<Row>(
      `SELECT relname, n_live_tup, n_dead_tup, n_ins_since_vacuum FROM pg_stat_user_tables
        WHERE relname IN ('alert_search', 'alert_titles')`,
    );
    const done: string[] = [];
    for (const row of r.rows) {
      const changed = toNumber(row.n_dead_tup) + toNumber(row.n_ins_since_vacuum);
      if (changed <= 1000 + 0.1 * toNumber(row.n_live_tup)) continue;
      const table = String(row.relname) === 'alert_search' ? 'alert_search' : 'alert_titles';
      await this.client.query(`VACUUM ${table}`);
      done.push(table);
    }
    return done;
  }
  close(): Promise<void> {
    return this.client.close();
  }
}
