import { z } from 'zod';
import { AisocError } from '../../../errors.ts';
import { BlockableIp, CidrBlock, findCovering, parseIp } from '../../../net/ip.ts';
import { baseConfigShape, defineAction } from '../define.ts';
import { actionError, parseOrThrow } from '../errors.ts';
import type { RunContext } from '../types.ts';
import {
  chainHasDropRule,
  entryMatch,
  type NftTarget,
  nftArgs,
  nftSetupScript,
  parseSetElements,
  type SetEntry,
  setsOf,
} from './nft.ts';
import { type CommandRunner, execFileRunner } from './runner.ts';

/** nft identifiers as this action accepts them: nothing a parser could read as syntax. */
const Identifier = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,31}$/, 'must be a letter then letters, digits or _ (at most 32)');

export const LocalBlockIpConfig = z
  .strictObject({
    ...baseConfigShape,
    enabled: z
      .boolean()
      .default(false)
      .describe(
        'Change the host firewall for real; while false every run is a dry run that says what it would do',
      ),
    nft_path: z
      .string()
      .regex(/^\/[\w./-]+$/, 'must be an absolute path')
      .default('/usr/sbin/nft')
      .describe('Absolute path of the nft binary (run directly, never through a shell)'),
    family: z
      .enum(['inet', 'ip', 'ip6'])
      .default('inet')
      .describe('nftables family of the table: inet (both), ip, ip6'),
    table: Identifier.default('aisoc').describe('Table holding the block sets'),
    chain: Identifier.default('input').describe('Base chain with the drop rules'),
    hook: z
      .enum(['input', 'forward', 'prerouting'])
      .default('input')
      .describe('Hook of the chain, when it is created'),
    priority: z
      .number()
      .int()
      .min(-400)
      .max(400)
      .default(-10)
      .describe('Priority of the chain, when it is created'),
    set_v4: Identifier.default('aisoc_block_v4').describe('Set of blocked IPv4 addresses'),
    set_v6: Identifier.default('aisoc_block_v6').describe('Set of blocked IPv6 addresses'),
    create: z
      .boolean()
      .default(false)
      .describe('Create the table, chain, sets and drop rules when missing (otherwise they must exist)'),
    element_timeout_s: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .optional()
      .describe('Expire each block after this many seconds (created sets get flags timeout)'),
    never_block: z
      .array(CidrBlock)
      .default(['127.0.0.0/8', '::1/128'])
      .describe('Networks never blocked: add the management network so a block cannot lock you out'),
  })
  .describe('local.block_ip');

export const LocalBlockIpInput = z.strictObject({
  ip: BlockableIp.describe(
    'The address to block on this host, IPv4 or IPv6; never loopback, link-local, multicast, unspecified or this server',
  ),
});

const RollbackData = z.object({
  family: z.enum(['inet', 'ip', 'ip6']),
  table: Identifier,
  set: Identifier,
  ip: z.string(),
});

type SetState = { exists: true; entries: SetEntry[] } | { exists: false } | { unknown: string };

/**
 * `local.block_ip`: adds an address to an nftables set that a drop rule
 * matches (`ip saddr @set counter drop` in the configured chain), creating
 * table, chain, sets and rules when `create` is set. It is a dry run unless
 * `enabled: true`; even then nft runs with an argument array, never a shell
 * (the address is validated and canonical before it is an argument).
 * Rollback deletes the element.
 *
 * @example
 * const a = localBlockIpFactory.create({ enabled: true, create: true }, ctx);
 * await a.execute({ ip: '203.0.113.7' }, opts);
 */
export const localBlockIpFactory = defineAction({
  type: 'local.block_ip',
  description: 'Block an IP address on this host with an nftables set and drop rule (dry run unless enabled)',
  effect: 'reversible',
  configSchema: LocalBlockIpConfig,
  inputSchema: LocalBlockIpInput,
  build(config, ctx) {
    const runner: CommandRunner = ctx.commandRunner ?? execFileRunner;
    const target: NftTarget = config;

    async function nft(run: RunContext, args: string[], input?: string) {
      const reads = args[0] === '-j' && args[1] === 'list';
      if (!reads) run.assertMayMutate(`nft ${args.join(' ')}`);
      let r: Awaited<ReturnType<CommandRunner>>;
      try {
        r = await runner(config.nft_path, args, {
          ...(input === undefined ? {} : { input }),
          signal: run.signal,
        });
      } catch (err) {
        if (run.signal.aborted) throw err;
        const code = (err as { code?: string }).code;
        if (code === 'ENOENT')
          throw actionError('AISOC_ERR_ACTION_FAILED', `nft was not found at ${config.nft_path}`, {
            nft_path: config.nft_path,
          });
        if (code === 'EACCES')
          throw actionError(
            'AISOC_ERR_ACTION_ACCESS_DENIED',
            `nft at ${config.nft_path} may not be run by this user`,
          );
        throw actionError('AISOC_ERR_ACTION_FAILED', `nft could not be started: ${(err as Error).message}`);
      }
      return r;
    }

    const failure = (args: string[], r: { code: number | null; stderr: string }) => {
      const firstLine = r.stderr.trim().split('\n')[0] ?? '';
      const code = /Operation not permitted/i.test(r.stderr)
        ? 'AISOC_ERR_ACTION_ACCESS_DENIED'
        : 'AISOC_ERR_ACTION_FAILED';
      return new AisocError(code, `nft ${args.join(' ')} failed: ${firstLine || `exit code ${r.code}`}`, {
        details: { args, exit_code: r.code, stderr: r.stderr.slice(0, 1000) },
      });
    };

    async function readSet(run: RunContext, set: string): Promise<SetState> {
      const args = nftArgs.listSet(target, set);
      let r: Awaited<ReturnType<CommandRunner>>;
      try {
        r = await nft(run, args);
      } catch (err) {
        if (err instanceof AisocError) return { unknown: err.message };
        throw err;
      }
      if (r.code === 0) return { exists: true, entries: parseSetElements(r.stdout) };
      if (/No such file or directory/i.test(r.stderr)) return { exists: false };
      return { unknown: failure(args, r).message };
    }

    async function ensureRules(run: RunContext) {
      const args = nftArgs.listChain(target);
      const r = await nft(run, args);
      if (r.code !== 0) throw failure(args, r);
      for (const s of setsOf(target)) {
        if (chainHasDropRule(r.stdout, s.name)) continue;
        const add = nftArgs.rule(target, s.proto, s.name);
        const out = await nft(run, add);
        if (out.code !== 0) throw failure(add, out);
      }
    }

    const planned = (set: string, ip: string, missing: boolean) => [
      ...(missing && config.create ? [{ args: nftArgs.setup(), stdin: nftSetupScript(target) }] : []),
      ...(config.create
        ? setsOf(target).map((s) => ({ args: nftArgs.rule(target, s.proto, s.name), if: 'missing' }))
        : []),
      { args: nftArgs.addElement(target, set, ip) },
    ];

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
        const set = setsOf(target).find((s) => s.version === ip.version)?.name;
        if (!set)
          throw actionError(
            'AISOC_ERR_VALIDATION',
            `Family ${config.family} holds no IPv${ip.version} set for ${ip.text}`,
            {},
            'ip',
          );
        const state = await readSet(run, set);
        const details = {
          enabled: config.enabled,
          family: config.family,
          table: config.table,
          set,
          ip: ip.text,
        };
        if ('exists' in state && state.exists) {
          const hit = state.entries.find((e) => entryMatch(e, ip.text));
          if (hit)
            return {
              status: 'skipped',
              summary: `${ip.text} is already in nftables set ${config.table}/${set}.`,
              details: { ...details, covered_by: 'cidr' in hit ? hit.cidr : `${hit.from}-${hit.to}` },
            };
        }
        const missing = 'exists' in state && !state.exists;
        if (run.dryRun || !config.enabled) {
          const why = config.enabled ? '' : ' (local.block_ip is disabled: enabled is false)';
          const st = 'unknown' in state ? `unknown: ${state.unknown}` : missing ? 'missing' : 'present';
          return {
            status: 'dry_run',
            summary: `Would add ${ip.text} to nftables set ${config.family} ${config.table} ${set}${missing ? ', creating it' : ''}${why}.`,
            details: { ...details, set_state: st, commands: planned(set, ip.text, missing) },
          };
        }
        if ('unknown' in state) throw actionError('AISOC_ERR_ACTION_FAILED', state.unknown, details);
        if (missing && !config.create)
          throw actionError(
            'AISOC_ERR_ACTION_PRECONDITION',
            `nftables set ${config.family} ${config.table} ${set} does not exist; create it or set create: true`,
            details,
          );
        if (missing) {
          const r = await nft(run, nftArgs.setup(), nftSetupScript(target));
          if (r.code !== 0) throw failure(nftArgs.setup(), r);
        }
        if (config.create) await ensureRules(run);
        const add = nftArgs.addElement(target, set, ip.text);
        const r = await nft(run, add);
        if (r.code !== 0) throw failure(add, r);
        return {
          status: 'succeeded',
          summary: `Added ${ip.text} to nftables set ${config.family} ${config.table} ${set}.`,
          details: { ...details, created: missing, timeout_s: config.element_timeout_s ?? null },
          rollback_data: { family: config.family, table: config.table, set, ip: ip.text },
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
        const t: NftTarget = { ...target, family: data.family, table: data.table };
        const state = await readSet(run, data.set);
        const details = { ...data, enabled: config.enabled };
        const present =
          'exists' in state && state.exists && state.entries.some((e) => entryMatch(e, data.ip) === 'exact');
        if ('exists' in state && !present)
          return {
            status: 'skipped',
            summary: `${data.ip} is not in nftables set ${data.table}/${data.set} any more.`,
            details,
          };
        const args = nftArgs.deleteElement(t, data.set, data.ip);
        if (run.dryRun || !config.enabled)
          return {
            status: 'dry_run',
            summary: `Would remove ${data.ip} from nftables set ${data.family} ${data.table} ${data.set}${config.enabled ? '' : ' (disabled)'}.`,
            details: { ...details, commands: [{ args }] },
          };
        if ('unknown' in state) throw actionError('AISOC_ERR_ACTION_FAILED', state.unknown, details);
        const r = await nft(run, args);
        if (r.code !== 0) throw failure(args, r);
        return {
          status: 'succeeded',
          summary: `Removed ${data.ip} from nftables set ${data.family} ${data.table} ${data.set}.`,
          details,
        };
      },
    };
  },
});
