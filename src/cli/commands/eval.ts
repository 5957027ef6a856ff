import type { Command } from 'commander';
import { registerEvalAttackMapping } from './eval-attack-mapping.ts';
import { registerEvalModel } from './eval-model.ts';
import { registerEvalRules } from './eval-rules.ts';
import { registerEvalSigma } from './eval-sigma.ts';
import { registerEvalTriage } from './eval-triage.ts';

/**
 * `aisoc eval <what>`: measurement commands. Each evaluation lives in its own
 * file (`eval-<what>.ts`) exporting a `register(evalCommand)` function, listed
 * here, so evaluations are added without touching each other.
 */
const EVALUATIONS: Array<(evalCommand: Command) => void> = [
  registerEvalModel,
  registerEvalSigma,
  registerEvalRules,
  registerEvalAttackMapping,
  registerEvalTriage,
];

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('Measure detection, models, ATT&CK mapping and triage on labelled data');
  for (const register of EVALUATIONS) register(cmd);
}
