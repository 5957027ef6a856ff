import { Command } from 'commander';
import { VERSION } from '../version.ts';
import { registerActions } from './commands/actions.ts';
import { registerAudit } from './commands/audit.ts';
import { registerCases } from './commands/cases.ts';
import { registerDemo } from './commands/demo.ts';
import { registerDetect } from './commands/detect.ts';
import { registerEval } from './commands/eval.ts';
import { registerIngest } from './commands/ingest.ts';
import { registerKb } from './commands/kb.ts';
import { registerKeys } from './commands/keys.ts';
import { registerLabel } from './commands/label.ts';
import { registerPlaybooks } from './commands/playbooks.ts';
import { registerRules } from './commands/rules.ts';
import { registerServe } from './commands/serve.ts';
import { registerTrain } from './commands/train.ts';

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

registerServe(program);
registerIngest(program);
registerKeys(program);
registerDemo(program);
registerActions(program);
registerCases(program);
registerAudit(program);
registerPlaybooks(program);
registerEval(program);
registerKb(program);
registerRules(program);
registerDetect(program);
registerTrain(program);
registerLabel(program);

await program.parseAsync(process.argv);
