import { KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { AisocError } from '../errors.ts';
import { eventLimitsOf } from '../pipeline/ingest.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import { SourceRegistry } from '../sources/index.ts';
import type { EventLimits } from '../sources/limits.ts';
import { normaliseRecords } from '../sources/normalise.ts';
import { createLogger } from '../telemetry/logger.ts';
import { recordText, sendDeadLetters } from './dead-letters.ts';
import { awsEnv, functionConfig } from './env.ts';

/**
 * The normaliser: EventBridge delivers one event (a CloudTrail management
 * event, a GuardDuty finding, a Security Hub findings batch) per
 * invocation. The product's sources read it (`cloudtrail`, `guardduty`,
 * `securityhub`: their `unwrap` opens the EventBridge envelope), exactly as
 * `POST /ingest/<source>` would, and the normalised events go to Kinesis,
 * one record each. What a source refuses goes to the dead-letter queue with
 * its reason and field.
 */

/** The source that reads an EventBridge event, by its `source` and `detail-type`. */
export function sourceOf(event: unknown): string {
  if (typeof event !== 'object' || event === null || Array.isArray(event))
    throw new AisocError('AISOC_ERR_VALIDATION', 'The EventBridge event is not an object', {
      field: 'event',
    });
  const e = event as Record<string, unknown>;
  const detailType = e['detail-type'];
  if (typeof detailType !== 'string')
    throw new AisocError('AISOC_ERR_VALIDATION', 'The EventBridge event has no detail-type', {
      field: 'detail-type',
    });
  if (e.source === 'aws.guardduty') return 'guardduty';
  if (e.source === 'aws.securityhub') return 'securityhub';
  if (detailType.endsWith('via CloudTrail')) return 'cloudtrail';
  throw new AisocError(
    'AISOC_ERR_VALIDATION',
    `No source reads EventBridge events of detail-type ${JSON.stringify(detailType.slice(0, 200))} from ${JSON.stringify(String(e.source).slice(0, 100))}`,
    { field: 'detail-type' },
  );
}

export interface NormaliseDeps {
  kinesis: KinesisClient;
  sqs: SQSClient;
  sources: SourceRegistry;
  streamName: string;
  deadLetterQueueUrl: string;
  limits: EventLimits;
  logger: Logger;
  now?: () => Date;
}

export interface NormaliseResult {
  source?: string;
  events: number;
  dead_letters: number;
}

/** Attempts at records Kinesis refuses (throttled) before the invocation fails and EventBridge retries it. */
const PUT_ATTEMPTS = 4;

async function putEvents(deps: NormaliseDeps, events: NormalisedEvent[]): Promise<void> {
  const pending: PutRecordsRequestEntry[] = events.map((e) => ({
    Data: Buffer.from(JSON.stringify(e)),
    // Any shard may take any event: the detection function correlates under one lock.
    PartitionKey: e.id,
  }));
  for (let i = 0; i < pending.length; i += 500) {
    let slice = pending.slice(i, i + 500);
    for (let attempt = 0; slice.length > 0; attempt++) {
      if (attempt >= PUT_ATTEMPTS)
        throw new AisocError(
          'AISOC_ERR_STREAM_UNAVAILABLE',
          `Kinesis refused ${slice.length} records ${PUT_ATTEMPTS} times`,
          {
            field: 'stream',
          },
        );
      if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      const out = await deps.kinesis.send(
        new PutRecordsCommand({ StreamName: deps.streamName, Records: slice }),
      );
      const failed = out.FailedRecordCount ?? 0;
      slice = failed === 0 ? [] : slice.filter((_, j) => out.Records?.[j]?.ErrorCode !== undefined);
    }
  }
}

export function createNormaliseHandler(deps: NormaliseDeps) {
  return async (event: unknown): Promise<NormaliseResult> => {
    let type: string;
    try {
      type = sourceOf(event);
    } catch (err) {
      const e = err as AisocError;
      await sendDeadLetters(deps.sqs, deps.deadLetterQueueUrl, [
        {
          stage: 'normalise',
          code: e.code,
          reason: e.message,
          ...(e.field ? { field: e.field } : {}),
          record: recordText(event),
        },
      ]);
      return { events: 0, dead_letters: 1 };
    }
    const now = (deps.now ?? (() => new Date()))().toISOString();
    const out = normaliseRecords(deps.sources.get(type), [{ value: event }], now, deps.limits);
    if (out.events.length > 0) await putEvents(deps, out.events);
    if (out.deadLetters.length > 0)
      await sendDeadLetters(
        deps.sqs,
        deps.deadLetterQueueUrl,
        out.deadLetters.map((d) => ({
          stage: 'normalise',
          code: d.code,
          reason: d.reason,
          ...(d.field ? { field: d.field } : {}),
          record: d.record,
        })),
      );
    deps.logger.debug(
      { source: type, events: out.events.length, dead_letters: out.deadLetters.length },
      'Normalised an event.',
    );
    return { source: type, events: out.events.length, dead_letters: out.deadLetters.length };
  };
}

let built: ReturnType<typeof createNormaliseHandler> | undefined;

/** The Lambda entry point (Ingestion stack). */
export async function handler(event: unknown): Promise<NormaliseResult> {
  if (!built) {
    const config = functionConfig();
    const env = awsEnv(['stream_name', 'dead_letter_queue_url']);
    const logger = createLogger({ level: config.log_level });
    built = createNormaliseHandler({
      kinesis: new KinesisClient({}),
      sqs: new SQSClient({}),
      sources: new SourceRegistry(config.sources, logger),
      streamName: env.stream_name,
      deadLetterQueueUrl: env.dead_letter_queue_url,
      limits: eventLimitsOf(config.pipeline),
      logger,
    });
  }
  return built(event);
}
