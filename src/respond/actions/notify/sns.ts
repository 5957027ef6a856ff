import { createHash } from 'node:crypto';
import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { awsCall } from '../aws/call.ts';
import { awsActionClient, awsConfigShape } from '../aws/client.ts';
import { baseConfigShape, defineAction } from '../define.ts';
import { linkBaseUrl, linkFor, NotificationInput, oneLine, plainText } from './message.ts';

const TopicArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}(\.fifo)?$/, 'must be an SNS topic ARN');

export const SnsConfig = z
  .strictObject({
    ...awsConfigShape,
    ...baseConfigShape,
    topic_arn: TopicArn.describe('Topic to publish to; its region is used unless region is set'),
    format: z
      .enum(['text', 'json'])
      .default('text')
      .describe('Message body: readable text (e-mail/SMS subscribers) or JSON (Lambda/SQS subscribers)'),
    subject_prefix: z
      .string()
      .max(40)
      .default('[AI-SOC]')
      .describe('Prefix of the subject (e-mail subscribers see it)'),
    link_base_url: linkBaseUrl,
  })
  .describe('notify.sns');

/** SNS subjects must be ASCII, without line breaks, under 100 characters. */
export function snsSubject(s: string): string {
  return oneLine(s.replace(/[^\x20-\x7e]/g, '?'), 99);
}

/**
 * `notify.sns`: publishes a notification to an SNS topic, with message
 * attributes subscribers can filter on (`aisoc.severity`, `aisoc.incident_id`,
 * `aisoc.alert_id`, `aisoc.source`). On a FIFO topic the deduplication id is
 * the hash of the run's idempotency key, so SNS drops a repeated publish.
 * A dry run reads the topic's attributes (it exists, we may see it) and
 * publishes nothing.
 *
 * @example
 * await snsFactory.create({ topic_arn: 'arn:aws:sns:eu-west-1:111122223333:soc-alerts' }, ctx).execute(notification, opts);
 */
export const snsFactory = defineAction({
  type: 'notify.sns',
  description: 'Publish a notification to an Amazon SNS topic, with filterable message attributes',
  effect: 'read-only',
  configSchema: SnsConfig,
  inputSchema: NotificationInput,
  build(config) {
    const topicRegion = config.topic_arn.split(':')[3];
    const snsClient = awsActionClient(
      '@aws-sdk/client-sns',
      config,
      (sdk, c) => new sdk.SNSClient(c),
      config.region ?? topicRegion,
    );
    const fifo = config.topic_arn.endsWith('.fifo');
    return {
      async execute(input, run) {
        const { sdk, client: sns } = await snsClient();
        const link = linkFor(input, config.link_base_url);
        const subject = snsSubject(
          `${config.subject_prefix} [${input.severity.toUpperCase()}] ${input.title}`,
        );
        const message =
          config.format === 'json'
            ? JSON.stringify({ type: 'aisoc.notification', ...input, url: link })
            : plainText(input, link);
        const attributes: Record<string, MessageAttributeValue> = {
          'aisoc.severity': { DataType: 'String', StringValue: input.severity },
          'aisoc.source': { DataType: 'String', StringValue: 'aisoc' },
        };
        if (input.incident_id)
          attributes['aisoc.incident_id'] = { DataType: 'String', StringValue: input.incident_id };
        if (input.alert_id)
          attributes['aisoc.alert_id'] = { DataType: 'String', StringValue: input.alert_id };
        const details = { topic_arn: config.topic_arn, subject, fifo };
        if (run.dryRun) {
          const topic = await awsCall(run, 'SNS GetTopicAttributes', (abortSignal) =>
            sns.send(new sdk.GetTopicAttributesCommand({ TopicArn: config.topic_arn }), { abortSignal }),
          );
          const confirmed = topic.Attributes?.SubscriptionsConfirmed ?? 'unknown';
          return {
            status: 'dry_run',
            summary: `Would publish "${subject}" to ${config.topic_arn} (${confirmed} confirmed subscriptions).`,
            details: { ...details, subscriptions_confirmed: confirmed, message },
          };
        }
        const out = await awsCall(run, 'SNS Publish', (abortSignal) =>
          sns.send(
            new sdk.PublishCommand({
              TopicArn: config.topic_arn,
              Subject: subject,
              Message: message,
              MessageAttributes: attributes,
              ...(fifo
                ? {
                    MessageGroupId: input.incident_id ?? input.alert_id ?? 'aisoc',
                    MessageDeduplicationId: createHash('sha256').update(run.idempotencyKey).digest('hex'),
                  }
                : {}),
            }),
            { abortSignal },
          ),
        );
        return {
          status: 'succeeded',
          summary: `Published "${subject}" to ${config.topic_arn}.`,
          details: { ...details, message_id: out.MessageId },
        };
      },
    };
  },
});
