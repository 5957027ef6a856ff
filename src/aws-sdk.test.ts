import { EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient, ThrottledException } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { lazyAwsClient, loadAwsSdk, once } from './aws-sdk.ts';

/** A promise and the functions that settle it. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('loadAwsSdk', () => {
  it('gives the module a static import gives: the same classes, so instanceof and prototype mocks hold', async () => {
    const sns = await loadAwsSdk('@aws-sdk/client-sns');
    expect(sns.SNSClient).toBe(SNSClient);
    expect(sns.PublishCommand).toBe(PublishCommand);
    const thrown = new sns.ThrottledException({ message: 'Rate exceeded', $metadata: {} });
    expect(thrown).toBeInstanceOf(ThrottledException);
    expect(thrown.name).toBe('ThrottledException');
    const ec2 = await loadAwsSdk('@aws-sdk/client-ec2');
    expect(ec2.EC2Client).toBe(EC2Client);
    expect(ec2.EC2ServiceException).toBe(EC2ServiceException);
  });

  it('imports a package once: every call shares one promise', () => {
    const first = loadAwsSdk('@aws-sdk/client-iam');
    expect(loadAwsSdk('@aws-sdk/client-iam')).toBe(first);
    expect(loadAwsSdk('@aws-sdk/client-wafv2')).not.toBe(first);
  });
});

describe('once', () => {
  it('starts the load on the first call only; concurrent and later calls share it', async () => {
    let starts = 0;
    const gate = deferred<string>();
    const load = once(() => {
      starts++;
      return gate.promise;
    });
    expect(starts).toBe(0);
    const a = load();
    const b = load();
    expect(starts).toBe(1);
    expect(b).toBe(a);
    gate.resolve('loaded');
    expect(await a).toBe('loaded');
    expect(await load()).toBe('loaded');
    expect(starts).toBe(1);
  });

  it('forgets a failed load, so the next call starts again', async () => {
    const attempts = [deferred<string>(), deferred<string>()];
    let starts = 0;
    const load = once(() => attempts[starts++]!.promise);
    const failed = load();
    attempts[0]!.reject(new Error('Cannot find package'));
    await expect(failed).rejects.toThrow('Cannot find package');
    const again = load();
    expect(again).not.toBe(failed);
    attempts[1]!.resolve('loaded');
    expect(await again).toBe('loaded');
    expect(await load()).toBe('loaded');
    expect(starts).toBe(2);
  });
});

describe('lazyAwsClient', () => {
  it('builds nothing until the first call, then one client that every call shares', async () => {
    const made: SNSClient[] = [];
    const sns = lazyAwsClient('@aws-sdk/client-sns', (sdk) => {
      const c = new sdk.SNSClient({ region: 'eu-west-1' });
      made.push(c);
      return c;
    });
    expect(made).toHaveLength(0);
    const [a, b] = await Promise.all([sns(), sns()]);
    const c = await sns();
    expect(made).toHaveLength(1);
    expect(a.client).toBe(made[0]);
    expect(b.client).toBe(a.client);
    expect(c.client).toBe(a.client);
    expect(a.client).toBeInstanceOf(SNSClient);
    expect(a.sdk.PublishCommand).toBe(PublishCommand);
  });

  it('builds again after a failed build', async () => {
    let builds = 0;
    const ec2 = lazyAwsClient('@aws-sdk/client-ec2', async (sdk) => {
      builds++;
      if (builds === 1) throw new Error('no credentials yet');
      return new sdk.EC2Client({ region: 'eu-west-1' });
    });
    await expect(ec2()).rejects.toThrow('no credentials yet');
    const { client } = await ec2();
    expect(client).toBeInstanceOf(EC2Client);
    expect((await ec2()).client).toBe(client);
    expect(builds).toBe(2);
  });
});
