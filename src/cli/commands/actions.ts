import type { Command } from 'commander';
import type { ActionRequest } from '../../schema/response.ts';
import { action, say } from '../common.ts';
import { type RemoteOptions, remote, serverOf, withRemote } from '../remote.ts';

function line(r: ActionRequest): string {
  return [r.id, r.status.padEnd(16), r.type, r.dry_run ? '(dry-run)' : '', r.reason]
    .filter(Boolean)
    .join('  ');
}

/** `aisoc actions list|approve|deny|rollback` against a running server (approvals need a responder or admin key). */
export function registerActions(program: Command): void {
  const actions = program
    .command('actions')
    .description(
      'Action requests on a running server: list, approve, deny, roll back (--url and a responder key; default: the server on the data directory)',
    );

  withRemote(
    actions
      .command('list')
      .description('List action requests (default: those waiting for approval)')
      .option('--status <list>', 'comma-separated statuses, or "all"', 'pending_approval')
      .option('--json', 'print JSON'),
  ).action(
    action(async (opts: RemoteOptions & { status: string; json?: boolean }, cmd: Command) => {
      const q = opts.status === 'all' ? '' : `?status=${encodeURIComponent(opts.status)}&limit=1000`;
      const r = await remote<{ items: ActionRequest[]; total: number }>(
        serverOf(opts, cmd),
        'GET',
        `/actions${q}`,
      );
      if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else if (r.items.length === 0) say('No action requests.');
      else for (const a of r.items) process.stdout.write(`${line(a)}\n`);
    }),
  );

  for (const verb of ['approve', 'deny', 'rollback'] as const) {
    withRemote(
      actions
        .command(verb)
        .description(
          verb === 'approve'
            ? 'Approve a pending action (it runs at once)'
            : verb === 'deny'
              ? 'Deny a pending action'
              : 'Roll back a completed reversible action',
        )
        .argument('<id>', 'action request id')
        .option('-m, --comment <text>', 'why (kept in the audit log)')
        .option('--json', 'print JSON'),
    ).action(
      action(async (id: string, opts: RemoteOptions & { comment?: string; json?: boolean }, cmd: Command) => {
        const r = await remote<ActionRequest>(
          serverOf(opts, cmd),
          'POST',
          `/actions/${encodeURIComponent(id)}/${verb}`,
          opts.comment ? { comment: opts.comment } : {},
        );
        if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else
          say(
            `${line(r)}${r.result?.summary ? `\n  ${r.result.summary}` : ''}${r.error ? `\n  error: ${r.error}` : ''}`,
          );
      }),
    );
  }
}
