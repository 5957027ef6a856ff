/**
 * Example for docs/ARCHITECTURE.md, "How to add an action": written as that
 * recipe says (`src/respond/actions/edgefw/block-ip.ts` in the product);
 * `test/recipes.test.ts` runs the action conformance suite on it against a
 * local firewall API, and a playbook runs it in dry-run.
 *
 * `edgefw.block_ip` puts an address on a block list of an edge firewall's
 * HTTP API (`PUT <url>/api/v1/lists/<list>/entries/<ip>`, a bearer token)
 * and takes it off again on rollback (`DELETE`), so its effect is
 * `reversible`: under `respond.dry_run` (the default) a playbook runs it as
 * a dry run until someone approves it.
 */
import { z } from 'zod';
import { BlockableIp } from '../../../src/net/ip.ts';
import { baseConfigShape, defineAction, EnvVarName } from '../../../src/respond/actions/define.ts';
import { parseOrThrow } from '../../../src/respond/actions/errors.ts';
import { httpCall } from '../../../src/respond/actions/http.ts';
import { SecureUrl } from '../../../src/respond/actions/notify/endpoint.ts';

/** `respond.actions."edgefw.block_ip"`: the shared fields spread in, unknown keys refused. */
export const EdgeFwBlockIpConfig = z
  .strictObject({
    ...baseConfigShape,
    url: SecureUrl.default('http://127.0.0.1:8089').describe(
      'Base URL of the firewall API (https, or http to the local host)',
    ),
    token_env: EnvVarName.default('AISOC_EDGEFW_TOKEN').describe(
      'Environment variable holding the API token',
    ),
    list: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .default('aisoc')
      .describe('Block list the addresses go on (the firewall drops traffic from it)'),
  })
  .describe('edgefw.block_ip');

/** What a playbook step passes; every field described (the conformance suite checks it). */
export const EdgeFwBlockIpInput = z.strictObject({
  ip: BlockableIp.describe(
    'The address to block, IPv4 or IPv6; never loopback, link-local, multicast, unspecified or this server',
  ),
});

/** What `rollback` needs: where the address went. */
const RollbackData = z.strictObject({ list: z.string(), ip: z.string() });

/** The registry entry: one line `edgeFwBlockIpFactory,` in `ACTION_FACTORIES` would ship it. */
export const edgeFwBlockIpFactory = defineAction({
  type: 'edgefw.block_ip',
  description: 'Block an IP address on the edge firewall (a block list entry); rollback removes it',
  effect: 'reversible',
  configSchema: EdgeFwBlockIpConfig,
  inputSchema: EdgeFwBlockIpInput,
  build(config, ctx) {
    // Read at start-up, so a missing token fails fast; the redactor keeps it out of errors and logs.
    const token = ctx.secret(config.token_env, 'token_env');
    const base = config.url.replace(/\/+$/, '');
    const entry = (list: string, ip: string) =>
      `${base}/api/v1/lists/${encodeURIComponent(list)}/entries/${encodeURIComponent(ip)}`;
    const headers = { authorization: `Bearer ${token}` };
    return {
      async execute(input, run) {
        if (run.dryRun)
          return {
            status: 'dry_run',
            summary: `Would block ${input.ip} on the edge firewall (list ${config.list}).`,
            details: { list: config.list, ip: input.ip },
          };
        const found = await httpCall(run, {
          label: 'edge firewall',
          url: entry(config.list, input.ip),
          method: 'GET',
          headers,
          accept: (s) => s === 200 || s === 404,
          mutating: false,
        });
        if (found.status === 200)
          return {
            status: 'skipped',
            summary: `${input.ip} is already blocked on the edge firewall (list ${config.list}).`,
            details: { list: config.list, ip: input.ip },
          };
        await httpCall(run, {
          label: 'edge firewall',
          url: entry(config.list, input.ip),
          method: 'PUT',
          headers,
          mutating: true,
        });
        return {
          status: 'succeeded',
          summary: `Blocked ${input.ip} on the edge firewall (list ${config.list}).`,
          details: { list: config.list, ip: input.ip },
          rollback_data: { list: config.list, ip: input.ip },
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
        const r = await httpCall(run, {
          label: 'edge firewall',
          url: entry(data.list, data.ip),
          method: 'DELETE',
          headers,
          accept: (s) => (s >= 200 && s < 300) || s === 404,
          mutating: true,
        });
        return {
          status: r.status === 404 ? 'skipped' : 'succeeded',
          summary: `${r.status === 404 ? 'Found no block of' : 'Unblocked'} ${data.ip} on the edge firewall (list ${data.list}).`,
          details: { list: data.list, ip: data.ip },
        };
      },
    };
  },
});
