import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import { parseOrThrow } from './errors.ts';
import { Redactor } from './redact.ts';
import { RetryConfig } from './retry.ts';
import type { ActionContext, ActionEffect, ActionFactory, ActionImpl, BaseActionConfig } from './types.ts';
import { wrapAction } from './wrapper.ts';

/** Config fields every action has; spread into each action's `configSchema`. */
export const baseConfigShape = {
  timeout_ms: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe('Time allowed for one run, every call and retry included, in milliseconds'),
  retry: RetryConfig.default(RetryConfig.parse({})),
};

/** Environment variable names, as config fields that name them must hold. */
export const EnvVarName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

/** What `build` gets: the context, plus secrets read from the environment and registered for redaction. */
export interface BuildContext extends ActionContext {
  /** The value of the env var named by config field `field`; `AISOC_ERR_CONFIG` when unset or empty. */
  secret(envVar: string, field: string): string;
  readonly redactor: Redactor;
}

export interface ActionSpec<C extends BaseActionConfig, I> {
  type: string;
  description: string;
  effect: ActionEffect;
  configSchema: z.ZodType<C>;
  inputSchema: z.ZodType<I>;
  /** Build the implementation from a validated config; read secrets here (fail fast at start-up). */
  build(config: C, ctx: BuildContext): ActionImpl<I>;
}

const TYPE_NAME = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*){1,3}$/;

/**
 * Make an action factory from its parts. `create` validates the config
 * (unknown keys are errors, named by field), builds the implementation and
 * wraps it in the shared wrapper (validation, timeout, dry-run guard,
 * metrics, redaction, typed errors).
 *
 * @example
 * export const pingFactory = defineAction({
 *   type: 'demo.ping', description: 'Does nothing', effect: 'read-only',
 *   configSchema: z.strictObject({ ...baseConfigShape }),
 *   inputSchema: z.strictObject({ host: z.string().describe('Host to ping') }),
 *   build: () => ({ execute: async () => ({ status: 'dry_run', summary: 'Would ping', details: {} }) }),
 * });
 */
export function defineAction<C extends BaseActionConfig, I>(spec: ActionSpec<C, I>): ActionFactory<C, I> {
  if (!TYPE_NAME.test(spec.type)) throw new Error(`Action type ${spec.type} is not a dotted lower-case name`);
  return {
    type: spec.type,
    description: spec.description,
    effect: spec.effect,
    configSchema: spec.configSchema,
    inputSchema: spec.inputSchema,
    create(rawConfig, ctx) {
      const config = parseOrThrow(
        spec.configSchema,
        rawConfig ?? {},
        'AISOC_ERR_CONFIG',
        `config of ${spec.type}`,
      );
      const redactor = new Redactor();
      const env = ctx.env ?? process.env;
      const buildCtx: BuildContext = {
        ...ctx,
        redactor,
        secret(envVar, field) {
          const value = env[envVar];
          if (value === undefined || value === '')
            throw new AisocError(
              'AISOC_ERR_CONFIG',
              `${spec.type}: environment variable ${envVar} (named by ${field}) is not set`,
              { field },
            );
          redactor.add(value);
          return value;
        },
      };
      const impl = spec.build(config, buildCtx);
      if ((spec.effect === 'reversible') !== (typeof impl.rollback === 'function'))
        throw new Error(`${spec.type}: rollback must exist exactly when the effect is reversible`);
      return wrapAction({
        type: spec.type,
        effect: spec.effect,
        inputSchema: spec.inputSchema,
        config,
        impl,
        ctx,
        redactor,
      });
    },
  };
}
