import type { Instance, NetworkInterface, Tag } from '@aws-sdk/client-ec2';
import { z } from 'zod';
import { baseConfigShape, defineAction } from '../define.ts';
import { actionError, parseOrThrow } from '../errors.ts';
import type { RunContext } from '../types.ts';
import { awsCall } from './call.ts';
import { awsActionClient, awsConfigShape } from './client.ts';
import type { Ec2 } from './ec2-rules.ts';
import { createIsolationGroup, findIsolationGroup } from './isolation-group.ts';
import { SecurityGroupId } from './revoke-security-group-ingress.ts';

const TagKey = z
  .string()
  .min(1)
  .max(120)
  .refine((k) => !k.toLowerCase().startsWith('aws:'), 'must not start with aws: (reserved by AWS)');

export const QuarantineConfig = z
  .strictObject({
    ...awsConfigShape,
    ...baseConfigShape,
    isolation_group_id: SecurityGroupId.optional().describe(
      'An existing isolation group (no rules) in the instance VPC; default: looked up by isolation_group_name',
    ),
    isolation_group_name: z
      .string()
      .min(1)
      .max(255)
      .default('aisoc-quarantine')
      .describe('Name of the isolation group looked up (or created) in the instance VPC'),
    create_isolation_group: z
      .boolean()
      .default(false)
      .describe('Create the isolation group, with no inbound and no outbound rules, when the VPC has none'),
    tag_instance: z
      .boolean()
      .default(true)
      .describe('Tag the quarantined instance (tag_key = incident id or "true")'),
    tag_key: TagKey.default('aisoc:quarantined').describe('Tag key set on the quarantined instance'),
    previous_groups_tag_key: TagKey.default('aisoc:pre-quarantine-groups').describe(
      'Tag key on each network interface recording its groups before quarantine, so an interrupted run can be resumed and rolled back',
    ),
  })
  .describe('aws.ec2.quarantine_instance');
export type QuarantineConfig = z.infer<typeof QuarantineConfig>;

export const QuarantineInput = z.strictObject({
  instance_id: z
    .string()
    .trim()
    .regex(/^i-[0-9a-f]{8,17}$/, 'must be an EC2 instance id (i-…)')
    .describe('The instance to isolate'),
  incident_id: z
    .string()
    .trim()
    .regex(/^[\w.:/=+@-]{1,128}$/, 'must be 1–128 letters, digits or ._:/=+@-')
    .optional()
    .describe('Incident the quarantine belongs to; used as the instance tag value'),
});
export type QuarantineInput = z.infer<typeof QuarantineInput>;

const EniRecord = z.object({
  network_interface_id: z.string(),
  previous_group_ids: z.array(z.string()).min(1),
});
const RollbackData = z.object({
  instance_id: z.string(),
  isolation_group_id: z.string(),
  enis: z.array(EniRecord).min(1),
  instance_tag_key: z.string().optional(),
  previous_groups_tag_key: z.string(),
});

const TAG_VALUE_MAX = 256;

/** Tags recording an interface's groups (split over `key`, `key:2`, … when longer than a tag value allows). */
export function groupsToTags(key: string, groups: string[]): Tag[] {
  const tags: Tag[] = [];
  let cur = '';
  for (const g of groups) {
    const next = cur === '' ? g : `${cur} ${g}`;
    if (next.length > TAG_VALUE_MAX) {
      tags.push({ Key: tags.length === 0 ? key : `${key}:${tags.length + 1}`, Value: cur });
      cur = g;
    } else cur = next;
  }
  if (cur !== '') tags.push({ Key: tags.length === 0 ? key : `${key}:${tags.length + 1}`, Value: cur });
  return tags;
}

/** The groups recorded by {@link groupsToTags}, or `undefined` when there is no record. */
export function groupsFromTags(key: string, tags: Tag[] | undefined): string[] | undefined {
  const byKey = new Map((tags ?? []).map((t) => [t.Key, t.Value ?? '']));
  const first = byKey.get(key);
  if (first === undefined) return undefined;
  const out = first.split(' ');
  for (let n = 2; byKey.has(`${key}:${n}`); n++) out.push(...byKey.get(`${key}:${n}`)!.split(' '));
  return out.filter((g) => g !== '');
}

const groupIds = (eni: NetworkInterface) => (eni.Groups ?? []).map((g) => g.GroupId!).filter(Boolean);
const isOnly = (ids: string[], id: string | undefined) =>
  id !== undefined && ids.length === 1 && ids[0] === id;

/**
 * `aws.ec2.quarantine_instance`: moves every network interface of an
 * instance into an isolation security group that has no rules, with
 * ModifyNetworkInterfaceAttribute (Groups) per interface — ModifyInstanceAttribute
 * cannot address the interfaces of a multi-interface instance. Each
 * interface's previous groups are recorded in the rollback data and, before
 * it is changed, in a tag on the interface, so a run cut short can be run
 * again and still be rolled back. Optionally creates the isolation group and
 * tags the instance. Rollback restores each interface's groups (only where
 * the interface is still isolated) and removes the tags; the isolation group
 * is kept for other quarantines.
 *
 * Security groups do not cut connections already tracked: see docs/actions.md.
 *
 * @example
 * const a = quarantineInstanceFactory.create({ create_isolation_group: true }, ctx);
 * await a.execute({ instance_id: 'i-0abc1234def567890', incident_id: 'inc-42' }, opts);
 */
export const quarantineInstanceFactory = defineAction({
  type: 'aws.ec2.quarantine_instance',
  description:
    'Isolate an EC2 instance by moving all its network interfaces into a rule-less security group; rollback restores them',
  effect: 'reversible',
  configSchema: QuarantineConfig,
  inputSchema: QuarantineInput,
  build(config) {
    const ec2Client = awsActionClient('@aws-sdk/client-ec2', config, (sdk, c) => new sdk.EC2Client(c));
    const prevKey = config.previous_groups_tag_key;

    async function describe(
      run: RunContext,
      ec2: Ec2,
      instanceId: string,
    ): Promise<{ instance: Instance; enis: NetworkInterface[] }> {
      const out = await awsCall(run, 'EC2 DescribeInstances', (abortSignal) =>
        ec2.client.send(new ec2.sdk.DescribeInstancesCommand({ InstanceIds: [instanceId] }), { abortSignal }),
      );
      const instance = out.Reservations?.[0]?.Instances?.[0];
      if (!instance)
        throw actionError(
          'AISOC_ERR_ACTION_NOT_FOUND',
          `Instance ${instanceId} does not exist`,
          {},
          'instance_id',
        );
      const state = instance.State?.Name;
      if (state === 'terminated' || state === 'shutting-down')
        throw actionError('AISOC_ERR_ACTION_PRECONDITION', `Instance ${instanceId} is ${state}`, { state });
      const enis = await awsCall(run, 'EC2 DescribeNetworkInterfaces', (abortSignal) =>
        ec2.client.send(
          new ec2.sdk.DescribeNetworkInterfacesCommand({
            Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }],
          }),
          { abortSignal },
        ),
      );
      return { instance, enis: enis.NetworkInterfaces ?? [] };
    }

    const tagCall = (run: RunContext, ec2: Ec2, create: boolean, resource: string, tags: Tag[]) =>
      create
        ? awsCall(run, 'EC2 CreateTags', (abortSignal) =>
            ec2.client.send(new ec2.sdk.CreateTagsCommand({ Resources: [resource], Tags: tags }), {
              abortSignal,
            }),
          )
        : awsCall(run, 'EC2 DeleteTags', (abortSignal) =>
            ec2.client.send(new ec2.sdk.DeleteTagsCommand({ Resources: [resource], Tags: tags }), {
              abortSignal,
            }),
          );

    const setGroups = (run: RunContext, ec2: Ec2, eniId: string, groups: string[]) =>
      awsCall(run, 'EC2 ModifyNetworkInterfaceAttribute', (abortSignal) =>
        ec2.client.send(
          new ec2.sdk.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Groups: groups }),
          { abortSignal },
        ),
      );

    return {
      async execute(input, run) {
        const ec2 = await ec2Client();
        const { instance, enis } = await describe(run, ec2, input.instance_id);
        const vpc = instance.VpcId;
        if (!vpc)
          throw actionError('AISOC_ERR_ACTION_PRECONDITION', `Instance ${input.instance_id} is not in a VPC`);
        if (enis.length === 0)
          throw actionError(
            'AISOC_ERR_ACTION_PRECONDITION',
            `Instance ${input.instance_id} has no network interface`,
          );
        const iso = await findIsolationGroup(run, ec2, config, vpc);

        // Interfaces to move, and what each held before (from a tag when an earlier run already moved it).
        const plan = enis.map((e) => {
          const current = groupIds(e);
          const isolated = isOnly(current, iso.id);
          const previous = isolated ? groupsFromTags(prevKey, e.TagSet) : current;
          return { id: e.NetworkInterfaceId!, current, isolated, previous };
        });
        const tagValue = input.incident_id ?? 'true';
        const instanceTagged = (instance.Tags ?? []).some(
          (t) => t.Key === config.tag_key && t.Value === tagValue,
        );
        const toMove = plan.filter((p) => !p.isolated);
        const details = {
          instance_id: input.instance_id,
          vpc_id: vpc,
          isolation_group_id: iso.id ?? null,
          isolation_group_created: iso.id === undefined,
          network_interfaces: plan.map((p) => ({ network_interface_id: p.id, group_ids: p.current })),
        };
        if (toMove.length === 0 && (!config.tag_instance || instanceTagged))
          return {
            status: 'skipped',
            summary: `Instance ${input.instance_id} is already isolated in ${iso.id}.`,
            details,
          };
        if (run.dryRun) {
          const moves = toMove.map((p) => `${p.id} [${p.current.join(', ')}]`).join('; ');
          const group = iso.id ?? `a new group ${iso.name} (would be created with no rules)`;
          return {
            status: 'dry_run',
            summary: `Would move ${toMove.length} network interface(s) of ${input.instance_id} (${moves || 'none left'}) into isolation group ${group}.`,
            details,
          };
        }
        const isoId = iso.id ?? (await createIsolationGroup(run, ec2, iso));
        for (const p of toMove) {
          // Record first: if the run stops after the move, the next run still knows what to restore.
          await tagCall(run, ec2, true, p.id, groupsToTags(prevKey, p.current));
          await setGroups(run, ec2, p.id, [isoId]);
        }
        if (config.tag_instance && !instanceTagged)
          await tagCall(run, ec2, true, input.instance_id, [{ Key: config.tag_key, Value: tagValue }]);
        const known = plan.filter((p) => p.previous !== undefined && p.previous.length > 0);
        const unknown = plan.filter((p) => p.isolated && p.previous === undefined).map((p) => p.id);
        return {
          status: 'succeeded',
          summary: `Moved ${toMove.length} network interface(s) of ${input.instance_id} into isolation group ${isoId}.`,
          details: { ...details, isolation_group_id: isoId, isolated_before_unknown_groups: unknown },
          ...(known.length > 0
            ? {
                rollback_data: {
                  instance_id: input.instance_id,
                  isolation_group_id: isoId,
                  enis: known.map((p) => ({ network_interface_id: p.id, previous_group_ids: p.previous })),
                  ...(config.tag_instance ? { instance_tag_key: config.tag_key } : {}),
                  previous_groups_tag_key: prevKey,
                },
              }
            : {}),
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
        const { instance, enis } = await describe(run, ec2, data.instance_id);
        const byId = new Map(enis.map((e) => [e.NetworkInterfaceId, e]));
        const restore: Array<{ id: string; groups: string[] }> = [];
        const untag: string[] = [];
        const missing: string[] = [];
        const changedSince: string[] = [];
        for (const r of data.enis) {
          const eni = byId.get(r.network_interface_id);
          if (!eni) {
            missing.push(r.network_interface_id);
            continue;
          }
          const current = groupIds(eni);
          if (groupsFromTags(data.previous_groups_tag_key, eni.TagSet) !== undefined)
            untag.push(r.network_interface_id);
          if (isOnly(current, data.isolation_group_id))
            restore.push({ id: r.network_interface_id, groups: r.previous_group_ids });
          // Someone changed the groups after the quarantine: theirs is the newer decision, so it stays.
          else if (current.join(' ') !== r.previous_group_ids.join(' '))
            changedSince.push(r.network_interface_id);
        }
        const instanceTag = data.instance_tag_key
          ? (instance.Tags ?? []).find((t) => t.Key === data.instance_tag_key)
          : undefined;
        const details = {
          instance_id: data.instance_id,
          restored: restore.map((r) => ({ network_interface_id: r.id, group_ids: r.groups })),
          missing_network_interfaces: missing,
          changed_since_quarantine: changedSince,
        };
        if (restore.length === 0 && untag.length === 0 && !instanceTag)
          return {
            status: 'skipped',
            summary: `Instance ${data.instance_id} is not quarantined any more.`,
            details,
          };
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would restore the groups of ${restore.length} network interface(s) of ${data.instance_id}.`,
            details,
          };
        for (const r of restore) await setGroups(run, ec2, r.id, r.groups);
        for (const id of untag) {
          const eni = byId.get(id)!;
          const keys = (eni.TagSet ?? [])
            .filter(
              (t) =>
                t.Key === data.previous_groups_tag_key ||
                t.Key?.startsWith(`${data.previous_groups_tag_key}:`),
            )
            .map((t) => ({ Key: t.Key }));
          await tagCall(run, ec2, false, id, keys);
        }
        if (instanceTag)
          await tagCall(run, ec2, false, data.instance_id, [
            { Key: instanceTag.Key, Value: instanceTag.Value },
          ]);
        return {
          status: 'succeeded',
          summary: `Restored the groups of ${restore.length} network interface(s) of ${data.instance_id}.`,
          details,
        };
      },
    };
  },
});
