import { Command } from 'commander';
import { VERSION } from '../version.ts';

const program = new Command('aisoc')
  .description('AI-SOC: ingest security telemetry, detect, explain, map to ATT&CK and respond')
  .version(VERSION)
  .option('-c, --config <file>', 'configuration file (YAML or JSON; env AISOC_CONFIG)')
  .option(
    '-d, --data-dir <dir>',
    'data directory for the embedded database and keys (env AISOC_DATA_DIR, default ./.aisoc)',
  )
  .option('--log-level <level>', 'log level: fatal, error, warn, info, debug, trace, silent')
  .showHelpAfterError();

type Register = (program: Command) => void;

/**
 * Each command's module, loaded only when that command runs: a command pulls
 * in what it needs (the AWS SDK, the HTTP server, the embedded database),
 * and loading all of them for every invocation cost about a second.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  serve: async () => (await import('./commands/serve.ts')).registerServe,
  ingest: async () => (await import('./commands/ingest.ts')).registerIngest,
  keys: async () => (await import('./commands/keys.ts')).registerKeys,
  demo: async () => (await import('./commands/demo.ts')).registerDemo,
  actions: async () => (await import('./commands/actions.ts')).registerActions,
  cases: async () => (await import('./commands/cases.ts')).registerCases,
  audit: async () => (await import('./commands/audit.ts')).registerAudit,
  playbooks: async () => (await import('./commands/playbooks.ts')).registerPlaybooks,
  eval: async () => (await import('./commands/eval.ts')).registerEval,
  kb: async () => (await import('./commands/kb.ts')).registerKb,
  rules: async () => (await import('./commands/rules.ts')).registerRules,
  detect: async () => (await import('./commands/detect.ts')).registerDetect,
  train: async () => (await import('./commands/train.ts')).registerTrain,
  label: async () => (await import('./commands/label.ts')).registerLabel,
};

/** Global options that take a value: their value is not the command name. */
const VALUED = new Set(['-c', '--config', '-d', '--data-dir', '--log-level']);

/** The command named on the command line, if it is one of ours; otherwise (help, a typo) every command loads. */
function commandOf(argv: string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (VALUED.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return Object.hasOwn(COMMANDS, a) ? a : undefined;
  }
  return undefined;
}

/** `aisoc --version` (no command): commander answers it from the program alone, so no command loads. */
function versionOnly(argv: string[]): boolean {
  return argv.slice(2).some((a) => a === '-V' || a === '--version');
}

const named = commandOf(process.argv);
const load = named ? [named] : versionOnly(process.argv) ? [] : Object.keys(COMMANDS);
for (const name of load) (await COMMANDS[name]!())(program);

await program.parseAsync(process.argv);
