import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type IpPermission,
  ModifyNetworkInterfaceAttributeCommand,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
  type Tag,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { awsError } from './aws.ts';

interface FakeRule {
  id: string;
  groupId: string;
  egress: boolean;
  protocol: string;
  from?: number;
  to?: number;
  cidr4?: string;
  cidr6?: string;
  prefixList?: string;
  refGroup?: string;
  description?: string;
  tags: Record<string, string>;
}

interface FakeGroup {
  id: string;
  name: string;
  vpc: string;
  description: string;
  tags: Record<string, string>;
}

interface FakeEni {
  id: string;
  instance?: string;
  deviceIndex: number;
  groups: string[];
  tags: Record<string, string>;
}

interface FakeInstance {
  id: string;
  state: string;
  vpc: string;
  tags: Record<string, string>;
}

const PORTED = new Set(['tcp', 'udp', 'icmp', 'icmpv6']);

/**
 * An in-memory EC2 (security groups, rules, instances, network interfaces,
 * tags) behind `aws-sdk-client-mock`, answering the calls the EC2 actions
 * make as EC2 does, errors included. Rule listings are paginated two at a
 * time, so callers must follow NextToken.
 */
export class FakeEc2 {
  readonly mock = mockClient(EC2Client);
  readonly groups = new Map<string, FakeGroup>();
  readonly rules: FakeRule[] = [];
  readonly instances = new Map<string, FakeInstance>();
  readonly enis = new Map<string, FakeEni>();
  #seq = 0x1000;
  failing = false;

  constructor() {
    const m = this.mock;
    m.on(DescribeSecurityGroupsCommand).callsFake((i) => this.#guard(() => this.describeGroups(i)));
    m.on(DescribeSecurityGroupRulesCommand).callsFake((i) => this.#guard(() => this.describeRules(i)));
    m.on(RevokeSecurityGroupIngressCommand).callsFake((i) => this.#guard(() => this.revoke(i, false)));
    m.on(RevokeSecurityGroupEgressCommand).callsFake((i) => this.#guard(() => this.revoke(i, true)));
    m.on(AuthorizeSecurityGroupIngressCommand).callsFake((i) => this.#guard(() => this.authorize(i)));
    m.on(CreateSecurityGroupCommand).callsFake((i) => this.#guard(() => this.createGroup(i)));
    m.on(DescribeInstancesCommand).callsFake((i) => this.#guard(() => this.describeInstances(i)));
    m.on(DescribeNetworkInterfacesCommand).callsFake((i) => this.#guard(() => this.describeEnis(i)));
    m.on(ModifyNetworkInterfaceAttributeCommand).callsFake((i) => this.#guard(() => this.modifyEni(i)));
    m.on(CreateTagsCommand).callsFake((i) => this.#guard(() => this.tag(i, true)));
    m.on(DeleteTagsCommand).callsFake((i) => this.#guard(() => this.tag(i, false)));
  }

  #guard<T>(fn: () => T): T {
    if (this.failing)
      throw awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403);
    return fn();
  }

  id(prefix: string): string {
    this.#seq++;
    return `${prefix}-0${this.#seq.toString(16).padStart(16, '0')}`;
  }

  addGroup(g: Partial<FakeGroup> & { id: string }): FakeGroup {
    const group = { name: g.id, vpc: 'vpc-0a1b2c3d4e5f60718', description: '', tags: {}, ...g };
    this.groups.set(group.id, group);
    return group;
  }

  addRule(r: Omit<FakeRule, 'id' | 'tags'> & { id?: string; tags?: Record<string, string> }): FakeRule {
    const rule = { tags: {}, ...r, id: r.id ?? this.id('sgr') };
    this.rules.push(rule);
    return rule;
  }

  addInstance(
    i: Partial<FakeInstance> & { id: string },
    enis: Array<{ id: string; groups: string[] }>,
  ): void {
    this.instances.set(i.id, { state: 'running', vpc: 'vpc-0a1b2c3d4e5f60718', tags: {}, ...i });
    enis.forEach((e, n) => {
      this.enis.set(e.id, { id: e.id, instance: i.id, deviceIndex: n, groups: [...e.groups], tags: {} });
    });
  }

  /**
   * Everything a rollback must restore. Rules are a set (EC2 gives no order)
   * and a restored rule gets a new id; tags under `aws:` are AWS's own and no
   * caller can set them again, so they are left out.
   */
  snapshot() {
    const rules = this.rules.map(({ id: _id, tags, ...r }) => ({
      ...r,
      tags: Object.fromEntries(Object.entries(tags).filter(([k]) => !k.startsWith('aws:'))),
    }));
    return structuredClone({
      groups: [...this.groups.values()],
      rules: rules.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
      enis: [...this.enis.values()],
      instances: [...this.instances.values()],
    });
  }

  describeGroups(i: { GroupIds?: string[]; Filters?: Array<{ Name?: string; Values?: string[] }> }) {
    for (const id of i.GroupIds ?? [])
      if (!this.groups.has(id))
        throw awsError('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    let groups = i.GroupIds ? i.GroupIds.map((id) => this.groups.get(id)!) : [...this.groups.values()];
    for (const f of i.Filters ?? []) {
      if (f.Name === 'vpc-id') groups = groups.filter((g) => f.Values?.includes(g.vpc));
      else if (f.Name === 'group-name') groups = groups.filter((g) => f.Values?.includes(g.name));
      else throw awsError('InvalidParameterValue', `The filter '${f.Name}' is invalid`);
    }
    return {
      SecurityGroups: groups.map((g) => ({
        GroupId: g.id,
        GroupName: g.name,
        VpcId: g.vpc,
        Description: g.description,
        IpPermissions: this.rules.filter((r) => r.groupId === g.id && !r.egress).map(toPermission),
        IpPermissionsEgress: this.rules.filter((r) => r.groupId === g.id && r.egress).map(toPermission),
      })),
    };
  }

  describeRules(i: { Filters?: Array<{ Name?: string; Values?: string[] }>; NextToken?: string }) {
    const groupIds = i.Filters?.find((f) => f.Name === 'group-id')?.Values ?? [];
    const all = this.rules.filter((r) => groupIds.includes(r.groupId));
    const start = i.NextToken ? Number(i.NextToken) : 0;
    const page = all.slice(start, start + 2);
    return {
      SecurityGroupRules: page.map(toRule),
      ...(start + 2 < all.length ? { NextToken: String(start + 2) } : {}),
    };
  }

  revoke(
    i: { GroupId?: string; SecurityGroupRuleIds?: string[]; IpPermissions?: IpPermission[] },
    egress: boolean,
  ) {
    if (!this.groups.has(i.GroupId ?? ''))
      throw awsError('InvalidGroup.NotFound', `The security group '${i.GroupId}' does not exist`);
    if (i.IpPermissions) throw new Error('FakeEc2: revoke by IpPermissions is not used by the actions');
    for (const id of i.SecurityGroupRuleIds ?? []) {
      const n = this.rules.findIndex((r) => r.id === id && r.groupId === i.GroupId && r.egress === egress);
      if (n < 0)
        throw awsError(
          'InvalidSecurityGroupRuleId.NotFound',
          `The security group rule ID '${id}' does not exist`,
        );
      this.rules.splice(n, 1);
    }
    return { Return: true };
  }

  authorize(i: {
    GroupId?: string;
    IpPermissions?: IpPermission[];
    TagSpecifications?: Array<{ ResourceType?: string; Tags?: Tag[] }>;
  }) {
    if (!this.groups.has(i.GroupId ?? ''))
      throw awsError('InvalidGroup.NotFound', `The security group '${i.GroupId}' does not exist`);
    const tags = Object.fromEntries(
      (i.TagSpecifications?.[0]?.Tags ?? []).map((t) => [t.Key!, t.Value ?? '']),
    );
    const created: FakeRule[] = [];
    for (const p of i.IpPermissions ?? []) {
      const base = {
        groupId: i.GroupId!,
        egress: false,
        protocol: p.IpProtocol!,
        ...(PORTED.has(p.IpProtocol!) ? { from: p.FromPort, to: p.ToPort } : {}),
        tags,
      };
      type Source = {
        cidr4?: string;
        cidr6?: string;
        prefixList?: string;
        refGroup?: string;
        description?: string;
      };
      const sources: Source[] = [
        ...(p.IpRanges ?? []).map((x) => ({ cidr4: x.CidrIp, description: x.Description })),
        ...(p.Ipv6Ranges ?? []).map((x) => ({ cidr6: x.CidrIpv6, description: x.Description })),
        ...(p.PrefixListIds ?? []).map((x) => ({ prefixList: x.PrefixListId, description: x.Description })),
        ...(p.UserIdGroupPairs ?? []).map((x) => ({ refGroup: x.GroupId, description: x.Description })),
      ];
      for (const s of sources) {
        const dup = this.rules.find(
          (r) =>
            r.groupId === base.groupId &&
            !r.egress &&
            r.protocol === base.protocol &&
            r.from === base.from &&
            r.to === base.to &&
            r.cidr4 === s.cidr4 &&
            r.cidr6 === s.cidr6 &&
            r.prefixList === s.prefixList &&
            r.refGroup === s.refGroup,
        );
        if (dup) throw awsError('InvalidPermission.Duplicate', 'the specified rule already exists');
        const clean = Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined));
        created.push(this.addRule({ ...base, ...clean }));
      }
    }
    return { Return: true, SecurityGroupRules: created.map(toRule) };
  }

  createGroup(i: {
    GroupName?: string;
    Description?: string;
    VpcId?: string;
    TagSpecifications?: Array<{ Tags?: Tag[] }>;
  }) {
    if ([...this.groups.values()].some((g) => g.vpc === i.VpcId && g.name === i.GroupName))
      throw awsError(
        'InvalidGroup.Duplicate',
        `The security group '${i.GroupName}' already exists for VPC '${i.VpcId}'`,
      );
    const g = this.addGroup({
      id: this.id('sg'),
      name: i.GroupName!,
      vpc: i.VpcId!,
      description: i.Description ?? '',
      tags: Object.fromEntries((i.TagSpecifications?.[0]?.Tags ?? []).map((t) => [t.Key!, t.Value ?? ''])),
    });
    // EC2 gives every new VPC security group allow-all egress rules.
    this.addRule({ groupId: g.id, egress: true, protocol: '-1', cidr4: '0.0.0.0/0' });
    this.addRule({ groupId: g.id, egress: true, protocol: '-1', cidr6: '::/0' });
    return { GroupId: g.id };
  }

  describeInstances(i: { InstanceIds?: string[] }) {
    for (const id of i.InstanceIds ?? [])
      if (!this.instances.has(id))
        throw awsError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    return {
      Reservations: (i.InstanceIds ?? []).map((id) => {
        const inst = this.instances.get(id)!;
        return {
          Instances: [
            {
              InstanceId: id,
              State: { Name: inst.state },
              VpcId: inst.vpc,
              Tags: Object.entries(inst.tags).map(([Key, Value]) => ({ Key, Value })),
              NetworkInterfaces: this.#enisOf(id).map((e) => ({
                NetworkInterfaceId: e.id,
                Groups: e.groups.map((g) => ({ GroupId: g, GroupName: this.groups.get(g)?.name })),
                Attachment: { DeviceIndex: e.deviceIndex },
              })),
            },
          ],
        };
      }),
    };
  }

  #enisOf(instanceId: string): FakeEni[] {
    return [...this.enis.values()]
      .filter((e) => e.instance === instanceId)
      .sort((a, b) => a.deviceIndex - b.deviceIndex);
  }

  describeEnis(i: { Filters?: Array<{ Name?: string; Values?: string[] }> }) {
    const instance = i.Filters?.find((f) => f.Name === 'attachment.instance-id')?.Values?.[0];
    if (!instance)
      throw new Error('FakeEc2: DescribeNetworkInterfaces needs an attachment.instance-id filter');
    return {
      NetworkInterfaces: this.#enisOf(instance).map((e) => ({
        NetworkInterfaceId: e.id,
        Groups: e.groups.map((g) => ({ GroupId: g, GroupName: this.groups.get(g)?.name })),
        Attachment: { DeviceIndex: e.deviceIndex, InstanceId: instance },
        TagSet: Object.entries(e.tags).map(([Key, Value]) => ({ Key, Value })),
      })),
    };
  }

  modifyEni(i: { NetworkInterfaceId?: string; Groups?: string[] }) {
    const eni = this.enis.get(i.NetworkInterfaceId ?? '');
    if (!eni)
      throw awsError(
        'InvalidNetworkInterfaceID.NotFound',
        `The networkInterface ID '${i.NetworkInterfaceId}' does not exist`,
      );
    const vpc = eni.instance ? this.instances.get(eni.instance)?.vpc : undefined;
    for (const g of i.Groups ?? []) {
      const group = this.groups.get(g);
      if (!group) throw awsError('InvalidGroup.NotFound', `The security group '${g}' does not exist`);
      if (group.vpc !== vpc) throw awsError('InvalidParameterValue', `Security group ${g} is in another VPC`);
    }
    if (!i.Groups?.length) throw awsError('InvalidParameterValue', 'at least one security group is required');
    eni.groups = [...i.Groups];
    return {};
  }

  tag(i: { Resources?: string[]; Tags?: Tag[] }, add: boolean) {
    for (const id of i.Resources ?? []) {
      const target = this.instances.get(id) ?? this.enis.get(id) ?? this.groups.get(id);
      if (!target) throw awsError('InvalidID', `The ID '${id}' is not valid`);
      for (const t of i.Tags ?? []) {
        if (add) target.tags[t.Key!] = t.Value ?? '';
        else if (t.Value === undefined || target.tags[t.Key!] === t.Value) delete target.tags[t.Key!];
      }
    }
    return {};
  }
}

function toRule(r: FakeRule): SecurityGroupRule {
  return {
    SecurityGroupRuleId: r.id,
    GroupId: r.groupId,
    IsEgress: r.egress,
    IpProtocol: r.protocol,
    FromPort: r.from ?? -1,
    ToPort: r.to ?? -1,
    ...(r.cidr4 ? { CidrIpv4: r.cidr4 } : {}),
    ...(r.cidr6 ? { CidrIpv6: r.cidr6 } : {}),
    ...(r.prefixList ? { PrefixListId: r.prefixList } : {}),
    ...(r.refGroup ? { ReferencedGroupInfo: { GroupId: r.refGroup, UserId: '111122223333' } } : {}),
    ...(r.description ? { Description: r.description } : {}),
    Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
  };
}

function toPermission(r: FakeRule): IpPermission {
  return {
    IpProtocol: r.protocol,
    ...(PORTED.has(r.protocol) ? { FromPort: r.from, ToPort: r.to } : {}),
    IpRanges: r.cidr4 ? [{ CidrIp: r.cidr4 }] : [],
    Ipv6Ranges: r.cidr6 ? [{ CidrIpv6: r.cidr6 }] : [],
  };
}
