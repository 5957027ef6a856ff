import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** SQS takes at most 256 KiB a message: a record is cut to this, marked, so the reason always arrives. */
const MAX_RECORD_CHARS = 200_000;

export interface DeadLetterMessage {
  /** Which function refused it: normalise, detect. */
  stage: string;
  code: string;
  reason: string;
  field?: string;
  /** The record (or Kinesis data) as received, cut to 200,000 characters. */
  record: string;
  truncated?: boolean;
}

/** The text of a record for a dead letter. */
export function recordText(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Send what a function could not process to the dead-letter queue, with the
 * reason: the AWS deployment's dead-letter table. Nothing accepted is lost.
 */
export async function sendDeadLetters(
  sqs: SQSClient,
  queueUrl: string,
  letters: ReadonlyArray<Omit<DeadLetterMessage, 'truncated'>>,
): Promise<void> {
  for (const l of letters) {
    const truncated = l.record.length > MAX_RECORD_CHARS;
    const body: DeadLetterMessage = {
      ...l,
      record: truncated ? l.record.slice(0, MAX_RECORD_CHARS) : l.record,
      ...(truncated ? { truncated } : {}),
    };
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(body),
        MessageAttributes: {
          stage: { DataType: 'String', StringValue: l.stage },
          code: { DataType: 'String', StringValue: l.code },
        },
      }),
    );
  }
}
