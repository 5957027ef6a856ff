import { ModifyNetworkInterfaceAttributeCommand } from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AisocError } from '../../../errors.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { awsError, callLog, FAST_RETRY, mutatingCalls } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { FakeEc2 } from '../testing/ec2-fake.ts';
import { groupsFromTags, groupsToTags, quarantineInstanceFactory } from './quarantine-instance.ts';

const VPC = 'vpc-0a1b2c3d4e5f60718';
const I = 'i-0abc1234def567890';
const ENI0 = 'eni-0000000000000000a';
const ENI1 = 'eni-0000000000000000b';
const WEB = 'sg-0000000000000000a';
const DB = 'sg-0000000000000000b';
const ISO = 'sg-00000000000000150';
const CONFIG = { region: 'eu-west-1', retry: FAST_RETRY };
const PREV = 'aisoc:pre-quarantine-groups';

function world(options: { isolationGroup?: boolean } = {}) {
  const f = new FakeEc2();
  f.addGroup({ id: WEB, name: 'web' });
  f.addGroup({ id: DB, name: 'db' });
  f.addRule({ groupId: WEB, egress: false, protocol: 'tcp', from: 443, to: 443, cidr4: '0.0.0.0/0' });
  if (options.isolationGroup ?? true) f.addGroup({ id: ISO, name: 'aisoc-quarantine' });
  f.addGroup({ id: 'sg-000000000000000ff', name: 'aisoc-quarantine', vpc: 'vpc-0ffffffffffffffff' });
  f.addInstance({ id: I }, [
    { id: ENI0, groups: [WEB, DB] },
    { id: ENI1, groups: [DB] },
  ]);
  return f;
}

describeActionConformance({
  factory: quarantineInstanceFactory,
  config: CONFIG,
  async harness() {
    const f = world();
    return {
      mutations: () => mutatingCalls(f.mock),
      calls: () => f.mock.calls().length,
      state: () => f.snapshot(),
      fail: () => {
        f.failing = true;
      },
      async close() {
        f.mock.restore();
      },
    };
  },
  validInput: { instance_id: I, incident_id: 'inc-42' },
  equivalentInput: { incident_id: ' inc-42 ', instance_id: ` ${I}` },
  otherInput: { instance_id: I, incident_id: 'inc-43' },
  badInputs: [
    { input: { instance_id: 'web-1' }, field: 'instance_id' },
    { input: { instance_id: I, incident_id: 'has spaces' }, field: 'incident_id' },
    { input: { instance_id: I, groups: [WEB] }, field: 'groups' },
  ],
  repeatSkips: true,
});

describe('aws.ec2.quarantine_instance', () => {
  let f: FakeEc2;
  beforeEach(() => {
    f = world();
  });
  afterEach(() => {
    f.mock.restore();
  });
  const action = (config: Record<string, unknown> = {}) =>
    quarantineInstanceFactory.create({ ...CONFIG, ...config }, { logger: silentLogger() });
  const run = { dryRun: false, idempotencyKey: 'k' };

  it('records, then moves every interface into the isolation group, then tags the instance — exactly these calls', async () => {
    const r = await action().execute({ instance_id: I, incident_id: 'inc-42' }, run);
    expect(r.status).toBe('succeeded');
    expect(callLog(f.mock)).toEqual([
      ['DescribeInstances', { InstanceIds: [I] }],
      ['DescribeNetworkInterfaces', { Filters: [{ Name: 'attachment.instance-id', Values: [I] }] }],
      [
        'DescribeSecurityGroups',
        {
          Filters: [
            { Name: 'vpc-id', Values: [VPC] },
            { Name: 'group-name', Values: ['aisoc-quarantine'] },
          ],
        },
      ],
      ['CreateTags', { Resources: [ENI0], Tags: [{ Key: PREV, Value: `${WEB} ${DB}` }] }],
      ['ModifyNetworkInterfaceAttribute', { NetworkInterfaceId: ENI0, Groups: [ISO] }],
      ['CreateTags', { Resources: [ENI1], Tags: [{ Key: PREV, Value: DB }] }],
      ['ModifyNetworkInterfaceAttribute', { NetworkInterfaceId: ENI1, Groups: [ISO] }],
      ['CreateTags', { Resources: [I], Tags: [{ Key: 'aisoc:quarantined', Value: 'inc-42' }] }],
    ]);
    expect(r.rollback_data).toEqual({
      instance_id: I,
      isolation_group_id: ISO,
      enis: [
        { network_interface_id: ENI0, previous_group_ids: [WEB, DB] },
        { network_interface_id: ENI1, previous_group_ids: [DB] },
      ],
      instance_tag_key: 'aisoc:quarantined',
      previous_groups_tag_key: PREV,
    });
    expect([...f.enis.values()].map((e) => e.groups)).toEqual([[ISO], [ISO]]);
  });

  it('rolls back: restores each interface, then removes the tags', async () => {
    const a = action();
    const r = await a.execute({ instance_id: I }, run);
    f.mock.resetHistory();
    const rb = await a.rollback!({ instance_id: I }, r.rollback_data, run);
    expect(rb.status).toBe('succeeded');
    expect(callLog(f.mock).filter(([op]) => !op.startsWith('Describe'))).toEqual([
      ['ModifyNetworkInterfaceAttribute', { NetworkInterfaceId: ENI0, Groups: [WEB, DB] }],
      ['ModifyNetworkInterfaceAttribute', { NetworkInterfaceId: ENI1, Groups: [DB] }],
      ['DeleteTags', { Resources: [ENI0], Tags: [{ Key: PREV }] }],
      ['DeleteTags', { Resources: [ENI1], Tags: [{ Key: PREV }] }],
      ['DeleteTags', { Resources: [I], Tags: [{ Key: 'aisoc:quarantined', Value: 'true' }] }],
    ]);
    expect(f.groups.has(ISO)).toBe(true);
  });

  it('creates the isolation group with no rules at all when configured to', async () => {
    f.mock.restore();
    f = world({ isolationGroup: false });
    const r = await action({ create_isolation_group: true }).execute({ instance_id: I }, run);
    expect(r.status).toBe('succeeded');
    const ops = callLog(f.mock);
    const created = ops.find(([op]) => op === 'CreateSecurityGroup');
    expect(created).toEqual([
      'CreateSecurityGroup',
      {
        GroupName: 'aisoc-quarantine',
        Description: 'AI-SOC quarantine: no inbound and no outbound traffic',
        VpcId: VPC,
        TagSpecifications: [
          { ResourceType: 'security-group', Tags: [{ Key: 'aisoc:purpose', Value: 'quarantine' }] },
        ],
      },
    ]);
    const iso = [...f.groups.values()].find((g) => g.name === 'aisoc-quarantine' && g.vpc === VPC)!;
    expect(ops.find(([op]) => op === 'RevokeSecurityGroupEgress')?.[1]).toMatchObject({ GroupId: iso.id });
    expect(f.rules.filter((x) => x.groupId === iso.id)).toEqual([]);
    expect([...f.enis.values()].map((e) => e.groups)).toEqual([[iso.id], [iso.id]]);
  });

  it('says in a dry run that it would create the group, and creates nothing', async () => {
    f.mock.restore();
    f = world({ isolationGroup: false });
    const r = await action({ create_isolation_group: true }).execute(
      { instance_id: I },
      { dryRun: true, idempotencyKey: 'k' },
    );
    expect(r.status).toBe('dry_run');
    expect(r.summary).toContain('would be created with no rules');
    expect(mutatingCalls(f.mock)).toEqual([]);
  });

  it('refuses when no isolation group exists and creating one is not allowed', async () => {
    f.mock.restore();
    f = world({ isolationGroup: false });
    const err = await action()
      .execute({ instance_id: I }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_PRECONDITION');
    expect(mutatingCalls(f.mock)).toEqual([]);
  });

  it('refuses an isolation group that has rules, or lies in another VPC', async () => {
    f.addRule({ groupId: ISO, egress: true, protocol: '-1', cidr4: '0.0.0.0/0' });
    const err = await action()
      .execute({ instance_id: I }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_PRECONDITION');
    const other = await action({ isolation_group_id: 'sg-000000000000000ff' })
      .execute({ instance_id: I }, run)
      .catch((e: unknown) => e);
    expect((other as AisocError).code).toBe('AISOC_ERR_ACTION_PRECONDITION');
    expect((other as AisocError).message).toContain('not in the instance');
    expect(mutatingCalls(f.mock)).toEqual([]);
  });

  it('resumes a run cut short, and the resumed run can still roll every interface back', async () => {
    f.mock
      .on(ModifyNetworkInterfaceAttributeCommand)
      .callsFakeOnce((i) => f.modifyEni(i))
      .rejectsOnce(
        awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403),
      )
      .callsFake((i) => f.modifyEni(i));
    const a = action();
    const first = await a.execute({ instance_id: I }, run).catch((e: unknown) => e);
    expect((first as AisocError).code).toBe('AISOC_ERR_ACTION_ACCESS_DENIED');
    expect(f.enis.get(ENI0)!.groups).toEqual([ISO]);
    expect(f.enis.get(ENI1)!.groups).toEqual([DB]);

    const second = await a.execute({ instance_id: I }, run);
    expect(second.status).toBe('succeeded');
    expect(second.rollback_data?.enis).toEqual([
      { network_interface_id: ENI0, previous_group_ids: [WEB, DB] },
      { network_interface_id: ENI1, previous_group_ids: [DB] },
    ]);
    await a.rollback!({ instance_id: I }, second.rollback_data, run);
    expect(f.enis.get(ENI0)!.groups).toEqual([WEB, DB]);
    expect(f.enis.get(ENI1)!.groups).toEqual([DB]);
  });

  it('on rollback leaves alone an interface whose groups someone changed since', async () => {
    const a = action();
    const r = await a.execute({ instance_id: I }, run);
    f.enis.get(ENI1)!.groups = [WEB];
    const rb = await a.rollback!({ instance_id: I }, r.rollback_data, run);
    expect(rb.details).toMatchObject({ changed_since_quarantine: [ENI1] });
    expect(f.enis.get(ENI0)!.groups).toEqual([WEB, DB]);
    expect(f.enis.get(ENI1)!.groups).toEqual([WEB]);
  });

  it('refuses a terminated instance, and reports an unknown one as not found', async () => {
    f.instances.get(I)!.state = 'terminated';
    const err = await action()
      .execute({ instance_id: I }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_PRECONDITION');
    const missing = await action()
      .execute({ instance_id: 'i-0ffffffffffffffff' }, run)
      .catch((e: unknown) => e);
    expect((missing as AisocError).code).toBe('AISOC_ERR_ACTION_NOT_FOUND');
    expect((missing as AisocError).details).toMatchObject({ aws_error: 'InvalidInstanceID.NotFound' });
  });

  it('splits a long group list over several tags and reads it back', () => {
    const groups = Array.from({ length: 16 }, (_, n) => `sg-${n.toString(16).padStart(17, '0')}`);
    const tags = groupsToTags(PREV, groups);
    expect(tags.map((t) => t.Key)).toEqual([PREV, `${PREV}:2`]);
    for (const t of tags) expect(t.Value!.length).toBeLessThanOrEqual(256);
    expect(groupsFromTags(PREV, tags)).toEqual(groups);
    expect(groupsFromTags(PREV, [])).toBeUndefined();
  });
});
