import type { EC2Client, IpPermission, SecurityGroupRule } from '@aws-sdk/client-ec2';
import { z } from 'zod';
import type { AwsSdkClient } from '../../../aws-sdk.ts';
import { parseCidr } from '../../../net/ip.ts';
import type { RunContext } from '../types.ts';
import { awsCall } from './call.ts';

/** The EC2 module (its command classes) and an action's client, as `awsActionClient` gives them. */
export type Ec2 = AwsSdkClient<'@aws-sdk/client-ec2', EC2Client>;

/** Protocols whose rules carry ports (ICMP: type and code). */
export const PORTED = new Set(['tcp', 'udp', 'icmp', 'icmpv6']);

const BY_NUMBER: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmpv6', all: '-1' };

/**
 * EC2's name for a protocol: `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all), or
 * the IANA number for others; `undefined` when it is none of those.
 *
 * @example normaliseProtocol('6') // 'tcp'
 */
export function normaliseProtocol(p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  const v = p.trim().toLowerCase();
  if (BY_NUMBER[v]) return BY_NUMBER[v];
  if (v === '-1' || PORTED.has(v)) return v;
  if (/^\d{1,3}$/.test(v) && Number(v) <= 255) return String(Number(v));
  return undefined;
}

/** A security-group rule as this module stores it in rollback data: enough to authorize it again. */
export const StoredRule = z.object({
  ip_protocol: z.string(),
  from_port: z.number().int().optional(),
  to_port: z.number().int().optional(),
  cidr_ipv4: z.string().optional(),
  cidr_ipv6: z.string().optional(),
  prefix_list_id: z.string().optional(),
  referenced_group_id: z.string().optional(),
  referenced_user_id: z.string().optional(),
  description: z.string().optional(),
  tags: z.array(z.object({ key: z.string(), value: z.string() })).default([]),
});
export type StoredRule = z.infer<typeof StoredRule>;

const canonCidr = (c: string | undefined) => {
  if (c === undefined) return undefined;
  const p = parseCidr(c, { lenient: true });
  return 'error' in p ? c : p.text;
};

/** The stored form of a rule EC2 returned. */
export function storeRule(r: SecurityGroupRule): StoredRule {
  const protocol = normaliseProtocol(r.IpProtocol) ?? r.IpProtocol ?? '-1';
  const out: StoredRule = { ip_protocol: protocol, tags: [] };
  if (PORTED.has(protocol)) {
    out.from_port = r.FromPort;
    out.to_port = r.ToPort;
  }
  if (r.CidrIpv4) out.cidr_ipv4 = r.CidrIpv4;
  if (r.CidrIpv6) out.cidr_ipv6 = r.CidrIpv6;
  if (r.PrefixListId) out.prefix_list_id = r.PrefixListId;
  if (r.ReferencedGroupInfo?.GroupId) out.referenced_group_id = r.ReferencedGroupInfo.GroupId;
  if (r.ReferencedGroupInfo?.UserId) out.referenced_user_id = r.ReferencedGroupInfo.UserId;
  if (r.Description) out.description = r.Description;
  // Tags under aws: are reserved for AWS and cannot be set again.
  out.tags = (r.Tags ?? [])
    .filter((t) => t.Key && !t.Key.startsWith('aws:'))
    .map((t) => ({ key: t.Key!, value: t.Value ?? '' }));
  return out;
}

/** Whether two rules allow the same traffic from the same source (descriptions and tags aside). */
export function sameRule(a: StoredRule, b: StoredRule): boolean {
  return (
    a.ip_protocol === b.ip_protocol &&
    a.from_port === b.from_port &&
    a.to_port === b.to_port &&
    canonCidr(a.cidr_ipv4) === canonCidr(b.cidr_ipv4) &&
    canonCidr(a.cidr_ipv6) === canonCidr(b.cidr_ipv6) &&
    a.prefix_list_id === b.prefix_list_id &&
    a.referenced_group_id === b.referenced_group_id
  );
}

/** The IpPermission that authorizes a stored rule again, description included. */
export function toIpPermission(r: StoredRule): IpPermission {
  const p: IpPermission = { IpProtocol: r.ip_protocol };
  if (PORTED.has(r.ip_protocol)) {
    p.FromPort = r.from_port;
    p.ToPort = r.to_port;
  }
  const d = r.description === undefined ? {} : { Description: r.description };
  if (r.cidr_ipv4) p.IpRanges = [{ CidrIp: r.cidr_ipv4, ...d }];
  if (r.cidr_ipv6) p.Ipv6Ranges = [{ CidrIpv6: r.cidr_ipv6, ...d }];
  if (r.prefix_list_id) p.PrefixListIds = [{ PrefixListId: r.prefix_list_id, ...d }];
  if (r.referenced_group_id)
    p.UserIdGroupPairs = [
      {
        GroupId: r.referenced_group_id,
        ...(r.referenced_user_id ? { UserId: r.referenced_user_id } : {}),
        ...d,
      },
    ];
  return p;
}

/** A rule in words: `tcp 22 from 0.0.0.0/0`. */
export function describeRule(r: StoredRule): string {
  const proto = r.ip_protocol === '-1' ? 'all traffic' : r.ip_protocol;
  const ports =
    PORTED.has(r.ip_protocol) && r.from_port !== undefined && r.from_port !== -1
      ? r.from_port === r.to_port
        ? ` ${r.from_port}`
        : ` ${r.from_port}-${r.to_port}`
      : '';
  const src = r.cidr_ipv4 ?? r.cidr_ipv6 ?? r.prefix_list_id ?? r.referenced_group_id ?? 'unknown source';
  return `${proto}${ports} from ${src}`;
}

/** Every rule of a security group (both directions), following pagination. */
export async function listGroupRules(
  run: RunContext,
  { sdk, client }: Ec2,
  groupId: string,
): Promise<SecurityGroupRule[]> {
  const rules: SecurityGroupRule[] = [];
  let next: string | undefined;
  do {
    const page = await awsCall(run, 'EC2 DescribeSecurityGroupRules', (abortSignal) =>
      client.send(
        new sdk.DescribeSecurityGroupRulesCommand({
          Filters: [{ Name: 'group-id', Values: [groupId] }],
          ...(next ? { NextToken: next } : {}),
        }),
        { abortSignal },
      ),
    );
    rules.push(...(page.SecurityGroupRules ?? []));
    next = page.NextToken;
  } while (next);
  return rules;
}
