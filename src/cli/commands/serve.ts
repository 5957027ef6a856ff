import { type Command, Option } from 'commander';
import type { RunnerRole } from '../../pipeline/runner.ts';
import { action, commandConfig, say } from '../common.ts';
import { closeOnSignals, startServer } from '../server.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the API server and the pipeline (embedded database unless AISOC_DATABASE_URL is set)')
    .option('-p, --port <port>', 'HTTP port', (v) => Number.parseInt(v, 10))
    .option('--host <host>', 'address to bind')
    .addOption(
      new Option(
        '--role <role>',
        "this process's part when scaled out (pipeline.runner: nats): api takes input and serves the API, worker runs the pipeline stages and triage (HTTP: /health, /ready, /metrics only), all does both",
      )
        .choices(['api', 'worker', 'all'])
        .default('all'),
    )
    .option(
      '--syslog [port]',
      'also receive syslog on UDP and TCP (receivers.syslog; port 5514 unless given)',
    )
    .action(
      action(
        async (
          opts: { port?: number; host?: string; syslog?: boolean | string; role: RunnerRole },
          cmd: Command,
        ) => {
          const server: Record<string, unknown> = {};
          if (opts.port !== undefined) server.port = opts.port;
          if (opts.host !== undefined) server.host = opts.host;
          const overrides: Record<string, unknown> = { server };
          if (opts.syslog !== undefined) {
            // A bad port reaches the config schema as NaN and is refused there, naming receivers.syslog.port.
            const syslog: Record<string, unknown> = { enabled: true };
            if (typeof opts.syslog === 'string')
              syslog.port = /^\d+$/.test(opts.syslog) ? Number(opts.syslog) : Number.NaN;
            overrides.receivers = { syslog };
          }
          const config = commandConfig(cmd, overrides);
          const running = await startServer(config, { role: opts.role });
          // Before the first word of output: whoever waits for "serving on" may stop the server at once.
          closeOnSignals(running);
          if (running.role === 'worker') {
            say(`AI-SOC worker is running the pipeline (health and metrics on ${running.url})`);
            return;
          }
          if (running.adminKeyCreated && running.adminKey) {
            say(
              `\nAn admin API key was created. It is shown only this once and saved to ${running.adminKeyFile} (mode 0600):\n\n  ${running.adminKey}\n`,
            );
          } else if (running.adminKeyUnused) {
            // Said at every start until someone has used the key, so a first start whose output was lost is no dead end.
            say(
              `The admin API key is saved in ${running.adminKeyFile} (mode 0600); it has not been used yet. (This note stops once it has.)`,
            );
          }
          say(
            `AI-SOC is serving on ${running.url} (API docs: ${running.url}/docs)${running.role === 'api' ? ' as an API process: workers run the pipeline' : ''}`,
          );
          const syslog = running.receivers.addresses('syslog');
          if (syslog.length > 0)
            say(
              `Receiving syslog on ${syslog.map((a) => `${a.protocol}://${a.host}:${a.port}`).join(' and ')}`,
            );
        },
      ),
    );
}
