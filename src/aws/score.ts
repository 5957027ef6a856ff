import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type AssetContext, scorePriority } from '../analyst/priority.ts';
import { incidentPriority } from '../correlate/index.ts';
import { AisocError } from '../errors.ts';
import { awsEnv, functionConfig } from './env.ts';
import { DynamoRecords } from './records.ts';
import { CorrelationState } from './state.ts';
import { parseInput, TriageInput } from './subject.ts';
import { FUNCTION_TIMEOUT_S } from './timeouts.ts';

/**
 * Score: the priority of each of the incident's alerts from detections, ML,
 * assets, tactics and correlation (`scorePriority`, the playbooks'
 * `core.score`), stored when it changed, and the incident's from its alerts
 * (`incidentPriority`). The state machine's Choice compares the incident's
 * with the threshold.
 */

export interface ScoreResult {
  priority: number;
  alerts: number;
  /** The top alert's priority components, for the record. */
  components: Array<{ factor: string; points: number; reason: string }>;
}

export interface ScoreDeps {
  records: DynamoRecords;
  /** The correlate lock: alerts and incidents are rewritten whole, so never beside a correlating batch. */
  state: CorrelationState;
  assets: AssetContext;
  now?: () => Date;
}

export function createScoreHandler(deps: ScoreDeps) {
  return async (input: unknown): Promise<ScoreResult> => {
    const { subject } = parseInput(TriageInput, input);
    const holder = `score:${subject.id}:${Math.random().toString(36).slice(2)}`;
    await deps.state.lock(holder, FUNCTION_TIMEOUT_S.score * 1000, (FUNCTION_TIMEOUT_S.score * 1000) / 2);
    try {
      return await score(deps, subject.id);
    } finally {
      await deps.state.unlock(holder);
    }
  };
}

async function score(deps: ScoreDeps, id: string): Promise<ScoreResult> {
  const subject = { id };
  const incident = await deps.records.incidents.get(subject.id);
  if (!incident)
    throw new AisocError('AISOC_ERR_NOT_FOUND', `No incident ${subject.id}`, { field: 'subject.id' });
  const alerts = await deps.records.alerts.getMany(incident.alert_ids);
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const changed = [];
  let top: { score: number; components: ScoreResult['components'] } = { score: -1, components: [] };
  for (const a of alerts) {
    const r = scorePriority({ alert: a, assets: deps.assets, incidentSize: incident.alert_count });
    if (r.score > top.score) top = r;
    if (r.score !== a.priority) {
      a.priority = r.score;
      a.updated_at = now;
      changed.push(a);
    }
  }
  if (changed.length) await deps.records.alerts.upsert(changed);
  const priority = incidentPriority(alerts.map((a) => a.priority));
  if (priority !== incident.priority)
    await deps.records.incidents.upsert([{ ...incident, priority, updated_at: now }]);
  return { priority, alerts: alerts.length, components: top.components };
}

let built: ReturnType<typeof createScoreHandler> | undefined;

/** The Lambda entry point (Orchestration stack, the Score state). */
export async function handler(input: unknown): Promise<ScoreResult> {
  if (!built) {
    const config = functionConfig();
    const env = awsEnv(['records_table', 'state_table', 'events_ttl_days']);
    const db = new DynamoDBClient({});
    built = createScoreHandler({
      records: new DynamoRecords({ db, table: env.records_table, eventsTtlDays: env.events_ttl_days }),
      state: new CorrelationState({ db, table: env.state_table }),
      assets: config.analyst.assets,
    });
  }
  return built(input);
}
