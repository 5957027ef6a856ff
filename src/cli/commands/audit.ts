import type { Command } from 'commander';
import type { AuditEntry } from '../../schema/case.ts';
import { openStore, storeOptionsFromConfig } from '../../store/index.ts';
import { action, commandConfig } from '../common.ts';
import { localServer, type RemoteOptions, remote, withRemote } from '../remote.ts';

/** `aisoc audit export`: the append-only audit log as JSON lines, from a running server (admin key) or the local data directory. */
export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('The append-only audit log');
  withRemote(
    audit
      .command('export')
      .description('Print every audit entry as one JSON line each, oldest first')
      .option('--target-type <type>', 'only entries about this kind of record (alert, action, case, …)')
      .option('--action <action>', 'only this action (verdict, playbook.step, action.approve, …)')
      .option('--after <id>', 'only entries after this id', (v) => Number.parseInt(v, 10)),
  ).action(
    action(
      async (
        opts: RemoteOptions & { targetType?: string; action?: string; after?: number },
        cmd: Command,
      ) => {
        const filter = {
          ...(opts.targetType ? { target_type: opts.targetType } : {}),
          ...(opts.action ? { action: opts.action } : {}),
        };
        let after = opts.after ?? 0;
        const write = (items: AuditEntry[]) => {
          for (const e of items) process.stdout.write(`${JSON.stringify(e)}\n`);
        };
        const config = commandConfig(cmd);
        const server = opts.url ? opts : localServer(opts, config.data_dir);
        if (server) {
          for (;;) {
            const q = new URLSearchParams({ ...filter, after_id: String(after), limit: '5000' });
            const page = await remote<{ items: AuditEntry[]; next_after_id: number | null }>(
              server,
              'GET',
              `/audit?${q}`,
            );
            write(page.items);
            if (page.next_after_id === null) break;
            after = page.next_after_id;
          }
          return;
        }
        const store = await openStore(storeOptionsFromConfig(config));
        try {
          for (;;) {
            const items = await store.audit.list({ ...filter, after_id: after, limit: 5000 });
            write(items);
            if (items.length < 5000) break;
            after = items.at(-1)!.id;
          }
        } finally {
          await store.close();
        }
      },
    ),
  );
}
