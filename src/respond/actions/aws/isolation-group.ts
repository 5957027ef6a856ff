import type { SecurityGroup } from '@aws-sdk/client-ec2';
import { actionError } from '../errors.ts';
import type { RunContext } from '../types.ts';
import { awsCall, isAwsError, mapAwsError } from './call.ts';
import { type Ec2, listGroupRules } from './ec2-rules.ts';

/** Where the isolation group comes from. */
export interface IsolationSettings {
  isolation_group_id?: string;
  isolation_group_name: string;
  create_isolation_group: boolean;
}

/** The isolation group of a VPC: found (`id`), or to be created (`id` undefined). */
export interface IsolationGroup {
  id?: string;
  name: string;
  vpc: string;
}

function checkEmpty(g: SecurityGroup): void {
  const rules = (g.IpPermissions?.length ?? 0) + (g.IpPermissionsEgress?.length ?? 0);
  // A group with any rule would let some traffic through: refuse rather than half-isolate.
  if (rules > 0)
    throw actionError(
      'AISOC_ERR_ACTION_PRECONDITION',
      `Isolation group ${g.GroupId} (${g.GroupName}) has ${rules} rule(s); an isolation group must have no inbound and no outbound rules`,
      { isolation_group_id: g.GroupId },
    );
}

/** Find the isolation group for a VPC (read-only). */
export async function findIsolationGroup(
  run: RunContext,
  ec2: Ec2,
  s: IsolationSettings,
  vpc: string,
): Promise<IsolationGroup> {
  if (s.isolation_group_id !== undefined) {
    const out = await awsCall(run, 'EC2 DescribeSecurityGroups', (abortSignal) =>
      ec2.client.send(new ec2.sdk.DescribeSecurityGroupsCommand({ GroupIds: [s.isolation_group_id!] }), {
        abortSignal,
      }),
    );
    const g = out.SecurityGroups?.[0];
    if (!g)
      throw actionError(
        'AISOC_ERR_ACTION_NOT_FOUND',
        `Isolation group ${s.isolation_group_id} does not exist`,
      );
    if (g.VpcId !== vpc)
      throw actionError(
        'AISOC_ERR_ACTION_PRECONDITION',
        `Isolation group ${g.GroupId} is in ${g.VpcId}, not in the instance's VPC ${vpc}`,
      );
    checkEmpty(g);
    return { id: g.GroupId, name: g.GroupName ?? s.isolation_group_name, vpc };
  }
  const out = await awsCall(run, 'EC2 DescribeSecurityGroups', (abortSignal) =>
    ec2.client.send(
      new ec2.sdk.DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [vpc] },
          { Name: 'group-name', Values: [s.isolation_group_name] },
        ],
      }),
      { abortSignal },
    ),
  );
  const g = out.SecurityGroups?.[0];
  if (g) {
    checkEmpty(g);
    return { id: g.GroupId, name: s.isolation_group_name, vpc };
  }
  if (!s.create_isolation_group)
    throw actionError(
      'AISOC_ERR_ACTION_PRECONDITION',
      `No isolation group named ${s.isolation_group_name} exists in ${vpc}; create one with no rules, or set create_isolation_group`,
      { vpc_id: vpc },
    );
  return { name: s.isolation_group_name, vpc };
}

/**
 * Create the isolation group and strip the allow-all egress rules EC2 gives
 * every new group, leaving no rule at all. A group created concurrently by
 * another run is found and used instead.
 */
export async function createIsolationGroup(run: RunContext, ec2: Ec2, g: IsolationGroup): Promise<string> {
  const call = 'EC2 CreateSecurityGroup';
  let id: string | undefined;
  try {
    const out = await awsCall(
      run,
      call,
      (abortSignal) =>
        ec2.client.send(
          new ec2.sdk.CreateSecurityGroupCommand({
            GroupName: g.name,
            Description: 'AI-SOC quarantine: no inbound and no outbound traffic',
            VpcId: g.vpc,
            TagSpecifications: [
              { ResourceType: 'security-group', Tags: [{ Key: 'aisoc:purpose', Value: 'quarantine' }] },
            ],
          }),
          { abortSignal },
        ),
      { raw: true },
    );
    id = out.GroupId;
  } catch (err) {
    if (!isAwsError(err, 'InvalidGroup.Duplicate')) throw mapAwsError(err, call);
    const again = await findIsolationGroup(
      run,
      ec2,
      { isolation_group_name: g.name, create_isolation_group: false },
      g.vpc,
    );
    return again.id!;
  }
  if (!id) throw actionError('AISOC_ERR_ACTION_FAILED', `${call} returned no group id`);
  const egress = (await listGroupRules(run, ec2, id))
    .filter((r) => r.IsEgress)
    .map((r) => r.SecurityGroupRuleId!);
  if (egress.length > 0)
    await awsCall(run, 'EC2 RevokeSecurityGroupEgress', (abortSignal) =>
      ec2.client.send(
        new ec2.sdk.RevokeSecurityGroupEgressCommand({ GroupId: id, SecurityGroupRuleIds: egress }),
        { abortSignal },
      ),
    );
  return id;
}
