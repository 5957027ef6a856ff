import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { AnalystStore } from '../analyst/service.ts';
import type { CorrelationRecords } from '../correlate/index.ts';
import { uuidv7 } from '../ids.ts';
import type { Alert } from '../schema/alert.ts';
import type { AuditEntry } from '../schema/case.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import type { Incident } from '../schema/incident.ts';
import type { StoredVerdict } from '../schema/verdict.ts';
import type { AuditInput } from '../store/repos/audit.ts';
import { batchGet, batchWrite, docOf, type Item, N, queryAll, S, str } from './dynamo.ts';

/**
 * Alerts, incidents, the events they cite, verdicts, the audit trail and the
 * results of the state machine, in one DynamoDB table (the AWS deployment's
 * store; the container's is PostgreSQL). Each item holds its record as JSON
 * in `doc` under the key `pk` = `<kind>#<id>`; one index (`gsi1`) answers the
 * two questions correlation asks (recent alerts of a fingerprint, open
 * incidents) and the analyst's (the latest verdict of a cache key). It gives
 * the correlator and the analyst the repositories they use (the same
 * modules `aisoc serve` runs: src/correlate, src/analyst).
 */

/** The secondary index's name, as the CDK app creates it. */
export const GSI1 = 'gsi1';

const CLOSED_INCIDENT = new Set(['resolved', 'closed']);
/** Correlation reads at most this many open incidents, as the PostgreSQL repository does. */
const OPEN_INCIDENTS_READ = 5000;

function key(kind: string, id: string): Item {
  return { pk: S(`${kind}#${id}`) };
}

export interface RecordsOptions {
  db: DynamoDBClient;
  table: string;
  /** How long events cited by alerts are kept (the item's TTL), in days. */
  eventsTtlDays: number;
  now?: () => number;
}

export class DynamoRecords implements CorrelationRecords, AnalystStore {
  private readonly db: DynamoDBClient;
  private readonly table: string;
  private readonly now: () => number;
  private auditSeq = 0;

  constructor(private readonly options: RecordsOptions) {
    this.db = options.db;
    this.table = options.table;
    this.now = options.now ?? Date.now;
  }

  private async getDoc<T>(kind: string, id: string): Promise<T | undefined> {
    const r = await this.db.send(new GetItemCommand({ TableName: this.table, Key: key(kind, id) }));
    return docOf<T>(r.Item);
  }

  private async getDocs<T>(kind: string, ids: readonly string[]): Promise<T[]> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return [];
    const items = await batchGet(
      this.db,
      this.table,
      unique.map((id) => key(kind, id)),
    );
    const byPk = new Map(items.map((i) => [str(i, 'pk'), docOf<T>(i)!]));
    // In the order asked, as the SQL repositories' callers expect nothing else.
    return unique.flatMap((id) => (byPk.has(`${kind}#${id}`) ? [byPk.get(`${kind}#${id}`)!] : []));
  }

  private put(kind: string, id: string, doc: unknown, extra: Item = {}): { PutRequest: { Item: Item } } {
    return { PutRequest: { Item: { ...key(kind, id), doc: S(JSON.stringify(doc)), ...extra } } };
  }

  readonly alerts = {
    get: (id: string) => this.getDoc<Alert>('alert', id),
    getMany: (ids: string[]) => this.getDocs<Alert>('alert', ids),
    upsert: async (alerts: Alert[]): Promise<void> => {
      await batchWrite(
        this.db,
        this.table,
        alerts.map((a) =>
          this.put(
            'alert',
            a.id,
            a,
            a.status === 'closed' ? {} : { gsi1pk: S(`fp#${a.fingerprint}`), gsi1sk: S(a.last_seen) },
          ),
        ),
      );
    },
    /** The latest alert of each fingerprint seen since `since`, closed ones left out (as in PostgreSQL). */
    findRecentByFingerprint: async (fingerprints: string[], since: string): Promise<Alert[]> => {
      const out: Alert[] = [];
      for (const fp of [...new Set(fingerprints)]) {
        const items = await queryAll(
          this.db,
          {
            TableName: this.table,
            IndexName: GSI1,
            KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk >= :since',
            ExpressionAttributeValues: { ':pk': S(`fp#${fp}`), ':since': S(since) },
            ScanIndexForward: false,
            Limit: 1,
          },
          1,
        );
        const a = docOf<Alert>(items[0]);
        if (a && a.status !== 'closed') out.push(a);
      }
      return out;
    },
  };

  readonly incidents = {
    get: (id: string) => this.getDoc<Incident>('incident', id),
    upsert: async (incidents: Incident[]): Promise<void> => {
      await batchWrite(
        this.db,
        this.table,
        incidents.map((i) =>
          this.put(
            'incident',
            i.id,
            i,
            CLOSED_INCIDENT.has(i.status) ? {} : { gsi1pk: S('incident#open'), gsi1sk: S(i.last_seen) },
          ),
        ),
      );
    },
    listOpenSince: async (since: string): Promise<Incident[]> => {
      const items = await queryAll(
        this.db,
        {
          TableName: this.table,
          IndexName: GSI1,
          KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk >= :since',
          ExpressionAttributeValues: { ':pk': S('incident#open'), ':since': S(since) },
          ScanIndexForward: false,
        },
        OPEN_INCIDENTS_READ,
      );
      return items.map((i) => docOf<Incident>(i)!).filter((i) => !CLOSED_INCIDENT.has(i.status));
    },
  };

  readonly events = {
    getMany: (ids: string[]) => this.getDocs<NormalisedEvent>('event', ids),
    /** Keep the events alerts cite, for the analyst (they expire after `eventsTtlDays`). */
    insert: async (events: NormalisedEvent[]): Promise<void> => {
      const expires = Math.floor(this.now() / 1000) + this.options.eventsTtlDays * 86_400;
      await batchWrite(
        this.db,
        this.table,
        events.map((e) => this.put('event', e.id, e, { expires_at: N(expires) })),
      );
    },
  };

  readonly verdicts = {
    /** The latest verdict of a subject (each insert also writes it under `verdict-latest#<subject>`). */
    latestFor: (subjectId: string) => this.getDoc<StoredVerdict>('verdict-latest', subjectId),
    insert: async (v: StoredVerdict): Promise<void> => {
      await this.db.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...key('verdict-latest', v.alert_id), doc: S(JSON.stringify(v)) },
        }),
      );
      await this.db.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            ...key('verdict', v.id),
            doc: S(JSON.stringify(v)),
            ...(v.cache_key ? { gsi1pk: S(`vcache#${v.cache_key}`), gsi1sk: S(v.created_at) } : {}),
          },
        }),
      );
    },
    latestByCacheKey: async (cacheKey: string): Promise<StoredVerdict | undefined> => {
      const items = await queryAll(
        this.db,
        {
          TableName: this.table,
          IndexName: GSI1,
          KeyConditionExpression: 'gsi1pk = :pk',
          ExpressionAttributeValues: { ':pk': S(`vcache#${cacheKey}`) },
          ScanIndexForward: false,
          Limit: 1,
        },
        1,
      );
      return docOf<StoredVerdict>(items[0]);
    },
  };

  readonly audit = {
    append: async (e: AuditInput): Promise<AuditEntry> => {
      const at = new Date(this.now()).toISOString();
      // DynamoDB has no sequence: ids are microsecond-like numbers, increasing within a container.
      const id = this.now() * 1000 + (this.auditSeq++ % 1000);
      const entry = { ...e, id, at, details: e.details ?? {} } as AuditEntry;
      await this.db.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { ...key('audit', uuidv7(this.now())), doc: S(JSON.stringify(entry)) },
        }),
      );
      return entry;
    },
  };

  readonly results = {
    /** The outcome of one state-machine execution for a subject (the Store state). */
    put: async (subjectId: string, execution: string, doc: unknown): Promise<void> => {
      await this.db.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            ...key('result', `${subjectId}#${execution}`),
            doc: S(JSON.stringify(doc)),
            gsi1pk: S(`results#${subjectId}`),
            gsi1sk: S(new Date(this.now()).toISOString()),
          },
        }),
      );
    },
  };
}
