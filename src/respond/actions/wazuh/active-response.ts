import { z } from 'zod';
import { BlockableIp, CidrBlock, findCovering, parseIp } from '../../../net/ip.ts';
import { baseConfigShape, defineAction, EnvVarName } from '../define.ts';
import { actionError, parseOrThrow } from '../errors.ts';
import { httpCall } from '../http.ts';
import { readCa, SecureUrl } from '../notify/endpoint.ts';
import type { RunContext } from '../types.ts';

/** An active-response command name; a leading `!` names a custom script instead of a configured command. */
const CommandName = z
  .string()
  .trim()
  .regex(/^!?[A-Za-z0-9_.-]{1,64}$/, 'must be a Wazuh command name (or !script)');

/** Built-in commands that act on the alert's source IP (Wazuh 4.2+ scripts read it from alert.data.srcip). */
const IP_COMMANDS = new Set(['firewall-drop', 'host-deny', 'route-null', 'win_route-null', 'netsh']);

export const WazuhArConfig = z
  .strictObject({
    ...baseConfigShape,
    url: SecureUrl.describe('Wazuh server API base URL, e.g. https://wazuh.example.com:55000'),
    username_env: EnvVarName.default('AISOC_WAZUH_USER').describe(
      'Environment variable holding the API user',
    ),
    password_env: EnvVarName.default('AISOC_WAZUH_PASSWORD').describe(
      'Environment variable holding the API password',
    ),
    verify_tls: z
      .boolean()
      .default(true)
      .describe('Verify the API certificate (Wazuh ships a self-signed one: prefer ca_file)'),
    ca_file: z.string().optional().describe('PEM file of the CA that signed the API certificate'),
    allowed_commands: z
      .array(CommandName)
      .min(1)
      .default(['firewall-drop'])
      .describe('Commands this action may run; anything else is refused'),
    rollback_commands: z
      .record(CommandName, CommandName)
      .default({})
      .describe(
        'Undo command per command (e.g. {"!block-ip.sh": "!unblock-ip.sh"}); the API cannot trigger an active response’s own delete',
      ),
    never_block: z
      .array(CidrBlock)
      .default([])
      .describe('Networks never passed as srcip, e.g. the manager and your offices'),
  })
  .describe('wazuh.active_response');

export const WazuhArInput = z
  .strictObject({
    agent_ids: z
      .array(
        z
          .string()
          .trim()
          .regex(/^\d{3,8}$/, 'must be a Wazuh agent id such as 001'),
      )
      .min(1)
      .max(100)
      .transform((ids) => [...new Set(ids)].sort())
      .describe('Agents to run the command on (there is deliberately no "all agents")'),
    command: CommandName.describe('Active-response command, e.g. firewall-drop; must be in allowed_commands'),
    arguments: z
      .array(
        z
          .string()
          .max(256)
          // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
          .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters'),
      )
      .max(16)
      .default([])
      .describe('Extra arguments for the command (parameters.extra_args on the agent)'),
    srcip: BlockableIp.optional().describe(
      'Address the command acts on; sent as alert.data.srcip, where Wazuh scripts read it; never loopback, link-local, multicast, unspecified or this server',
    ),
  })
  .superRefine((v, ctx) => {
    if (IP_COMMANDS.has(v.command) && v.srcip === undefined)
      ctx.addIssue({ code: 'custom', path: ['srcip'], message: `is required for ${v.command}` });
  });
export type WazuhArInput = z.infer<typeof WazuhArInput>;

const RollbackData = z.object({
  agent_ids: z.array(z.string()).min(1),
  undo_command: z.string(),
  arguments: z.array(z.string()),
  srcip: z.string().optional(),
});

interface WazuhItems {
  data?: {
    affected_items?: unknown[];
    failed_items?: Array<{ error?: { code?: number; message?: string }; id?: string[] }>;
  };
  message?: string;
  error?: number;
}

/**
 * `wazuh.active_response`: runs an active-response command (e.g.
 * firewall-drop for an address) on named agents through the Wazuh server
 * API: `POST /security/user/authenticate` (basic auth) for a JWT, then
 * `PUT /active-response?agents_list=…` with `command`, `arguments` and
 * `alert.data.srcip`. Only `allowed_commands` run. The run succeeds only
 * when every agent took the command; running again is harmless (the agent
 * refreshes the timeout of a repeated response).
 *
 * Rollback: Wazuh's execd runs a command's `delete` only when its timeout
 * expires, and the API cannot ask for it; rollback therefore runs the undo
 * command named in `rollback_commands`, and otherwise reports
 * `AISOC_ERR_ACTION_ROLLBACK_UNSUPPORTED` (the block lifts at its timeout).
 *
 * @example
 * await wazuhActiveResponseFactory.create({ url: 'https://wazuh:55000', ca_file: '/etc/aisoc/wazuh-ca.pem' }, ctx)
 *   .execute({ agent_ids: ['001'], command: 'firewall-drop', srcip: '203.0.113.7' }, opts);
 */
export const wazuhActiveResponseFactory = defineAction({
  type: 'wazuh.active_response',
  description:
    'Run a Wazuh active-response command (e.g. firewall-drop) on named agents via the Wazuh server API',
  effect: 'reversible',
  configSchema: WazuhArConfig,
  inputSchema: WazuhArInput,
  build(config, ctx) {
    const user = ctx.secret(config.username_env, 'username_env');
    const password = ctx.secret(config.password_env, 'password_env');
    const basic = Buffer.from(`${user}:${password}`).toString('base64');
    ctx.redactor.add(basic);
    const ca = readCa(config.ca_file, 'ca_file');
    const base = config.url.replace(/\/+$/, '');
    const tls = { rejectUnauthorized: config.verify_tls, ...(ca ? { ca } : {}) };

    async function token(run: RunContext): Promise<string> {
      const r = await httpCall(run, {
        label: 'Wazuh API authentication',
        url: `${base}/security/user/authenticate`,
        method: 'POST',
        headers: { authorization: `Basic ${basic}` },
        tls,
        mutating: false,
      });
      const jwt = (JSON.parse(r.body) as { data?: { token?: string } }).data?.token;
      if (!jwt) throw actionError('AISOC_ERR_ACTION_FAILED', 'The Wazuh API returned no token');
      ctx.redactor.add(jwt);
      return jwt;
    }

    async function run(r: RunContext, agents: string[], command: string, args: string[], srcip?: string) {
      const body = JSON.stringify({
        command,
        arguments: args,
        ...(srcip ? { alert: { data: { srcip } } } : {}),
      });
      const put = async (jwt: string) =>
        httpCall(r, {
          label: 'Wazuh API active-response',
          url: `${base}/active-response?agents_list=${agents.join(',')}`,
          method: 'PUT',
          headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
          body,
          tls,
          accept: (s) => (s >= 200 && s < 300) || s === 401,
          mutating: true,
        });
      let res = await put(await token(r));
      // A token can expire between authentication and use; one fresh token is worth a second try.
      if (res.status === 401) res = await put(await token(r));
      if (res.status === 401)
        throw actionError('AISOC_ERR_ACTION_ACCESS_DENIED', 'The Wazuh API refused the token');
      const out = JSON.parse(res.body) as WazuhItems;
      const affected = (out.data?.affected_items ?? []).map(String);
      const failed = (out.data?.failed_items ?? []).flatMap((f) =>
        (f.id ?? []).map((id) => ({
          agent_id: id,
          code: f.error?.code ?? null,
          message: f.error?.message ?? '',
        })),
      );
      return { affected, failed, message: out.message ?? '' };
    }

    return {
      async execute(input, r) {
        if (!config.allowed_commands.includes(input.command))
          throw actionError(
            'AISOC_ERR_ACTION_POLICY',
            `Command ${input.command} is not in allowed_commands`,
            {},
            'command',
          );
        if (input.srcip) {
          const shield = findCovering(config.never_block, parseIp(input.srcip)!);
          if (shield)
            throw actionError(
              'AISOC_ERR_ACTION_POLICY',
              `${input.srcip} is in never_block (${shield})`,
              {},
              'srcip',
            );
        }
        const what = `${input.command}${input.srcip ? ` ${input.srcip}` : ''}`;
        const details = { agent_ids: input.agent_ids, command: input.command, srcip: input.srcip ?? null };
        if (r.dryRun) {
          const jwt = await token(r);
          const res = await httpCall(r, {
            label: 'Wazuh API agents',
            url: `${base}/agents?agents_list=${input.agent_ids.join(',')}&select=id,name,status,version`,
            method: 'GET',
            headers: { authorization: `Bearer ${jwt}` },
            tls,
            mutating: false,
          });
          const agents = ((JSON.parse(res.body) as WazuhItems).data?.affected_items ?? []) as Array<{
            id: string;
            name?: string;
            status?: string;
          }>;
          const known = new Set(agents.map((a) => a.id));
          const list = agents.map((a) => `${a.id} (${a.name ?? '?'}, ${a.status ?? '?'})`).join(', ');
          const unknown = input.agent_ids.filter((id) => !known.has(id));
          return {
            status: 'dry_run',
            summary: `Would run ${what} on agents ${list || 'none found'}${unknown.length ? `; unknown agents: ${unknown.join(', ')}` : ''}.`,
            details: { ...details, agents, unknown_agents: unknown },
          };
        }
        const out = await run(r, input.agent_ids, input.command, input.arguments, input.srcip);
        if (out.failed.length > 0 || out.affected.length === 0)
          throw actionError(
            'AISOC_ERR_ACTION_FAILED',
            `Wazuh ran ${what} on ${out.affected.length} of ${input.agent_ids.length} agents${
              out.failed.length
                ? `; failed: ${out.failed.map((f) => `${f.agent_id} (${f.message})`).join(', ')}`
                : ''
            }; running it again is safe`,
            { ...details, affected: out.affected, failed: out.failed },
          );
        const undo = config.rollback_commands[input.command];
        return {
          status: 'succeeded',
          summary: `Ran ${what} on Wazuh agents ${out.affected.join(', ')}.`,
          details: { ...details, affected: out.affected, undo_command: undo ?? null },
          rollback_data: {
            agent_ids: out.affected,
            undo_command: undo ?? '',
            arguments: input.arguments,
            ...(input.srcip ? { srcip: input.srcip } : {}),
          },
        };
      },

      async rollback(input, rollbackData, r) {
        const data = parseOrThrow(
          RollbackData,
          rollbackData,
          'AISOC_ERR_VALIDATION',
          'rollback data',
          'rollback_data',
        );
        const undo = data.undo_command || config.rollback_commands[input.command];
        if (!undo)
          throw actionError(
            'AISOC_ERR_ACTION_ROLLBACK_UNSUPPORTED',
            `Wazuh cannot undo ${input.command} through its API: the agent removes it when the command's timeout expires. Name an undo command in rollback_commands to roll it back sooner.`,
          );
        const what = `${undo}${data.srcip ? ` ${data.srcip}` : ''}`;
        if (r.dryRun)
          return {
            status: 'dry_run',
            summary: `Would run ${what} on Wazuh agents ${data.agent_ids.join(', ')}.`,
            details: data,
          };
        const out = await run(r, data.agent_ids, undo, data.arguments, data.srcip);
        if (out.failed.length > 0)
          throw actionError('AISOC_ERR_ACTION_FAILED', `Wazuh could not run ${what} on every agent`, {
            affected: out.affected,
            failed: out.failed,
          });
        return {
          status: 'succeeded',
          summary: `Ran ${what} on Wazuh agents ${out.affected.join(', ')}.`,
          details: { ...data, affected: out.affected },
        };
      },
    };
  },
});
