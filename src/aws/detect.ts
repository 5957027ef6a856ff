import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { Correlator, itemKey, sortOutputs } from '../correlate/index.ts';
import { buildDetectors } from '../detect/index.ts';
import { MlService } from '../detect/ml/service.ts';
import { NoiseControl, type NoiseOutcome } from '../detect/noise/persisted.ts';
import { detectStage } from '../detect/stage.ts';
import type { DetectionWindows, DetectOutput, Detector } from '../detect/types.ts';
import { describeError } from '../errors.ts';
import { fingerprint } from '../ids.ts';
import type { StageContext } from '../pipeline/stage.ts';
import { NormalisedEvent } from '../schema/event.ts';
import type { Incident } from '../schema/incident.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { DynamoBaselines } from './baselines.ts';
import { recordText, sendDeadLetters } from './dead-letters.ts';
import { awsEnv, functionConfig } from './env.ts';
import { DynamoRecords } from './records.ts';
import { CorrelationState } from './state.ts';
import { FUNCTION_TIMEOUT_S } from './timeouts.ts';

/**
 * The detection function: Kinesis hands it a batch of normalised events.
 * It runs the detect stage (`upstream`, `sigma` with the rules of
 * `content/`, `ml` with the models of `models/`: the same detectors `aisoc
 * serve` builds), then correlates with the product's `Correlator` against
 * alerts and incidents in DynamoDB, under a lock, skipping what the inbox
 * says was processed (Kinesis delivers a batch again after a failure), and
 * starts the triage state machine for each incident that changed.
 *
 * Noise control (`detect.noise`, on by default) runs as in `aisoc serve`:
 * the detect stage reports what each batch's cloud calls add to the
 * first-seen baselines, and under the same lock `NoiseControl.apply` moves
 * the candidates' levels by rarity against the baselines table
 * (src/aws/baselines.ts) and grows it; the feed's key goes into the inbox
 * with the others, so a batch delivered again adds nothing twice.
 *
 * It reports partial batch failures: a record that is not an event (or that
 * a detector fails on) goes to the dead-letter queue and is not failed; when
 * correlation fails, every record is reported, so Lambda retries the batch
 * (the inbox makes the retry change nothing twice).
 */

/** The Kinesis event Lambda sends (the fields read here). */
export interface KinesisBatch {
  Records: Array<{
    eventID?: string;
    kinesis: { data: string; sequenceNumber: string; partitionKey?: string };
  }>;
}

export interface BatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

export interface DetectDeps {
  records: DynamoRecords;
  state: CorrelationState;
  sqs: SQSClient;
  sfn: SFNClient;
  detectors: Detector[];
  correlator: Correlator;
  windows: DetectionWindows[];
  deadLetterQueueUrl: string;
  stateMachineArn: string;
  logger: Logger;
  /** This invocation's name on the lock. */
  holder: () => string;
  /** How long the lock is held at most (the function's timeout), ms. */
  leaseMs: number;
  /** How long a batch waits for the lock before it is reported failed, ms. */
  lockWaitMs: number;
  /** Noise control and its baselines table; absent when `detect.noise.enabled` is false. */
  noise?: { control: NoiseControl; baselines: DynamoBaselines };
}

/** The execution name of an incident's triage: one per set of alerts, so a redelivered batch starts none twice. */
export function executionName(incident: Pick<Incident, 'id' | 'alert_ids'>): string {
  return `${incident.id}-${fingerprint(...[...incident.alert_ids].sort()).slice(0, 16)}`;
}

function decode(data: string): { event?: NormalisedEvent; error?: { reason: string; field?: string } } {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
  } catch (err) {
    return { error: { reason: `The Kinesis record is not JSON: ${(err as Error).message}`, field: 'data' } };
  }
  const parsed = NormalisedEvent.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      error: {
        reason: `The Kinesis record is not a normalised event: ${issue?.message ?? 'invalid'}`,
        field: issue?.path.join('.') || 'data',
      },
    };
  }
  return { event: parsed.data };
}

export function createDetectHandler(deps: DetectDeps) {
  const stage = detectStage(deps.detectors, { observe: deps.noise !== undefined });
  // The detect stage reads nothing of its context (src/detect/stage.ts): it only runs the detectors.
  const stageCtx = {} as StageContext;

  /** Detect over the batch; when a detector throws, event by event, and the events at fault are dead letters. */
  async function detect(events: NormalisedEvent[], seqOf: Map<string, string>) {
    try {
      return { outputs: (await stage.process(events, stageCtx)).outputs, failed: [] as string[] };
    } catch {
      const outputs: DetectOutput[] = [];
      const failed: string[] = [];
      for (const e of events) {
        try {
          outputs.push(...(await stage.process([e], stageCtx)).outputs);
        } catch (err) {
          failed.push(seqOf.get(e.id) ?? e.id);
          await sendDeadLetters(deps.sqs, deps.deadLetterQueueUrl, [
            {
              stage: 'detect',
              code: 'AISOC_ERR_INTERNAL',
              reason: describeError(err),
              record: recordText(e),
            },
          ]);
        }
      }
      return { outputs, failed };
    }
  }

  /** Correlate under the lock; returns the incidents that changed. */
  async function correlate(
    outputs: DetectOutput[],
    events: Map<string, NormalisedEvent>,
  ): Promise<Incident[]> {
    const holder = deps.holder();
    await deps.state.lock(holder, deps.leaseMs, deps.lockWaitMs);
    try {
      await deps.state.restoreWindows(deps.windows);
      const keyed = outputs.map((item) => ({ item, key: itemKey(item) }));
      const seen = await deps.state.seen(keyed.flatMap((k) => (k.key ? [k.key] : [])));
      const { candidates, feeds, baselineFeeds, fresh } = sortOutputs(keyed, seen);
      const byName = new Map(deps.windows.map((w) => [w.detector, w]));
      for (const [name, list] of feeds) {
        const w = byName.get(name);
        if (w) candidates.push(...w.offer(list));
      }
      // Rarity moves the candidates' levels, then the baselines grow: under the lock, as the correlate stage does.
      let moved: NoiseOutcome = { raised: 0, lowered: 0 };
      if (deps.noise)
        moved = await deps.noise.control.apply(
          deps.noise.baselines.forBatch(baselineFeeds.map((f) => f.id)),
          candidates,
          baselineFeeds,
        );
      // The analyst reads the events an alert cites: keep them beside the alerts.
      const cited = new Map<string, NormalisedEvent>();
      for (const c of candidates)
        for (const e of c.events) cited.set(e.id, events.get(e.id) ?? (e as NormalisedEvent));
      await deps.records.events.insert([...cited.values()]);
      const result = await deps.correlator.correlateDetailed(candidates, deps.records);
      await deps.state.saveWindows(deps.windows);
      await deps.state.record([...fresh]);
      deps.logger.info(
        {
          candidates: candidates.length,
          created: result.created,
          folded: result.folded,
          incidents: result.incidents.length,
          levels_raised: moved.raised,
          levels_lowered: moved.lowered,
        },
        'Correlated a batch.',
      );
      return result.incidents;
    } finally {
      await deps.state.unlock(holder);
    }
  }

  async function startTriage(incidents: Incident[]): Promise<void> {
    for (const i of incidents) {
      try {
        await deps.sfn.send(
          new StartExecutionCommand({
            stateMachineArn: deps.stateMachineArn,
            name: executionName(i),
            input: JSON.stringify({ subject: { type: 'incident', id: i.id } }),
          }),
        );
      } catch (err) {
        // Started by an earlier delivery of this batch: the same alerts, the same execution.
        if ((err as { name?: string }).name !== 'ExecutionAlreadyExists') throw err;
      }
    }
  }

  return async (batch: KinesisBatch): Promise<BatchResponse> => {
    const events = new Map<string, NormalisedEvent>();
    const seqOf = new Map<string, string>();
    const valid: string[] = [];
    const letters = [];
    for (const r of batch.Records ?? []) {
      const d = decode(r.kinesis.data);
      if (d.event) {
        events.set(d.event.id, d.event);
        seqOf.set(d.event.id, r.kinesis.sequenceNumber);
        valid.push(r.kinesis.sequenceNumber);
      } else {
        letters.push({
          stage: 'detect',
          code: 'AISOC_ERR_VALIDATION',
          reason: d.error!.reason,
          ...(d.error!.field ? { field: d.error!.field } : {}),
          record: r.kinesis.data,
        });
      }
    }
    if (letters.length) await sendDeadLetters(deps.sqs, deps.deadLetterQueueUrl, letters);
    if (events.size === 0) return { batchItemFailures: [] };
    try {
      const { outputs } = await detect([...events.values()], seqOf);
      const incidents = outputs.length ? await correlate(outputs, events) : [];
      await startTriage(incidents);
      return { batchItemFailures: [] };
    } catch (err) {
      deps.logger.error(
        { err: describeError(err), records: valid.length },
        'The batch failed; Lambda will deliver it again.',
      );
      return { batchItemFailures: valid.map((itemIdentifier) => ({ itemIdentifier })) };
    }
  };
}

let built: Promise<ReturnType<typeof createDetectHandler>> | undefined;

async function build(): Promise<ReturnType<typeof createDetectHandler>> {
  const config = functionConfig();
  const env = awsEnv([
    'records_table',
    'state_table',
    'dead_letter_queue_url',
    'state_machine_arn',
    'events_ttl_days',
  ]);
  const logger = createLogger({ level: config.log_level });
  const metrics = createMetrics({ defaultMetrics: false });
  const db = new DynamoDBClient({});
  const noise = config.detect.noise.enabled
    ? {
        control: new NoiseControl(config.detect.noise),
        baselines: new DynamoBaselines({
          db,
          table: awsEnv(['baselines_table']).baselines_table,
          forgetAfterMs: config.detect.noise.forget_after_ms,
        }),
      }
    : undefined;
  const ml = config.ml.enabled ? await MlService.open(config.ml, { metrics, logger }) : undefined;
  const detectors = await buildDetectors(config.detect, {
    logger,
    metrics,
    detect: config.detect,
    ...(ml ? { ml } : {}),
  });
  const timeoutMs = FUNCTION_TIMEOUT_S.detect * 1000;
  return createDetectHandler({
    records: new DynamoRecords({ db, table: env.records_table, eventsTtlDays: env.events_ttl_days }),
    state: new CorrelationState({
      db,
      table: env.state_table,
      inboxKeepMs: config.correlate.inbox_retention_ms,
    }),
    sqs: new SQSClient({}),
    sfn: new SFNClient({}),
    detectors,
    correlator: new Correlator({
      dedupeWindowMs: config.correlate.dedupe_window_ms,
      groupWindowMs: config.correlate.group_window_ms,
      groupBy: config.correlate.group_by,
    }),
    windows: detectors.flatMap((d) => (d.windowed ? [d.windowed.windows()] : [])),
    deadLetterQueueUrl: env.dead_letter_queue_url,
    stateMachineArn: env.state_machine_arn,
    logger,
    holder: () => `${process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'local'}:${Date.now()}`,
    leaseMs: timeoutMs,
    lockWaitMs: Math.min(60_000, timeoutMs / 4),
    ...(noise ? { noise } : {}),
  });
}

/** The Lambda entry point (Detection stack): a Kinesis event source with ReportBatchItemFailures. */
export async function handler(batch: KinesisBatch): Promise<BatchResponse> {
  built ??= build();
  built.catch(() => {
    built = undefined;
  });
  return (await built)(batch);
}
