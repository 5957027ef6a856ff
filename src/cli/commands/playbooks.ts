import { join } from 'node:path';
import type { Command } from 'commander';
import { CONTENT_DIR } from '../../content.ts';
import { ACTION_FACTORIES } from '../../respond/actions/index.ts';
import { loadPlaybooks } from '../../respond/playbooks/load.ts';
import { actionInfos } from '../../respond/setup.ts';
import { action, say } from '../common.ts';

/** `aisoc playbooks lint [DIR…]`: every problem of every playbook in one run (file, line, message). */
export function registerPlaybooks(program: Command): void {
  const playbooks = program.command('playbooks').description('Response playbooks (YAML)');
  playbooks
    .command('lint')
    .description(
      "Check playbooks against each action's input schema; reports every problem with its file and line",
    )
    .argument('[dirs...]', 'playbook directories (default: content/playbooks)')
    .option('--json', 'print JSON')
    .action(
      action(async (dirs: string[], opts: { json?: boolean }) => {
        const targets = dirs.length ? dirs : [join(CONTENT_DIR, 'playbooks')];
        const r = loadPlaybooks(targets, actionInfos(ACTION_FACTORIES));
        if (opts.json)
          process.stdout.write(
            `${JSON.stringify({ playbooks: r.playbooks.map((p) => p.id), issues: r.issues })}\n`,
          );
        else {
          for (const i of r.issues) say(`${i.file}${i.line ? `:${i.line}` : ''}: ${i.message}`);
          say(`${r.playbooks.length} playbook(s) valid, ${r.issues.length} problem(s).`);
        }
        if (r.issues.length) process.exitCode = 1;
      }),
    );
}
