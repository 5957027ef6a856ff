import type { Command } from 'commander';
import { AisocError } from '../../errors.ts';
import {
  API_SCOPES,
  type ApiKeyRecord,
  type ApiScope,
  openStore,
  storeOptionsFromConfig,
} from '../../store/index.ts';
import { action, commandConfig, parseScopes, say } from '../common.ts';
import { localServer, type RemoteOptions, remote } from '../remote.ts';

type RemoteOpts = RemoteOptions;

function checkScopes(list: string[]): ApiScope[] {
  if (list.length === 0)
    throw new AisocError('AISOC_ERR_VALIDATION', '--scope needs at least one scope', { field: 'scope' });
  for (const s of list) {
    if (!(API_SCOPES as readonly string[]).includes(s)) {
      throw new AisocError(
        'AISOC_ERR_VALIDATION',
        `Unknown scope ${s}; scopes are ${API_SCOPES.join(', ')}`,
        { field: 'scope' },
      );
    }
  }
  return list as ApiScope[];
}

/**
 * Key commands work on a running server (`--url` and an admin `--key`, or the
 * server running on the data directory), else on the local data directory.
 */
export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('Manage API keys (scopes: ingest, read, analyst, responder, admin)');
  const withRemote = (c: Command) =>
    c
      .option(
        '--url <url>',
        'manage the keys of a running server (default: the server running on the data directory, if any)',
      )
      .option(
        '--key <key>',
        'admin API key (env AISOC_API_KEY; default for the data directory server: its admin.key)',
      );

  withRemote(
    keys
      .command('create')
      .description('Create a key; it is printed once and stored only as a hash')
      .requiredOption('--scope <scopes>', 'comma-separated scopes, e.g. ingest,read')
      .requiredOption('--name <name>', 'a unique name for the key')
      .option('--json', 'print JSON'),
  ).action(
    action(async (opts: RemoteOpts & { scope: string; name: string; json?: boolean }, cmd: Command) => {
      const scopes = checkScopes(parseScopes(opts.scope));
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(opts.name)) {
        throw new AisocError(
          'AISOC_ERR_VALIDATION',
          'The name may hold letters, digits, dot, dash and underscore (1–64)',
          { field: 'name' },
        );
      }
      let result: { key: string; record: ApiKeyRecord };
      const config = commandConfig(cmd);
      const server = opts.url ? opts : localServer(opts, config.data_dir);
      if (server) result = await remote<typeof result>(server, 'POST', '/keys', { name: opts.name, scopes });
      else {
        const store = await openStore(storeOptionsFromConfig(config));
        try {
          if ((await store.apiKeys.list()).some((k) => k.name === opts.name)) {
            throw new AisocError('AISOC_ERR_CONFLICT', `A key named ${opts.name} already exists`, {
              field: 'name',
            });
          }
          result = await store.apiKeys.create(opts.name, scopes);
          await store.audit.append({
            actor: 'cli',
            action: 'key.create',
            target_type: 'api_key',
            target_id: result.record.id,
            details: { name: opts.name, scopes },
          });
        } finally {
          await store.close();
        }
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        say(
          `Created key ${result.record.name} with scopes ${result.record.scopes.join(', ')}. It is shown only once:`,
        );
        process.stdout.write(`${result.key}\n`);
      }
    }),
  );

  withRemote(
    keys
      .command('list')
      .description('List keys (names, scopes, prefixes; never the keys)')
      .option('--json', 'print JSON'),
  ).action(
    action(async (opts: RemoteOpts & { json?: boolean }, cmd: Command) => {
      let items: ApiKeyRecord[];
      const config = commandConfig(cmd);
      const server = opts.url ? opts : localServer(opts, config.data_dir);
      if (server) items = (await remote<{ items: ApiKeyRecord[] }>(server, 'GET', '/keys')).items;
      else {
        const store = await openStore(storeOptionsFromConfig(config));
        try {
          items = await store.apiKeys.list();
        } finally {
          await store.close();
        }
      }
      if (opts.json) process.stdout.write(`${JSON.stringify({ items })}\n`);
      else
        for (const k of items) {
          process.stdout.write(
            `${k.name}\t${k.scopes.join(',')}\t${k.prefix}…\t${k.revoked_at ? `revoked ${k.revoked_at}` : 'active'}\t${k.last_used_at ?? 'never used'}\n`,
          );
        }
    }),
  );

  withRemote(
    keys.command('revoke').description('Revoke a key by name or id').argument('<name>', 'key name or id'),
  ).action(
    action(async (name: string, opts: RemoteOpts, cmd: Command) => {
      const config = commandConfig(cmd);
      const server = opts.url ? opts : localServer(opts, config.data_dir);
      if (server) await remote(server, 'DELETE', `/keys/${encodeURIComponent(name)}`);
      else {
        const store = await openStore(storeOptionsFromConfig(config));
        try {
          if (!(await store.apiKeys.revoke(name)))
            throw new AisocError('AISOC_ERR_NOT_FOUND', `No active key named ${name}`, { field: 'name' });
          await store.audit.append({
            actor: 'cli',
            action: 'key.revoke',
            target_type: 'api_key',
            target_id: name,
          });
        } finally {
          await store.close();
        }
      }
      say(`Revoked ${name}.`);
    }),
  );
}
