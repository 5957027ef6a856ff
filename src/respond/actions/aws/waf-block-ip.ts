import type { IPSet } from '@aws-sdk/client-wafv2';
import { z } from 'zod';
import {
  BlockableIp,
  CidrBlock,
  findCovering,
  hostCidr,
  type Ip,
  parseCidr,
  parseIp,
} from '../../../net/ip.ts';
import { baseConfigShape, defineAction } from '../define.ts';
import { actionError, parseOrThrow } from '../errors.ts';
import type { ActionResult, RunContext } from '../types.ts';
import { awsCall, isAwsError, mapAwsError } from './call.ts';
import { awsActionClient, awsConfigShape } from './client.ts';

const IpSetRef = z.strictObject({
  name: z
    .string()
    .regex(/^[\w-]{1,128}$/, 'must be a WAF IP set name')
    .describe('IP set name'),
  id: z
    .string()
    .regex(/^[0-9a-f-]{1,36}$/, 'must be a WAF IP set id')
    .describe('IP set id'),
});

export const WafBlockIpConfig = z
  .strictObject({
    ...awsConfigShape,
    ...baseConfigShape,
    scope: z
      .enum(['REGIONAL', 'CLOUDFRONT'])
      .default('REGIONAL')
      .describe('WAF scope of the IP sets; CLOUDFRONT sets are always called in us-east-1'),
    ipv4_set: IpSetRef.optional().describe('The IPV4 IP set that the block rule of the web ACL references'),
    ipv6_set: IpSetRef.optional().describe('The IPV6 IP set, for IPv6 addresses'),
    lock_attempts: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(5)
      .describe(
        'Read-modify-write attempts when another writer changes the set meanwhile (WAFOptimisticLockException)',
      ),
    never_block: z
      .array(CidrBlock)
      .default([])
      .describe('Networks that are never blocked (your offices, scanners, NAT egress), e.g. 198.51.100.0/24'),
  })
  .refine((c) => c.ipv4_set !== undefined || c.ipv6_set !== undefined, {
    message: 'configure ipv4_set, ipv6_set or both',
    path: ['ipv4_set'],
  })
  .describe('aws.wafv2.block_ip');

export const WafBlockIpInput = z.strictObject({
  ip: BlockableIp.describe(
    'The address to block, IPv4 or IPv6; added as /32 or /128; never loopback, link-local, multicast, unspecified or this server',
  ),
});

const RollbackData = z.object({
  scope: z.enum(['REGIONAL', 'CLOUDFRONT']),
  ip_set_name: z.string(),
  ip_set_id: z.string(),
  address: z.string(),
});

/** Whether an entry of a set is exactly this host network (`203.0.113.7/32` in any spelling). */
function isExactly(entry: string, ip: Ip): boolean {
  const c = parseCidr(entry.trim(), { lenient: true });
  return (
    !('error' in c) &&
    c.version === ip.version &&
    c.prefix === (ip.version === 4 ? 32 : 128) &&
    c.value === ip.value
  );
}

/**
 * `aws.wafv2.block_ip`: adds an address (as /32 or /128) to the WAF IP set
 * a blocking rule references. UpdateIPSet replaces the whole set, so each
 * attempt reads the set with GetIPSet and writes it back with the LockToken
 * it got; when another writer got there first (WAFOptimisticLockException)
 * it reads again and retries with the fresh token. An address already in
 * the set, or inside a range of it, is `skipped`; addresses in `never_block`
 * are refused. Rollback removes the address the same way.
 *
 * @example
 * const a = wafBlockIpFactory.create({ ipv4_set: { name: 'aisoc-block-v4', id: '…' } }, ctx);
 * await a.execute({ ip: '203.0.113.7' }, opts);
 */
export const wafBlockIpFactory = defineAction({
  type: 'aws.wafv2.block_ip',
  description: 'Block an IP address by adding it to an AWS WAF IP set; rollback removes it',
  effect: 'reversible',
  configSchema: WafBlockIpConfig,
  inputSchema: WafBlockIpInput,
  build(config) {
    const wafClient = awsActionClient(
      '@aws-sdk/client-wafv2',
      config,
      (sdk, c) => new sdk.WAFV2Client(c),
      config.scope === 'CLOUDFRONT' ? 'us-east-1' : undefined,
    );

    /**
     * Read-modify-write loop: `decide` looks at the set and returns the new
     * address list, or a result when nothing is to be written.
     */
    async function update(
      run: RunContext,
      ref: { name: string; id: string },
      decide: (set: IPSet) => string[] | ActionResult,
    ): Promise<ActionResult | { written: string[]; attempts: number }> {
      const { sdk, client: waf } = await wafClient();
      for (let attempt = 1; attempt <= config.lock_attempts; attempt++) {
        const got = await awsCall(run, 'WAFV2 GetIPSet', (abortSignal) =>
          waf.send(new sdk.GetIPSetCommand({ Name: ref.name, Scope: config.scope, Id: ref.id }), {
            abortSignal,
          }),
        );
        if (!got.IPSet || !got.LockToken)
          throw actionError('AISOC_ERR_ACTION_FAILED', `WAFV2 GetIPSet returned no IP set for ${ref.name}`);
        const next = decide(got.IPSet);
        if (!Array.isArray(next)) return next;
        const call = 'WAFV2 UpdateIPSet';
        try {
          await awsCall(
            run,
            call,
            (abortSignal) =>
              waf.send(
                new sdk.UpdateIPSetCommand({
                  Name: ref.name,
                  Scope: config.scope,
                  Id: ref.id,
                  // UpdateIPSet replaces every mutable field: the description must be sent back as it was.
                  ...(got.IPSet!.Description !== undefined ? { Description: got.IPSet!.Description } : {}),
                  Addresses: next,
                  LockToken: got.LockToken,
                }),
                { abortSignal },
              ),
            { raw: true },
          );
          return { written: next, attempts: attempt };
        } catch (err) {
          if (!isAwsError(err, 'WAFOptimisticLockException')) throw mapAwsError(err, call);
          run.logger.debug({ attempt }, `IP set ${ref.name} changed under us; reading it again.`);
        }
      }
      throw actionError(
        'AISOC_ERR_ACTION_CONFLICT',
        `IP set ${ref.name} kept changing under ${config.lock_attempts} read-modify-write attempts`,
        { ip_set_id: ref.id, lock_attempts: config.lock_attempts },
      );
    }

    return {
      async execute(input, run) {
        const ip = parseIp(input.ip)!;
        const shield = findCovering(config.never_block, ip);
        if (shield)
          throw actionError(
            'AISOC_ERR_ACTION_POLICY',
            `${ip.text} is in never_block (${shield}); it is not blocked`,
            {},
            'ip',
          );
        const ref = ip.version === 4 ? config.ipv4_set : config.ipv6_set;
        if (!ref)
          throw actionError(
            'AISOC_ERR_VALIDATION',
            `No IPv${ip.version} IP set is configured for ${ip.text}`,
            {},
            'ip',
          );
        const address = hostCidr(ip);
        const details = { scope: config.scope, ip_set_name: ref.name, ip_set_id: ref.id, address };
        const out = await update(run, ref, (set) => {
          if (set.IPAddressVersion !== `IPV${ip.version}`)
            throw actionError(
              'AISOC_ERR_ACTION_PRECONDITION',
              `IP set ${ref.name} holds ${set.IPAddressVersion} addresses`,
              details,
            );
          const addresses = set.Addresses ?? [];
          const exact = addresses.find((a) => isExactly(a, ip));
          const covering = exact ?? findCovering(addresses, ip);
          if (covering)
            return {
              status: 'skipped',
              summary: exact
                ? `${ip.text} is already blocked by IP set ${ref.name}.`
                : `${ip.text} is already blocked by IP set ${ref.name} (inside ${covering}).`,
              details: { ...details, covered_by: covering, set_size: addresses.length },
            };
          if (run.dryRun)
            return {
              status: 'dry_run',
              summary: `Would add ${address} to IP set ${ref.name} (${addresses.length} addresses now).`,
              details: { ...details, set_size: addresses.length },
            };
          return [...addresses, address];
        });
        if ('status' in out) return out;
        return {
          status: 'succeeded',
          summary: `Added ${address} to IP set ${ref.name}.`,
          details: { ...details, set_size: out.written.length, attempts: out.attempts },
          rollback_data: { scope: config.scope, ip_set_name: ref.name, ip_set_id: ref.id, address },
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
        const ip = parseIp(data.address.split('/')[0]!);
        if (!ip)
          throw actionError(
            'AISOC_ERR_VALIDATION',
            'Invalid rollback data: address',
            {},
            'rollback_data.address',
          );
        if (data.scope !== config.scope)
          throw actionError(
            'AISOC_ERR_ACTION_PRECONDITION',
            `The block was made in scope ${data.scope}; this action is configured for ${config.scope}`,
          );
        const ref = { name: data.ip_set_name, id: data.ip_set_id };
        const details = { ...data };
        const out = await update(run, ref, (set) => {
          const addresses = set.Addresses ?? [];
          const keep = addresses.filter((a) => !isExactly(a, ip));
          if (keep.length === addresses.length)
            return {
              status: 'skipped',
              summary: `${data.address} is not in IP set ${ref.name} any more.`,
              details,
            };
          if (run.dryRun)
            return {
              status: 'dry_run',
              summary: `Would remove ${data.address} from IP set ${ref.name}.`,
              details,
            };
          return keep;
        });
        if ('status' in out) return out;
        return {
          status: 'succeeded',
          summary: `Removed ${data.address} from IP set ${ref.name}.`,
          details: { ...details, set_size: out.written.length, attempts: out.attempts },
        };
      },
    };
  },
});
