import type { SecurityGroupRule } from '@aws-sdk/client-ec2';
import { z } from 'zod';
import { CidrBlock, parseCidr } from '../../../net/ip.ts';
import { baseConfigShape, defineAction } from '../define.ts';
import { actionError, parseOrThrow } from '../errors.ts';
import type { RunContext } from '../types.ts';
import { awsCall, isAwsError, mapAwsError } from './call.ts';
import { awsActionClient, awsConfigShape } from './client.ts';
import {
  describeRule,
  type Ec2,
  listGroupRules,
  normaliseProtocol,
  PORTED,
  StoredRule,
  sameRule,
  storeRule,
  toIpPermission,
} from './ec2-rules.ts';

export const SecurityGroupId = z
  .string()
  .trim()
  .regex(/^sg-[0-9a-f]{8,17}$/, 'must be a security group id (sg-…)');

export const RevokeIngressConfig = z
  .strictObject({ ...awsConfigShape, ...baseConfigShape })
  .describe('aws.ec2.revoke_security_group_ingress');

/**
 * Which rule to revoke: its id, or its protocol, ports and CIDR. Exactly one
 * way must be used, so the action never guesses.
 */
export const RevokeIngressInput = z
  .strictObject({
    group_id: SecurityGroupId.describe('The security group holding the rule'),
    security_group_rule_id: z
      .string()
      .trim()
      .regex(/^sgr-[0-9a-f]{8,17}$/, 'must be a security group rule id (sgr-…)')
      .optional()
      .describe('The rule to revoke, by id; or give ip_protocol, ports and cidr instead'),
    ip_protocol: z
      .string()
      .refine((p) => normaliseProtocol(p) !== undefined, 'must be tcp, udp, icmp, icmpv6, -1 (all) or 0–255')
      .transform((p) => normaliseProtocol(p)!)
      .optional()
      .describe('Protocol of the rule: tcp, udp, icmp, icmpv6, -1 (all traffic) or an IANA number'),
    from_port: z
      .number()
      .int()
      .min(-1)
      .max(65535)
      .optional()
      .describe('First port of the range (ICMP: the type, -1 for all); required for tcp and udp'),
    to_port: z
      .number()
      .int()
      .min(-1)
      .max(65535)
      .optional()
      .describe('Last port of the range (ICMP: the code, -1 for all); required for tcp and udp'),
    cidr: CidrBlock.optional().describe('Source CIDR of the rule, IPv4 or IPv6, e.g. 0.0.0.0/0'),
  })
  .superRefine((v, ctx) => {
    const bySpec =
      v.ip_protocol !== undefined ||
      v.cidr !== undefined ||
      v.from_port !== undefined ||
      v.to_port !== undefined;
    if (v.security_group_rule_id !== undefined) {
      if (bySpec)
        ctx.addIssue({
          code: 'custom',
          path: ['security_group_rule_id'],
          message: 'give either security_group_rule_id or ip_protocol/ports/cidr, not both',
        });
      return;
    }
    if (v.ip_protocol === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['ip_protocol'],
        message: 'is required without security_group_rule_id',
      });
    if (v.cidr === undefined)
      ctx.addIssue({ code: 'custom', path: ['cidr'], message: 'is required without security_group_rule_id' });
    const p = v.ip_protocol;
    if (p === 'tcp' || p === 'udp') {
      for (const f of ['from_port', 'to_port'] as const) {
        const n = v[f];
        if (n === undefined || n < 0)
          ctx.addIssue({ code: 'custom', path: [f], message: `is required (0–65535) for ${p}` });
      }
      if (v.from_port !== undefined && v.to_port !== undefined && v.from_port > v.to_port)
        ctx.addIssue({ code: 'custom', path: ['to_port'], message: 'must not be below from_port' });
    } else if (p !== undefined && !PORTED.has(p)) {
      for (const f of ['from_port', 'to_port'] as const)
        if (v[f] !== undefined)
          ctx.addIssue({ code: 'custom', path: [f], message: `does not apply to protocol ${p} (all ports)` });
    }
  })
  .transform((v) => {
    // ICMP rules without type/code match every type and code, as EC2 records them (-1).
    if (v.ip_protocol === 'icmp' || v.ip_protocol === 'icmpv6')
      return { ...v, from_port: v.from_port ?? -1, to_port: v.to_port ?? -1 };
    return v;
  });
export type RevokeIngressInput = z.infer<typeof RevokeIngressInput>;

const RollbackData = z.object({
  group_id: z.string(),
  revoked_rule_id: z.string(),
  rule: StoredRule,
});

function matches(r: SecurityGroupRule, input: RevokeIngressInput): boolean {
  if (input.security_group_rule_id !== undefined)
    return r.SecurityGroupRuleId === input.security_group_rule_id;
  if (r.IsEgress) return false;
  const stored = storeRule(r);
  if (stored.ip_protocol !== input.ip_protocol) return false;
  if (
    PORTED.has(stored.ip_protocol) &&
    (stored.from_port !== input.from_port || stored.to_port !== input.to_port)
  )
    return false;
  const want = parseCidr(input.cidr!);
  if ('error' in want) return false;
  const have = want.version === 4 ? stored.cidr_ipv4 : stored.cidr_ipv6;
  if (have === undefined) return false;
  const h = parseCidr(have, { lenient: true });
  return !('error' in h) && h.text === want.text;
}

/**
 * `aws.ec2.revoke_security_group_ingress`: revokes exactly one ingress rule
 * of a security group, found by its id or by protocol, ports and source
 * CIDR, and always revoked by its rule id (RevokeSecurityGroupIngress with
 * SecurityGroupRuleIds), so no neighbouring rule is touched. A rule that is
 * not there is `skipped`. Rollback authorizes the same rule again, with its
 * description and tags.
 *
 * @example
 * await action.execute({ group_id: 'sg-0123456789abcdef0', ip_protocol: 'tcp', from_port: 22, to_port: 22, cidr: '0.0.0.0/0' }, opts);
 */
export const revokeSecurityGroupIngressFactory = defineAction({
  type: 'aws.ec2.revoke_security_group_ingress',
  description: 'Revoke one ingress rule of an EC2 security group; rollback authorizes it again',
  effect: 'reversible',
  configSchema: RevokeIngressConfig,
  inputSchema: RevokeIngressInput,
  build(config) {
    const ec2Client = awsActionClient('@aws-sdk/client-ec2', config, (sdk, c) => new sdk.EC2Client(c));

    async function describeGroup(run: RunContext, ec2: Ec2, groupId: string) {
      const out = await awsCall(run, 'EC2 DescribeSecurityGroups', (abortSignal) =>
        ec2.client.send(new ec2.sdk.DescribeSecurityGroupsCommand({ GroupIds: [groupId] }), { abortSignal }),
      );
      const g = out.SecurityGroups?.[0];
      if (!g)
        throw actionError(
          'AISOC_ERR_ACTION_NOT_FOUND',
          `Security group ${groupId} does not exist`,
          {},
          'group_id',
        );
      return { group_id: groupId, group_name: g.GroupName, vpc_id: g.VpcId };
    }

    return {
      async execute(input, run) {
        const ec2 = await ec2Client();
        const group = await describeGroup(run, ec2, input.group_id);
        const rules = await listGroupRules(run, ec2, input.group_id);
        const found = rules.find((r) => matches(r, input));
        if (!found)
          return {
            status: 'skipped',
            summary: `Security group ${input.group_id} has no such ingress rule; nothing to revoke.`,
            details: { ...group, rule_found: false },
          };
        if (found.IsEgress)
          throw actionError(
            'AISOC_ERR_VALIDATION',
            `Rule ${found.SecurityGroupRuleId} of ${input.group_id} is an egress rule, not an ingress rule`,
            {},
            'security_group_rule_id',
          );
        const rule = storeRule(found);
        const ruleId = found.SecurityGroupRuleId!;
        const details = { ...group, security_group_rule_id: ruleId, rule };
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would revoke rule ${ruleId} (${describeRule(rule)}) from security group ${input.group_id}.`,
            details,
          };
        const call = 'EC2 RevokeSecurityGroupIngress';
        let out: { Return?: boolean; UnknownIpPermissions?: unknown[] };
        try {
          out = await awsCall(
            run,
            call,
            (abortSignal) =>
              ec2.client.send(
                new ec2.sdk.RevokeSecurityGroupIngressCommand({
                  GroupId: input.group_id,
                  SecurityGroupRuleIds: [ruleId],
                }),
                { abortSignal },
              ),
            { raw: true },
          );
        } catch (err) {
          // Someone revoked it between our read and our call: the desired state holds.
          if (isAwsError(err, 'InvalidSecurityGroupRuleId.NotFound', 'InvalidPermission.NotFound'))
            return {
              status: 'skipped',
              summary: `Rule ${ruleId} of security group ${input.group_id} was already gone.`,
              details,
            };
          throw mapAwsError(err, call);
        }
        if (out.Return === false || (out.UnknownIpPermissions?.length ?? 0) > 0)
          throw actionError('AISOC_ERR_ACTION_FAILED', `${call} did not revoke rule ${ruleId}`, {
            unknown_ip_permissions: out.UnknownIpPermissions,
          });
        return {
          status: 'succeeded',
          summary: `Revoked rule ${ruleId} (${describeRule(rule)}) from security group ${input.group_id}.`,
          details,
          rollback_data: { group_id: input.group_id, revoked_rule_id: ruleId, rule },
        };
      },

      async rollback(_input, rollbackData, run) {
        const data = parseOrThrow(
          RollbackData,
          rollbackData,
          'AISOC_ERR_VALIDATION',
          'rollback data',
          'rollback_data',
        );
        const ec2 = await ec2Client();
        const group = await describeGroup(run, ec2, data.group_id);
        const existing = (await listGroupRules(run, ec2, data.group_id)).find(
          (r) => !r.IsEgress && sameRule(storeRule(r), data.rule),
        );
        const details = { ...group, rule: data.rule, revoked_rule_id: data.revoked_rule_id };
        if (existing)
          return {
            status: 'skipped',
            summary: `Security group ${data.group_id} already allows ${describeRule(data.rule)} (rule ${existing.SecurityGroupRuleId}).`,
            details: { ...details, restored_rule_id: existing.SecurityGroupRuleId },
          };
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would authorize ${describeRule(data.rule)} on security group ${data.group_id} again.`,
            details,
          };
        const call = 'EC2 AuthorizeSecurityGroupIngress';
        const tags = data.rule.tags.map((t) => ({ Key: t.key, Value: t.value }));
        try {
          const out = await awsCall(
            run,
            call,
            (abortSignal) =>
              ec2.client.send(
                new ec2.sdk.AuthorizeSecurityGroupIngressCommand({
                  GroupId: data.group_id,
                  IpPermissions: [toIpPermission(data.rule)],
                  ...(tags.length > 0
                    ? { TagSpecifications: [{ ResourceType: 'security-group-rule', Tags: tags }] }
                    : {}),
                }),
                { abortSignal },
              ),
            { raw: true },
          );
          return {
            status: 'succeeded',
            summary: `Authorized ${describeRule(data.rule)} on security group ${data.group_id} again.`,
            details: { ...details, restored_rule_id: out.SecurityGroupRules?.[0]?.SecurityGroupRuleId },
          };
        } catch (err) {
          if (isAwsError(err, 'InvalidPermission.Duplicate'))
            return {
              status: 'skipped',
              summary: `Security group ${data.group_id} already allows ${describeRule(data.rule)}.`,
              details,
            };
          throw mapAwsError(err, call);
        }
      },
    };
  },
});
