import type { Command } from 'commander';
import type { Case } from '../../schema/case.ts';
import { action, say } from '../common.ts';
import { type RemoteOptions, remote, serverOf, withRemote } from '../remote.ts';

function line(c: Case): string {
  return `${c.id}  ${c.status.padEnd(11)} ${c.severity.padEnd(13)} ${c.assignee ?? '-'}  ${c.title}`;
}

/** `aisoc cases list|show|open|update|comment|export` against a running server. */
export function registerCases(program: Command): void {
  const cases = program
    .command('cases')
    .description(
      'Case management on a running server (--url and a key: read to list, analyst to change; default: the server on the data directory)',
    );

  withRemote(
    cases
      .command('list')
      .description('List cases')
      .option('--status <list>', 'comma-separated statuses')
      .option('--json', 'print JSON'),
  ).action(
    action(async (opts: RemoteOptions & { status?: string; json?: boolean }, cmd: Command) => {
      const r = await remote<{ items: Case[]; total: number }>(
        serverOf(opts, cmd),
        'GET',
        `/cases?limit=1000${opts.status ? `&status=${encodeURIComponent(opts.status)}` : ''}`,
      );
      if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else for (const c of r.items) process.stdout.write(`${line(c)}\n`);
    }),
  );

  withRemote(cases.command('show').description('Show one case').argument('<id>')).action(
    action(async (id: string, opts: RemoteOptions, cmd: Command) => {
      process.stdout.write(
        `${JSON.stringify(await remote(serverOf(opts, cmd), 'GET', `/cases/${encodeURIComponent(id)}`), null, 2)}\n`,
      );
    }),
  );

  withRemote(
    cases.command('open').description('Open the case of an incident').argument('<incident-id>'),
  ).action(
    action(async (incident: string, opts: RemoteOptions, cmd: Command) => {
      say(line(await remote<Case>(serverOf(opts, cmd), 'POST', '/cases', { incident_id: incident })));
    }),
  );

  withRemote(
    cases
      .command('update')
      .description(
        'Change status, assignee or resolution; a false positive may suppress its rules for an entity',
      )
      .argument('<id>')
      .option('--status <status>', 'new, in_progress, resolved or closed')
      .option('--resolution <resolution>', 'true_positive, benign_positive or false_positive')
      .option('--assignee <name>', 'who works the case ("" to unassign)')
      .option('--suppress <type:value>', "suppress the case's rules for this entity, e.g. user:backup-bot")
      .option('--days <n>', 'suppression length in days', (v) => Number.parseInt(v, 10), 30),
  ).action(
    action(
      async (
        id: string,
        opts: RemoteOptions & {
          status?: string;
          resolution?: string;
          assignee?: string;
          suppress?: string;
          days: number;
        },
        cmd: Command,
      ) => {
        const body: Record<string, unknown> = {};
        if (opts.status) body.status = opts.status;
        if (opts.resolution) body.resolution = opts.resolution;
        if (opts.assignee !== undefined) body.assignee = opts.assignee === '' ? null : opts.assignee;
        if (opts.suppress) {
          const i = opts.suppress.indexOf(':');
          body.suppress = {
            entity: { type: opts.suppress.slice(0, i), value: opts.suppress.slice(i + 1) },
            days: opts.days,
          };
        }
        const r = await remote<{ case: Case; suppressions: unknown[] }>(
          serverOf(opts, cmd),
          'PATCH',
          `/cases/${encodeURIComponent(id)}`,
          body,
        );
        say(
          `${line(r.case)}${r.suppressions.length ? `\n  ${r.suppressions.length} suppression(s) created` : ''}`,
        );
      },
    ),
  );

  withRemote(
    cases.command('comment').description('Add a comment').argument('<id>').argument('<text>'),
  ).action(
    action(async (id: string, text: string, opts: RemoteOptions, cmd: Command) => {
      say(
        line(
          await remote<Case>(serverOf(opts, cmd), 'POST', `/cases/${encodeURIComponent(id)}/comments`, {
            text,
          }),
        ),
      );
    }),
  );

  withRemote(
    cases
      .command('export')
      .description('Export a case to TheHive 5')
      .argument('<id>')
      .option('--as <kind>', 'case or alert', 'case'),
  ).action(
    action(async (id: string, opts: RemoteOptions & { as: string }, cmd: Command) => {
      const r = await remote<{ thehive_id: string; already: boolean }>(
        serverOf(opts, cmd),
        'POST',
        `/cases/${encodeURIComponent(id)}/export/thehive`,
        { kind: opts.as },
      );
      say(`${r.already ? 'Already exported' : 'Exported'} as TheHive ${opts.as} ${r.thehive_id}`);
    }),
  );
}
