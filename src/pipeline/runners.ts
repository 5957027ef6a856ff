import { AisocError } from '../errors.ts';
import { embeddedRunnerFactory } from './embedded.ts';
import { natsRunnerFactory } from './nats/runner.ts';
import type { PipelineRunner, RunnerContext, RunnerFactory } from './runner.ts';

export type { PipelineRunner, RunnerContext, RunnerFactory, RunnerRole } from './runner.ts';

/**
 * Every pipeline runner, by the name `pipeline.runner` takes: one line per
 * runner. A runner's `configSchema` becomes the section `pipeline.<type>`
 * (`pipelineConfigOf` in `config.ts`).
 */
export const RUNNERS = {
  embedded: embeddedRunnerFactory,
  nats: natsRunnerFactory,
} as const satisfies Record<string, RunnerFactory<unknown>>;

/**
 * Build the runner `type` names (`config.pipeline.runner`): not started
 * (the caller starts it, then stops it). An unknown type is
 * `AISOC_ERR_CONFIG` naming `pipeline.runner`, which the configuration
 * already refuses unless the registry was extended; so is a role the
 * runner does not run in (`RunnerFactory.roles`: the embedded runner is
 * one process, `all`).
 *
 * @example
 * const runner = createRunner(config.pipeline.runner, { store, logger, metrics, config: config.pipeline, stages, pressure });
 * await runner.start();
 */
export function createRunner(
  type: string,
  ctx: RunnerContext,
  runners: Readonly<Record<string, RunnerFactory<unknown>>> = RUNNERS,
): PipelineRunner {
  const factory = Object.hasOwn(runners, type) ? runners[type] : undefined;
  if (!factory) {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `pipeline.runner: no runner of type ${type} exists (known: ${Object.keys(runners).join(', ')})`,
      { field: 'pipeline.runner' },
    );
  }
  const role = ctx.role ?? 'all';
  const roles = factory.roles ?? ['all'];
  if (!roles.includes(role)) {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `pipeline.runner: the ${type} runner runs only as ${roles.join(', ')}, not as ${role}; a process of its own per role needs a runner that shares its work, such as nats`,
      { field: 'pipeline.runner' },
    );
  }
  return factory.create(ctx);
}
