import { describe, expect, it } from 'vitest';
import { testServer } from '../../../test/helpers/runtime.ts';

const record = (eventID: string, eventName: string, extra: Record<string, unknown> = {}) => ({
  eventVersion: '1.08',
  eventID,
  eventTime: '2024-03-04T10:15:00Z',
  eventSource: 'cloudtrail.amazonaws.com',
  eventName,
  awsRegion: 'us-east-1',
  sourceIPAddress: '198.51.100.23',
  recipientAccountId: '111122223333',
  userIdentity: {
    type: 'IAMUser',
    accountId: '111122223333',
    arn: 'arn:aws:iam::111122223333:user/alice',
    userName: 'alice',
    accessKeyId: 'AKIAEXAMPLEALICE0001',
  },
  requestParameters: { name: 'org-trail' },
  ...extra,
});

describe('the Sigma detector in the pipeline', () => {
  it('turns a pack rule match into an ATT&CK-tagged alert, and a bad record into a dead letter', async () => {
    const server = await testServer();
    try {
      const body = Buffer.from(
        JSON.stringify({
          Records: [
            record('7d3c7a52-0000-4000-8000-000000000001', 'StopLogging'),
            record('7d3c7a52-0000-4000-8000-000000000002', 'DescribeTrails'),
            { eventName: 42 },
          ],
        }),
      );
      const outcome = await server.runtime.ingest.ingestBody('cloudtrail', body);
      expect(outcome).toMatchObject({ stored: 2, dead_letters: 1 });
      await server.runtime.runner.drain(30_000);
      const { items } = await server.runtime.store.alerts.list({});
      const sigma = items.filter((a) => a.detections.some((d) => d.engine === 'sigma'));
      expect(sigma.map((a) => a.title)).toEqual(['CloudTrail trail stopped or deleted']);
      expect(sigma[0]).toMatchObject({
        severity: 'high',
        mitre_techniques: ['T1562.008'],
        mitre_tactics: ['defense-evasion'],
      });
      expect(sigma[0]!.event_ids).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('is off when detect.sigma.enabled is false', async () => {
    const server = await testServer({ detect: { sigma: { enabled: false } } });
    try {
      expect(server.runtime.detectors.map((d) => d.name)).not.toContain('sigma');
    } finally {
      await server.close();
    }
  });

  it('refuses unknown keys in detect.sigma', async () => {
    await expect(testServer({ detect: { sigma: { rules_dir: 'x' } } })).rejects.toThrow(/rules_dir/);
  });
});
