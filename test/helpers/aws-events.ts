import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Real event shapes for the AWS handlers' tests, built from the shared data
 * (../shared/data): CloudTrail records as EventBridge delivers them
 * ("AWS API Call via CloudTrail"), GuardDuty findings as EventBridge
 * delivers them ("GuardDuty Finding"), and Kinesis batches as Lambda's
 * event source mapping delivers them.
 */

export type Json = Record<string, unknown>;

/** The records of a Stratus Red Team detonation (a bare JSON array) or a `{"Records": []}` file. */
export function cloudTrailRecords(file: string): Json[] {
  const v = JSON.parse(readFileSync(file, 'utf8')) as Json[] | { Records: Json[] };
  return Array.isArray(v) ? v : v.Records;
}

/** A CloudTrail record in its EventBridge envelope. */
export function eventBridgeCloudTrail(record: Json): Json {
  const console = record.eventType === 'AwsConsoleSignIn';
  return {
    version: '0',
    id: `eb-${String(record.eventID)}`,
    'detail-type': console ? 'AWS Console Sign In via CloudTrail' : 'AWS API Call via CloudTrail',
    source: `aws.${String(record.eventSource).split('.')[0]}`,
    account: String(record.recipientAccountId ?? '111111111111'),
    time: String(record.eventTime),
    region: String(record.awsRegion),
    resources: [],
    detail: record,
  };
}

/** The GuardDuty findings of the shared samples (Wazuh documents; each keeps the finding in `event.original`). */
export function guardDutyFindings(dataDir: string): Json[] {
  return readFileSync(join(dataDir, 'guardduty', 'findings_guardduty.json'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse((JSON.parse(l) as { event: { original: string } }).event.original) as Json);
}

/** A GuardDuty finding in its EventBridge envelope. */
export function eventBridgeGuardDuty(finding: Json): Json {
  return {
    version: '0',
    id: `eb-${String(finding.id)}`,
    'detail-type': 'GuardDuty Finding',
    source: 'aws.guardduty',
    account: String(finding.accountId),
    time: String(finding.updatedAt ?? finding.createdAt),
    region: String(finding.region),
    resources: [],
    detail: finding,
  };
}

/** A Kinesis batch as the event source mapping delivers it: base64 data, increasing sequence numbers. */
export function kinesisBatch(datas: Array<string | Buffer>): {
  Records: Array<{
    eventID: string;
    kinesis: { data: string; sequenceNumber: string; partitionKey: string };
  }>;
} {
  return {
    Records: datas.map((d, i) => {
      const sequenceNumber = String(49_650_000_000_000_000_000n + BigInt(i));
      return {
        eventID: `shardId-000000000000:${sequenceNumber}`,
        eventSource: 'aws:kinesis',
        eventSourceARN: 'arn:aws:kinesis:eu-west-1:111111111111:stream/aisoc-events',
        awsRegion: 'eu-west-1',
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: `p${i}`,
          sequenceNumber,
          data: Buffer.from(d).toString('base64'),
          approximateArrivalTimestamp: 1_722_586_000 + i,
        },
      };
    }),
  };
}
