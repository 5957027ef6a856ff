import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AisocError } from '../../../errors.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { unblockableInputs } from '../testing/addresses.ts';
import { FAST_RETRY } from '../testing/aws.ts';
import { describeActionConformance } from '../testing/conformance.ts';
import { FakeNft } from '../testing/nft-fake.ts';
import { localBlockIpFactory } from './block-ip.ts';
import { nftSetupScript } from './nft.ts';
import { type CommandRunner, execFileRunner } from './runner.ts';

const NFT = '/usr/sbin/nft';
const ENABLED = { enabled: true, create: true, retry: FAST_RETRY };

describeActionConformance({
  factory: localBlockIpFactory,
  config: ENABLED,
  async harness() {
    const nft = new FakeNft();
    return {
      ctx: { commandRunner: nft.runner },
      mutations: () => nft.calls.filter((c) => c.args[0] !== '-j').map((c) => c.args.join(' ')),
      calls: () => nft.calls.length,
      state: () => nft.snapshot(),
      fail: () => {
        nft.failing = true;
      },
      async close() {},
    };
  },
  validInput: { ip: '203.0.113.7' },
  equivalentInput: { ip: '203.0.113.7 ' },
  otherInput: { ip: '2001:db8::7' },
  badInputs: [
    { input: { ip: '203.0.113.7; nft flush ruleset' }, field: 'ip' },
    { input: { ip: '203.0.113.7 }; add rule inet x y accept; {' }, field: 'ip' },
    { input: { ip: '$(reboot)' }, field: 'ip' },
    { input: { ip: '203.0.113.0/24' }, field: 'ip' },
    ...unblockableInputs((ip) => ({ ip }), 'ip'),
  ],
  repeatSkips: true,
});

describe('local.block_ip', () => {
  let nft: FakeNft;
  beforeEach(() => {
    nft = new FakeNft();
  });
  const action = (config: Record<string, unknown> = ENABLED) =>
    localBlockIpFactory.create(config, { logger: silentLogger(), commandRunner: nft.runner });
  const run = { dryRun: false, idempotencyKey: 'k' };

  it('is a dry run while not enabled, even when asked to run for real, and says exactly what it would run', async () => {
    const r = await action({}).execute({ ip: '203.0.113.7' }, run);
    expect(r.status).toBe('dry_run');
    expect(r.summary).toContain('disabled');
    expect(nft.calls.map((c) => c.args)).toEqual([['-j', 'list', 'set', 'inet', 'aisoc', 'aisoc_block_v4']]);
    expect(r.details.commands).toEqual([
      { args: ['add', 'element', 'inet', 'aisoc', 'aisoc_block_v4', '{ 203.0.113.7 }'] },
    ]);
  });

  it('creates table, chain, sets and drop rules, then adds the element — exactly these nft argument arrays', async () => {
    const r = await action().execute({ ip: '203.0.113.7' }, run);
    expect(r.status).toBe('succeeded');
    expect(nft.calls.every((c) => c.file === NFT)).toBe(true);
    expect(nft.calls.map((c) => c.args)).toEqual([
      ['-j', 'list', 'set', 'inet', 'aisoc', 'aisoc_block_v4'],
      ['-f', '-'],
      ['-j', 'list', 'chain', 'inet', 'aisoc', 'input'],
      ['add', 'rule', 'inet', 'aisoc', 'input', 'ip', 'saddr', '@aisoc_block_v4', 'counter', 'drop'],
      ['add', 'rule', 'inet', 'aisoc', 'input', 'ip6', 'saddr', '@aisoc_block_v6', 'counter', 'drop'],
      ['add', 'element', 'inet', 'aisoc', 'aisoc_block_v4', '{ 203.0.113.7 }'],
    ]);
    expect(nft.calls[1]!.input).toBe(
      [
        'add table inet aisoc',
        'add chain inet aisoc input { type filter hook input priority -10 ; policy accept ; }',
        'add set inet aisoc aisoc_block_v4 { type ipv4_addr ; }',
        'add set inet aisoc aisoc_block_v6 { type ipv6_addr ; }',
        '',
      ].join('\n'),
    );
    expect(r.rollback_data).toEqual({
      family: 'inet',
      table: 'aisoc',
      set: 'aisoc_block_v4',
      ip: '203.0.113.7',
    });
  });

  it('does not add a second drop rule on the next run', async () => {
    const a = action();
    await a.execute({ ip: '203.0.113.7' }, run);
    nft.calls.length = 0;
    await a.execute({ ip: '203.0.113.8' }, run);
    expect(nft.calls.map((c) => c.args[0] + (c.args[1] ? ` ${c.args[1]}` : ''))).toEqual([
      '-j list',
      '-j list',
      'add element',
    ]);
  });

  it('leaves an admin-made set and its rules alone when create is off, and refuses a missing set', async () => {
    nft.addSet('inet', 'fw', 'blocked4', 'ipv4_addr', ['198.18.0.0/15']);
    const cfg = { enabled: true, table: 'fw', set_v4: 'blocked4', retry: FAST_RETRY };
    const r = await action(cfg).execute({ ip: '203.0.113.7' }, run);
    expect(r.status).toBe('succeeded');
    expect(nft.calls.map((c) => c.args)).toEqual([
      ['-j', 'list', 'set', 'inet', 'fw', 'blocked4'],
      ['add', 'element', 'inet', 'fw', 'blocked4', '{ 203.0.113.7 }'],
    ]);
    const covered = await action(cfg).execute({ ip: '198.19.1.1' }, run);
    expect(covered).toMatchObject({ status: 'skipped', details: { covered_by: '198.18.0.0/15' } });
    const err = await action(cfg)
      .execute({ ip: '2001:db8::1' }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_PRECONDITION');
  });

  it('adds a timeout to each element, and creates sets that support it', async () => {
    await action({ ...ENABLED, element_timeout_s: 3600 }).execute({ ip: '2001:DB8::7' }, run);
    expect(nft.calls[1]!.input).toContain(
      'add set inet aisoc aisoc_block_v6 { type ipv6_addr ; flags timeout ; }',
    );
    expect(nft.calls.at(-1)!.args).toEqual([
      'add',
      'element',
      'inet',
      'aisoc',
      'aisoc_block_v6',
      '{ 2001:db8::7 timeout 3600s }',
    ]);
  });

  it('refuses loopback as input, never_block networks by policy, and IPv6 in an ip-family table', async () => {
    const lo = await action()
      .execute({ ip: '127.0.0.1' }, run)
      .catch((e: unknown) => e);
    expect(lo as AisocError).toMatchObject({ code: 'AISOC_ERR_VALIDATION', field: 'ip' });
    const shielded = await action({ ...ENABLED, never_block: ['192.0.2.0/24'] })
      .execute({ ip: '::ffff:192.0.2.5' }, run)
      .catch((e: unknown) => e);
    expect((shielded as AisocError).code).toBe('AISOC_ERR_ACTION_POLICY');
    const v6 = await action({ ...ENABLED, family: 'ip' })
      .execute({ ip: '2001:db8::1' }, run)
      .catch((e: unknown) => e);
    expect((v6 as AisocError).field).toBe('ip');
    expect(nft.calls).toHaveLength(0);
  });

  it('reports a missing nft binary: typed when enabled, as unknown state in a dry run', async () => {
    const gone: CommandRunner = async () => {
      throw Object.assign(new Error('spawn /usr/sbin/nft ENOENT'), { code: 'ENOENT' });
    };
    const create = (config: Record<string, unknown>) =>
      localBlockIpFactory.create(config, { logger: silentLogger(), commandRunner: gone });
    const err = await create(ENABLED)
      .execute({ ip: '203.0.113.7' }, run)
      .catch((e: unknown) => e);
    expect((err as AisocError).code).toBe('AISOC_ERR_ACTION_FAILED');
    expect((err as AisocError).message).toContain('nft was not found at /usr/sbin/nft');
    const dry = await create({}).execute({ ip: '203.0.113.7' }, run);
    expect(dry.details.set_state).toMatch(/^unknown: nft was not found/);
  });

  it('refuses identifiers that nft could read as syntax', () => {
    expect(() => action({ ...ENABLED, table: 'aisoc; flush ruleset' })).toThrow(/table/);
    expect(() => action({ ...ENABLED, nft_path: 'nft' })).toThrow(/nft_path/);
  });
});

/** Whether the real nft can check scripts here (it needs netlink, so usually root). */
function realNft(): boolean {
  try {
    execFileSync(NFT, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    console.warn(`Skipping the real-nft checks: ${NFT} is not installed or cannot run here.`);
    return false;
  }
}

/** A fresh network namespace to run real nft in, without touching this host's firewall. */
function netns(): string | undefined {
  const name = `aisoc-nft-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', name], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'exec', name, NFT, 'list', 'ruleset'], { stdio: 'ignore' });
    return name;
  } catch {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // Nothing was created.
    }
    console.warn('Skipping the network-namespace nft test: creating a namespace needs root (CAP_SYS_ADMIN).');
    return undefined;
  }
}

const HAVE_NFT = realNft();

describe.skipIf(!HAVE_NFT)('local.block_ip with the real nft', () => {
  it('writes setup scripts that nft --check accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-nft-'));
    try {
      for (const extra of [
        {},
        { family: 'ip' as const, element_timeout_s: 60 },
        { family: 'ip6' as const, hook: 'forward' as const },
      ]) {
        const file = join(dir, 'setup.nft');
        writeFileSync(
          file,
          nftSetupScript({
            family: 'inet',
            table: 'aisoc_check',
            chain: 'input',
            hook: 'input',
            priority: -10,
            set_v4: 'aisoc_block_v4',
            set_v6: 'aisoc_block_v6',
            ...extra,
          }),
        );
        let out = '';
        try {
          out = execFileSync(NFT, ['--check', '-f', file], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
          });
        } catch (err) {
          const stderr = String((err as { stderr?: string }).stderr ?? '');
          if (/Operation not permitted/.test(stderr)) {
            console.warn('Skipping nft --check: it needs CAP_NET_ADMIN here.');
            return;
          }
          throw new Error(`nft --check refused the script: ${stderr}`);
        }
        expect(out).toBe('');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('in a network namespace', () => {
    let ns: string | undefined;
    beforeAll(() => {
      ns = netns();
    });
    afterAll(() => {
      if (ns) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    });

    it('blocks, skips a repeat, and rolls back, with real nft', async (t) => {
      if (!ns) return t.skip();
      const inNs: CommandRunner = (file, args, options) =>
        execFileRunner('/usr/sbin/ip', ['netns', 'exec', ns!, file, ...args], options);
      const a = localBlockIpFactory.create(
        { ...ENABLED, element_timeout_s: 600 },
        { logger: silentLogger(), commandRunner: inNs },
      );
      const first = await a.execute({ ip: '203.0.113.7' }, { dryRun: false, idempotencyKey: 'real' });
      expect(first.status).toBe('succeeded');
      const listed = JSON.parse(
        execFileSync(
          'ip',
          ['netns', 'exec', ns, NFT, '-j', 'list', 'set', 'inet', 'aisoc', 'aisoc_block_v4'],
          { encoding: 'utf8' },
        ),
      ) as { nftables: Array<{ set?: { elem?: unknown[] } }> };
      expect(JSON.stringify(listed.nftables.find((x) => x.set)?.set?.elem)).toContain('203.0.113.7');
      const chain = execFileSync(
        'ip',
        ['netns', 'exec', ns, NFT, 'list', 'chain', 'inet', 'aisoc', 'input'],
        { encoding: 'utf8' },
      );
      expect(chain).toContain('ip saddr @aisoc_block_v4 counter packets 0 bytes 0 drop');
      expect((await a.execute({ ip: '203.0.113.7' }, { dryRun: false, idempotencyKey: 'real' })).status).toBe(
        'skipped',
      );
      const rb = await a.rollback!({ ip: '203.0.113.7' }, first.rollback_data, {
        dryRun: false,
        idempotencyKey: 'real',
      });
      expect(rb.status).toBe('succeeded');
      const after = execFileSync(
        'ip',
        ['netns', 'exec', ns, NFT, 'list', 'set', 'inet', 'aisoc', 'aisoc_block_v4'],
        { encoding: 'utf8' },
      );
      expect(after).not.toContain('203.0.113.7');
    });
  });
});
