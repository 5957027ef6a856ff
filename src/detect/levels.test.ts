import { describe, expect, it } from 'vitest';
import { testServer } from '../../test/helpers/runtime.ts';
import { RESOURCE_POLICY_RULE } from './policy/index.ts';

const OWN = '111122223333';
const record = (n: number, eventSource: string, eventName: string, requestParameters: unknown) => ({
  eventVersion: '1.08',
  eventID: `9c4e2b10-0000-4000-8000-${String(n).padStart(12, '0')}`,
  eventTime: `2024-03-04T10:1${n}:00Z`,
  eventSource,
  eventName,
  awsRegion: 'us-east-1',
  sourceIPAddress: '198.51.100.23',
  recipientAccountId: OWN,
  userIdentity: {
    type: 'IAMUser',
    accountId: OWN,
    arn: `arn:aws:iam::${OWN}:user/alice`,
    userName: 'alice',
  },
  requestParameters,
});

describe('detect.level_overrides in the pipeline', () => {
  it('sets the level of a code rule and of a Sigma rule, recording the rule’s own level and the key', async () => {
    const server = await testServer({
      detect: {
        level_overrides: {
          [RESOURCE_POLICY_RULE.title]: 'low',
          'CloudTrail trail stopped or deleted': 'medium',
        },
      },
    });
    try {
      const grant = {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: 'arn:aws:iam::444455556666:root' },
            Action: 's3:GetObject',
            Resource: '*',
          },
        ],
      };
      const body = Buffer.from(
        JSON.stringify({
          Records: [
            record(1, 's3.amazonaws.com', 'PutBucketPolicy', { bucketName: 'payroll', bucketPolicy: grant }),
            record(2, 'cloudtrail.amazonaws.com', 'StopLogging', { name: 'org-trail' }),
          ],
        }),
      );
      expect(await server.runtime.ingest.ingestBody('cloudtrail', body)).toMatchObject({ stored: 2 });
      await server.runtime.runner.drain(30_000);
      const { items } = await server.runtime.store.alerts.list({});
      const detections = new Map(items.flatMap((a) => a.detections).map((d) => [d.rule_title, d]));
      expect(detections.get(RESOURCE_POLICY_RULE.title)).toMatchObject({
        engine: 'rule',
        level: 'low',
        rule_level: 'medium',
        level_reasons: ['set to low by detect.level_overrides'],
      });
      expect(detections.get('CloudTrail trail stopped or deleted')).toMatchObject({
        engine: 'sigma',
        level: 'medium',
        rule_level: 'high',
        level_reasons: ['set to medium by detect.level_overrides'],
      });
      // The rule list shows the levels the rules alert at.
      const listed = server.runtime.detectors.flatMap((d) => d.rules?.() ?? []);
      expect(listed.find((r) => r.id === RESOURCE_POLICY_RULE.id)?.level).toBe('low');
      expect(listed.find((r) => r.title === 'CloudTrail trail stopped or deleted')?.level).toBe('medium');
    } finally {
      await server.close();
    }
  });
});
