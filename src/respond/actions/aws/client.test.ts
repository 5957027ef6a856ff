import { GetTopicAttributesCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../telemetry/logger.ts';
import { snsFactory } from '../notify/sns.ts';
import { FAST_RETRY } from '../testing/aws.ts';
import { awsActionClient, awsClientConfig } from './client.ts';

const CONNECTION = { role_session_name: 'aisoc-response', role_duration_s: 900 };
const ROLE = 'arn:aws:iam::111122223333:role/aisoc-responder';

describe('AWS clients of actions', () => {
  const sns = mockClient(SNSClient);
  afterEach(() => sns.reset());

  it('client settings: SDK retries off, the region override first, an endpoint, assumed-role credentials only with role_arn', async () => {
    expect(await awsClientConfig({ ...CONNECTION, region: 'eu-west-1' })).toEqual({
      maxAttempts: 1,
      region: 'eu-west-1',
    });
    expect(
      await awsClientConfig(
        { ...CONNECTION, region: 'eu-west-1', endpoint: 'http://127.0.0.1:4566' },
        'us-east-1',
      ),
    ).toEqual({ maxAttempts: 1, region: 'us-east-1', endpoint: 'http://127.0.0.1:4566' });
    const assumed = await awsClientConfig({ ...CONNECTION, role_arn: ROLE });
    expect(typeof assumed.credentials).toBe('function');
  });

  it('builds the client on the first call, from the config, and only once', async () => {
    let builds = 0;
    const client = awsActionClient(
      '@aws-sdk/client-sns',
      { ...CONNECTION, region: 'eu-west-1' },
      (sdk, config) => {
        builds++;
        expect(config).toEqual({ maxAttempts: 1, region: 'ca-central-1' });
        return new sdk.SNSClient(config);
      },
      'ca-central-1',
    );
    expect(builds).toBe(0);
    const first = await client();
    expect(await first.client.config.region()).toBe('ca-central-1');
    expect((await client()).client).toBe(first.client);
    expect(builds).toBe(1);
  });

  it('an action makes every call, across runs, through one client, built at its first call', async () => {
    sns.on(GetTopicAttributesCommand).resolves({ Attributes: { SubscriptionsConfirmed: '1' } });
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const action = snsFactory.create(
      { topic_arn: 'arn:aws:sns:eu-west-1:111122223333:soc-alerts', retry: FAST_RETRY },
      { logger: silentLogger() },
    );
    expect(sns.calls()).toHaveLength(0);
    const input = { title: 'Test', summary: 'A test notification.', severity: 'low' };
    await action.execute(input, { dryRun: true, idempotencyKey: 'k1' });
    await action.execute(input, { dryRun: false, idempotencyKey: 'k2' });
    const clients = sns.calls().map((c) => c.thisValue as unknown);
    expect(clients).toHaveLength(2);
    expect(clients[0]).toBeInstanceOf(SNSClient);
    expect(clients[1]).toBe(clients[0]);
    // The topic's region, since the config names none.
    expect(await (clients[0] as SNSClient).config.region()).toBe('eu-west-1');
  });
});
