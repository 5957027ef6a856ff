import { GetIPSetCommand, UpdateIPSetCommand, WAFV2Client } from '@aws-sdk/client-wafv2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AisocError } from '../../../errors.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { unblockableInputs } from '../testing/addresses.ts';
import { awsError, callLog, FAST_RETRY, mutatingCalls } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { wafBlockIpFactory } from './waf-block-ip.ts';

const V4 = { name: 'aisoc-block-v4', id: 'a1b2c3d4-5678-90ab-cdef-000000000004' };
const V6 = { name: 'aisoc-block-v6', id: 'a1b2c3d4-5678-90ab-cdef-000000000006' };
const CONFIG = {
  region: 'eu-west-1',
  retry: FAST_RETRY,
  ipv4_set: V4,
  ipv6_set: V6,
  never_block: ['198.51.100.0/24'],
};

interface FakeSet {
  name: string;
  id: string;
  version: 'IPV4' | 'IPV6';
  description?: string;
  addresses: string[];
  token: number;
}

/** WAFv2 IP sets with optimistic locking, as WAF does it: a write with a stale LockToken fails. */
function fakeWaf() {
  const mock = mockClient(WAFV2Client);
  const sets = new Map<string, FakeSet>([
    [
      V4.id,
      { ...V4, version: 'IPV4', description: 'blocked by AI-SOC', addresses: ['192.0.2.0/24'], token: 1 },
    ],
    [V6.id, { ...V6, version: 'IPV6', addresses: [], token: 1 }],
  ]);
  let failing = false;
  const lookup = (i: { Id: string; Name: string; Scope: string }) => {
    if (failing) throw awsError('WAFInvalidPermissionPolicyException', 'The caller is not authorized', 400);
    const s = sets.get(i.Id);
    if (!s || s.name !== i.Name || i.Scope !== 'REGIONAL')
      throw awsError(
        'WAFNonexistentItemException',
        "AWS WAF couldn't perform the operation because your resource doesn't exist.",
      );
    return s;
  };
  const get = (i: { Id: string; Name: string; Scope: string }) => {
    const s = lookup(i);
    return {
      IPSet: {
        Name: s.name,
        Id: s.id,
        ARN: `arn:aws:wafv2:eu-west-1:111122223333:regional/ipset/${s.name}/${s.id}`,
        IPAddressVersion: s.version,
        Addresses: [...s.addresses],
        ...(s.description ? { Description: s.description } : {}),
      },
      LockToken: `token-${s.token}`,
    };
  };
  const update = (i: {
    Id: string;
    Name: string;
    Scope: string;
    Addresses: string[];
    LockToken: string;
    Description?: string;
  }) => {
    const s = lookup(i);
    if (i.LockToken !== `token-${s.token}`)
      throw awsError(
        'WAFOptimisticLockException',
        'AWS WAF couldn’t save your changes because someone changed the resource after you started to edit it.',
      );
    s.addresses = [...i.Addresses];
    s.description = i.Description;
    s.token++;
    return { NextLockToken: `token-${s.token}` };
  };
  mock.on(GetIPSetCommand).callsFake(get);
  mock.on(UpdateIPSetCommand).callsFake(update);
  return {
    mock,
    sets,
    get,
    update,
    fail: () => {
      failing = true;
    },
  };
}

describeActionConformance({
  factory: wafBlockIpFactory,
  config: CONFIG,
  async harness() {
    const f = fakeWaf();
    return {
      mutations: () => mutatingCalls(f.mock),
      calls: () => f.mock.calls().length,
      state: () => [...f.sets.values()].map(({ token: _t, ...s }) => s),
      fail: f.fail,
      async close() {
        f.mock.restore();
      },
    };
  },
  validInput: { ip: '203.0.113.7' },
  equivalentInput: { ip: ' 203.0.113.7 ' },
  otherInput: { ip: '2001:db8::7' },
  badInputs: [
    { input: { ip: '203.0.113.0/24' }, field: 'ip' },
    { input: { ip: '203.0.113.07' }, field: 'ip' },
    { input: { ip: 'fe80::1%eth0' }, field: 'ip' },
    { input: { address: '203.0.113.7' }, field: 'ip' },
    ...unblockableInputs((ip) => ({ ip }), 'ip'),
  ],
  repeatSkips: true,
});

describe('aws.wafv2.block_ip', () => {
  let f: ReturnType<typeof fakeWaf>;
  beforeEach(() => {
    f = fakeWaf();
  });
  afterEach(() => {
    f.mock.restore();
  });
  const action = (config: Record<string, unknown> = {}) =>
    wafBlockIpFactory.create({ ...CONFIG, ...config }, { logger: silentLogger() });
  const run = { dryRun: false, idempotencyKey: 'k' };

  it('reads the set, then writes it back whole with the lock token and the description — exactly these calls', async () => {
    const r = await action().execute({ ip: '203.0.113.7' }, run);
    expect(r.status).toBe('succeeded');
    expect(callLog(f.mock)).toEqual([
      ['GetIPSet', { Name: V4.name, Scope: 'REGIONAL', Id: V4.id }],
      [
        'UpdateIPSet',
        {
          Name: V4.name,
          Scope: 'REGIONAL',
          Id: V4.id,
          Description: 'blocked by AI-SOC',
          Addresses: ['192.0.2.0/24', '203.0.113.7/32'],
          LockToken: 'token-1',
        },
      ],
    ]);
    expect(r.rollback_data).toEqual({
      scope: 'REGIONAL',
      ip_set_name: V4.name,
      ip_set_id: V4.id,
      address: '203.0.113.7/32',
    });
  });

  it('on a lock conflict reads again and retries with the fresh token, keeping the other writer’s change', async () => {
    let raced = false;
    f.mock.on(UpdateIPSetCommand).callsFake((i) => {
      if (!raced) {
        raced = true;
        // Another writer updates the set between our read and our write.
        const s = f.sets.get(V4.id)!;
        s.addresses.push('203.0.113.99/32');
        s.token++;
      }
      return f.update(i);
    });
    const r = await action().execute({ ip: '203.0.113.7' }, run);
    expect(r.status).toBe('succeeded');
    expect(callLog(f.mock).map(([op, i]) => [op, (i as { LockToken?: string }).LockToken ?? null])).toEqual([
      ['GetIPSet', null],
      ['UpdateIPSet', 'token-1'],
      ['GetIPSet', null],
      ['UpdateIPSet', 'token-2'],
    ]);
    expect(f.sets.get(V4.id)!.addresses).toEqual(['192.0.2.0/24', '203.0.113.99/32', '203.0.113.7/32']);
    expect(r.details).toMatchObject({ attempts: 2 });
  });

  it('gives up with AISOC_ERR_ACTION_CONFLICT when the set keeps changing', async () => {
    f.mock
      .on(UpdateIPSetCommand)
      .rejects(awsError('WAFOptimisticLockException', 'someone changed the resource'));
    const err = await action({ lock_attempts: 3 })
      .execute({ ip: '203.0.113.7' }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_CONFLICT');
    expect(mutatingCalls(f.mock)).toHaveLength(3);
  });

  it('retries throttled reads and writes with back-off', async () => {
    f.mock.on(GetIPSetCommand).rejectsOnce(awsError('ThrottlingException', 'Rate exceeded')).callsFake(f.get);
    f.mock
      .on(UpdateIPSetCommand)
      .rejectsOnce(awsError('WAFInternalErrorException', 'internal error', 500))
      .callsFake(f.update);
    const r = await action().execute({ ip: '203.0.113.7' }, run);
    expect(r.status).toBe('succeeded');
    expect(callLog(f.mock).map(([op]) => op)).toEqual(['GetIPSet', 'GetIPSet', 'UpdateIPSet', 'UpdateIPSet']);
  });

  it('is skipped for an address already in the set in another spelling, or inside a range', async () => {
    f.sets.get(V6.id)!.addresses = ['2001:0DB8:0000:0000:0000:0000:0000:0007/128'];
    expect((await action().execute({ ip: '2001:db8::7' }, run)).status).toBe('skipped');
    const inRange = await action().execute({ ip: '192.0.2.55' }, run);
    expect(inRange.status).toBe('skipped');
    expect(inRange.details).toMatchObject({ covered_by: '192.0.2.0/24' });
    expect(mutatingCalls(f.mock)).toEqual([]);
  });

  it('adds IPv6 addresses as /128 to the IPv6 set', async () => {
    await action().execute({ ip: '2001:DB8::7' }, run);
    expect(f.sets.get(V6.id)!.addresses).toEqual(['2001:db8::7/128']);
    expect(callLog(f.mock).at(-1)?.[1]).not.toHaveProperty('Description');
  });

  it('refuses an address in never_block, naming the field, before any call', async () => {
    const err = await action()
      .execute({ ip: '198.51.100.20' }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_POLICY');
    expect((err as AisocError).field).toBe('ip');
    expect(f.mock.calls()).toHaveLength(0);
  });

  it('refuses an IPv6 address when only an IPv4 set is configured', async () => {
    const err = await action({ ipv6_set: undefined })
      .execute({ ip: '2001:db8::7' }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_VALIDATION');
    expect((err as AisocError).field).toBe('ip');
  });

  it('refuses a config without any IP set', () => {
    expect(() => wafBlockIpFactory.create({ region: 'eu-west-1' }, { logger: silentLogger() })).toThrow(
      /ipv4_set/,
    );
  });

  it('reports a missing IP set as AISOC_ERR_ACTION_NOT_FOUND', async () => {
    const err = await action({ ipv4_set: { name: 'gone', id: 'ffffffff-0000-0000-0000-000000000000' } })
      .execute({ ip: '203.0.113.7' }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_NOT_FOUND');
  });

  it('rolls back by removing only its own address, even after others were added', async () => {
    const a = action();
    const r = await a.execute({ ip: '203.0.113.7' }, run);
    f.sets.get(V4.id)!.addresses.push('203.0.113.8/32');
    const rb = await a.rollback!({ ip: '203.0.113.7' }, r.rollback_data, run);
    expect(rb.status).toBe('succeeded');
    expect(f.sets.get(V4.id)!.addresses).toEqual(['192.0.2.0/24', '203.0.113.8/32']);
    expect((await a.rollback!({ ip: '203.0.113.7' }, r.rollback_data, run)).status).toBe('skipped');
  });
});
