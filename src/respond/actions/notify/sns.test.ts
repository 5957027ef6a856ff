import { createHash } from 'node:crypto';
import {
  GetTopicAttributesCommand,
  PublishCommand,
  SNSClient,
  ThrottledException,
} from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AisocError } from '../../../errors.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { awsError, callLog, FAST_RETRY, mutatingCalls } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { snsFactory, snsSubject } from './sns.ts';

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:soc-alerts';
const INCIDENT = '0190b6c4-5f1e-7c3a-9d2b-0123456789ab';
const INPUT = {
  title: 'Security group opened to the world',
  summary: 'sg-0123456789abcdef0 now allows tcp 22 from 0.0.0.0/0.',
  severity: 'medium',
  incident_id: INCIDENT,
};
const CONFIG = { topic_arn: TOPIC, retry: FAST_RETRY };

function fakeSns() {
  const mock = mockClient(SNSClient);
  const published: unknown[] = [];
  let failing = false;
  mock.on(GetTopicAttributesCommand).callsFake((i: { TopicArn: string }) => {
    if (!i.TopicArn.includes('soc-alerts')) throw awsError('NotFound', 'Topic does not exist', 404);
    return { Attributes: { TopicArn: i.TopicArn, SubscriptionsConfirmed: '3' } };
  });
  mock.on(PublishCommand).callsFake((i) => {
    if (failing) throw awsError('AuthorizationError', 'User is not authorized to perform: SNS:Publish', 403);
    published.push(i);
    return { MessageId: `m-${published.length}` };
  });
  return {
    mock,
    published,
    fail: () => {
      failing = true;
    },
  };
}

describeActionConformance({
  factory: snsFactory,
  config: CONFIG,
  async harness() {
    const f = fakeSns();
    return {
      mutations: () => mutatingCalls(f.mock),
      calls: () => f.mock.calls().length,
      fail: f.fail,
      async close() {
        f.mock.restore();
      },
    };
  },
  validInput: INPUT,
  otherInput: { ...INPUT, incident_id: undefined, alert_id: INCIDENT },
  badInputs: [
    { input: { ...INPUT, topic_arn: 'arn:aws:sns:us-east-1:999999999999:exfil' }, field: 'topic_arn' },
    { input: { ...INPUT, severity: 5 }, field: 'severity' },
  ],
});

describe('notify.sns', () => {
  let f: ReturnType<typeof fakeSns>;
  beforeEach(() => {
    f = fakeSns();
  });
  afterEach(() => {
    f.mock.restore();
  });
  const run = { dryRun: false, idempotencyKey: 'run-3' };

  it('publishes text with a subject and filterable attributes — exactly this call', async () => {
    const r = await snsFactory.create(CONFIG, { logger: silentLogger() }).execute(INPUT, run);
    expect(r.status).toBe('succeeded');
    expect(callLog(f.mock)).toEqual([
      [
        'Publish',
        {
          TopicArn: TOPIC,
          Subject: '[AI-SOC] [MEDIUM] Security group opened to the world',
          Message: [
            '[MEDIUM] Security group opened to the world',
            '',
            'sg-0123456789abcdef0 now allows tcp 22 from 0.0.0.0/0.',
            '',
            'Severity: medium',
            `Incident: ${INCIDENT}`,
            '',
            '— AI-SOC',
          ].join('\n'),
          MessageAttributes: {
            'aisoc.severity': { DataType: 'String', StringValue: 'medium' },
            'aisoc.source': { DataType: 'String', StringValue: 'aisoc' },
            'aisoc.incident_id': { DataType: 'String', StringValue: INCIDENT },
          },
        },
      ],
    ]);
  });

  it('on a FIFO topic groups by incident and deduplicates by the idempotency key', async () => {
    const fifo = `${TOPIC}.fifo`;
    await snsFactory
      .create({ ...CONFIG, topic_arn: fifo, format: 'json' }, { logger: silentLogger() })
      .execute(INPUT, run);
    const input = f.published[0] as Record<string, unknown>;
    expect(input.MessageGroupId).toBe(INCIDENT);
    expect(input.MessageDeduplicationId).toBe(createHash('sha256').update('run-3').digest('hex'));
    expect(JSON.parse(input.Message as string)).toMatchObject({
      type: 'aisoc.notification',
      title: INPUT.title,
    });
  });

  it('reads the topic in a dry run and publishes nothing', async () => {
    const r = await snsFactory
      .create(CONFIG, { logger: silentLogger() })
      .execute(INPUT, { dryRun: true, idempotencyKey: 'k' });
    expect(r.summary).toContain('(3 confirmed subscriptions)');
    expect(callLog(f.mock).map(([op]) => op)).toEqual(['GetTopicAttributes']);
  });

  it('retries throttling, then publishes once', async () => {
    f.mock
      .on(PublishCommand)
      .rejectsOnce(new ThrottledException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }))
      .rejectsOnce(awsError('InternalError', 'internal', 500))
      .resolves({ MessageId: 'm-1' });
    const r = await snsFactory.create(CONFIG, { logger: silentLogger() }).execute(INPUT, run);
    expect(r.details).toMatchObject({ message_id: 'm-1' });
    expect(mutatingCalls(f.mock)).toEqual(['Publish', 'Publish', 'Publish']);
  });

  it('maps AuthorizationError to AISOC_ERR_ACTION_ACCESS_DENIED', async () => {
    f.fail();
    const err = await snsFactory
      .create(CONFIG, { logger: silentLogger() })
      .execute(INPUT, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_ACCESS_DENIED');
  });

  it('keeps subjects ASCII, on one line, under 100 characters', () => {
    const s = snsSubject(`[AI-SOC] Zugriff über “Konsole”\r\nBcc: x@example.com ${'y'.repeat(200)}`);
    expect(s).toMatch(/^[\x20-\x7e]*…?$/u);
    expect(s.length).toBeLessThan(100);
    expect(s).not.toMatch(/[\r\n]/);
  });
});
