import { RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AisocError } from '../../../errors.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { awsError, callLog, FAST_RETRY, mutatingCalls } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { FakeEc2 } from '../testing/ec2-fake.ts';
import { revokeSecurityGroupIngressFactory } from './revoke-security-group-ingress.ts';

const SG = 'sg-0123456789abcdef0';
const PEER = 'sg-0fedcba9876543210';
const CONFIG = { region: 'eu-west-1', retry: FAST_RETRY };
const SSH = { group_id: SG, ip_protocol: 'tcp', from_port: 22, to_port: 22, cidr: '0.0.0.0/0' };

/** A group with the offending SSH rule among neighbours that must stay. */
function world() {
  const f = new FakeEc2();
  f.addGroup({ id: SG, name: 'web' });
  f.addGroup({ id: PEER, name: 'bastion' });
  f.addRule({
    id: 'sgr-00000000000000443',
    groupId: SG,
    egress: false,
    protocol: 'tcp',
    from: 443,
    to: 443,
    cidr4: '0.0.0.0/0',
  });
  f.addRule({
    id: 'sgr-00000000000000022',
    groupId: SG,
    egress: false,
    protocol: 'tcp',
    from: 22,
    to: 22,
    cidr4: '0.0.0.0/0',
    description: 'temporary ssh',
    tags: { owner: 'ops', 'aws:cloudformation:stack-name': 'web' },
  });
  f.addRule({
    id: 'sgr-00000000000000023',
    groupId: SG,
    egress: false,
    protocol: 'tcp',
    from: 22,
    to: 22,
    cidr4: '10.0.0.0/8',
  });
  f.addRule({
    id: 'sgr-0000000000000006a',
    groupId: SG,
    egress: false,
    protocol: 'tcp',
    from: 22,
    to: 22,
    cidr6: '2001:db8::/32',
  });
  f.addRule({ id: 'sgr-000000000000000e0', groupId: SG, egress: true, protocol: '-1', cidr4: '0.0.0.0/0' });
  f.addRule({
    id: 'sgr-000000000000000b1',
    groupId: SG,
    egress: false,
    protocol: 'tcp',
    from: 5432,
    to: 5432,
    refGroup: PEER,
  });
  return f;
}

describeActionConformance({
  factory: revokeSecurityGroupIngressFactory,
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
  validInput: SSH,
  equivalentInput: { cidr: ' 0.0.0.0/0', to_port: 22, from_port: 22, ip_protocol: '6', group_id: SG },
  otherInput: { ...SSH, cidr: '10.0.0.0/8' },
  badInputs: [
    { input: { ...SSH, group_id: 'web' }, field: 'group_id' },
    { input: { ...SSH, cidr: '10.0.0.5/8' }, field: 'cidr' },
    { input: { group_id: SG, ip_protocol: 'tcp', cidr: '0.0.0.0/0' }, field: 'from_port' },
    { input: { ...SSH, from_port: 80, to_port: 22 }, field: 'to_port' },
    { input: { ...SSH, security_group_rule_id: 'sgr-00000000000000022' }, field: 'security_group_rule_id' },
    { input: { group_id: SG, ip_protocol: 'gre', cidr: '0.0.0.0/0' }, field: 'ip_protocol' },
    { input: { group_id: SG, ip_protocol: '-1', from_port: 1, cidr: '0.0.0.0/0' }, field: 'from_port' },
    { input: { group_id: SG }, field: 'ip_protocol' },
  ],
  repeatSkips: true,
});

describe('aws.ec2.revoke_security_group_ingress', () => {
  let f: FakeEc2;
  beforeEach(() => {
    f = world();
  });
  afterEach(() => {
    f.mock.restore();
  });
  const action = () => revokeSecurityGroupIngressFactory.create(CONFIG, { logger: silentLogger() });
  const run = { dryRun: false, idempotencyKey: 'k' };

  it('finds the rule by protocol/port/CIDR across pages and revokes exactly it, by id', async () => {
    const r = await action().execute(SSH, run);
    expect(r.status).toBe('succeeded');
    expect(callLog(f.mock)).toEqual([
      ['DescribeSecurityGroups', { GroupIds: [SG] }],
      ['DescribeSecurityGroupRules', { Filters: [{ Name: 'group-id', Values: [SG] }] }],
      ['DescribeSecurityGroupRules', { Filters: [{ Name: 'group-id', Values: [SG] }], NextToken: '2' }],
      ['DescribeSecurityGroupRules', { Filters: [{ Name: 'group-id', Values: [SG] }], NextToken: '4' }],
      ['RevokeSecurityGroupIngress', { GroupId: SG, SecurityGroupRuleIds: ['sgr-00000000000000022'] }],
    ]);
    expect(f.rules.map((x) => x.id)).toEqual([
      'sgr-00000000000000443',
      'sgr-00000000000000023',
      'sgr-0000000000000006a',
      'sgr-000000000000000e0',
      'sgr-000000000000000b1',
    ]);
  });

  it('revokes an IPv6 rule given in a non-canonical form', async () => {
    const r = await action().execute({ ...SSH, cidr: '2001:DB8:0::/32' }, run);
    expect(r.details).toMatchObject({ security_group_rule_id: 'sgr-0000000000000006a' });
    expect(f.rules.some((x) => x.id === 'sgr-0000000000000006a')).toBe(false);
  });

  it('revokes by rule id, including a rule that references another group, and rolls it back', async () => {
    const a = action();
    const input = { group_id: SG, security_group_rule_id: 'sgr-000000000000000b1' };
    const r = await a.execute(input, run);
    expect(r.rollback_data).toMatchObject({
      rule: { ip_protocol: 'tcp', from_port: 5432, referenced_group_id: PEER },
    });
    f.mock.resetHistory();
    await a.rollback!(input, r.rollback_data, run);
    expect(callLog(f.mock).at(-1)).toEqual([
      'AuthorizeSecurityGroupIngress',
      {
        GroupId: SG,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 5432,
            ToPort: 5432,
            UserIdGroupPairs: [{ GroupId: PEER, UserId: '111122223333' }],
          },
        ],
      },
    ]);
  });

  it('refuses a rule id that names an egress rule, naming the field, and changes nothing', async () => {
    const err = await action()
      .execute({ group_id: SG, security_group_rule_id: 'sgr-000000000000000e0' }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_VALIDATION');
    expect((err as AisocError).field).toBe('security_group_rule_id');
    expect(mutatingCalls(f.mock)).toEqual([]);
  });

  it('re-authorizes the same rule with its description and its own tags on rollback', async () => {
    const a = action();
    const r = await a.execute(SSH, run);
    f.mock.resetHistory();
    const rb = await a.rollback!(SSH, r.rollback_data, run);
    expect(rb.status).toBe('succeeded');
    expect(callLog(f.mock).filter(([op]) => !op.startsWith('Describe'))).toEqual([
      [
        'AuthorizeSecurityGroupIngress',
        {
          GroupId: SG,
          IpPermissions: [
            {
              IpProtocol: 'tcp',
              FromPort: 22,
              ToPort: 22,
              IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'temporary ssh' }],
            },
          ],
          TagSpecifications: [
            { ResourceType: 'security-group-rule', Tags: [{ Key: 'owner', Value: 'ops' }] },
          ],
        },
      ],
    ]);
    expect(rb.details).toMatchObject({ revoked_rule_id: 'sgr-00000000000000022' });
    expect(await a.rollback!(SSH, r.rollback_data, run)).toMatchObject({ status: 'skipped' });
  });

  it('is skipped when the rule raced away between the read and the revoke', async () => {
    f.mock
      .on(RevokeSecurityGroupIngressCommand)
      .rejects(
        awsError(
          'InvalidSecurityGroupRuleId.NotFound',
          "The security group rule ID 'sgr-00000000000000022' does not exist",
        ),
      );
    const r = await action().execute(SSH, run);
    expect(r.status).toBe('skipped');
    expect(r.rollback_data).toBeUndefined();
  });

  it('retries RequestLimitExceeded, then revokes once', async () => {
    f.mock
      .on(RevokeSecurityGroupIngressCommand)
      .rejectsOnce(awsError('RequestLimitExceeded', 'Request limit exceeded.', 503))
      .callsFake((i) => f.revoke(i, false));
    const r = await action().execute(SSH, run);
    expect(r.status).toBe('succeeded');
    expect(mutatingCalls(f.mock)).toEqual(['RevokeSecurityGroupIngress', 'RevokeSecurityGroupIngress']);
    expect(f.rules.some((x) => x.id === 'sgr-00000000000000022')).toBe(false);
  });

  it('fails typed when EC2 answers Return=false', async () => {
    f.mock.on(RevokeSecurityGroupIngressCommand).resolves({ Return: false });
    const err = await action()
      .execute(SSH, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_FAILED');
  });

  it('reports a missing group as AISOC_ERR_ACTION_NOT_FOUND', async () => {
    const err = await action()
      .execute({ ...SSH, group_id: 'sg-0aaaaaaaaaaaaaaaa' }, run)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AisocError);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_NOT_FOUND');
    expect((err as AisocError).details).toMatchObject({ aws_error: 'InvalidGroup.NotFound' });
  });

  it('shows the rule it would revoke in a dry run', async () => {
    const r = await action().execute(SSH, { dryRun: true, idempotencyKey: 'k' });
    expect(r.summary).toBe(
      'Would revoke rule sgr-00000000000000022 (tcp 22 from 0.0.0.0/0) from security group sg-0123456789abcdef0.',
    );
    expect(mutatingCalls(f.mock)).toEqual([]);
  });
});
