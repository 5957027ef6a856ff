import type { Logger } from 'pino';
import { AisocError } from '../errors.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Action, ActionFactory } from './actions/types.ts';
import type { ActionOutcome, ActionPort } from './port.ts';

/**
 * The configured actions of a runtime, as the response engine sees them.
 * Only actions named in `respond.actions` are enabled: an action that touches
 * a production account exists only once someone configured it.
 */
export class ActionCatalogue implements ActionPort {
  private readonly actions = new Map<string, { factory: ActionFactory; action: Action }>();

  /**
   * @param factories every action the product ships
   * @param config `respond.actions`: action type → that action's config
   */
  constructor(
    factories: readonly ActionFactory[],
    config: Record<string, unknown>,
    ctx: { logger: Logger; metrics?: Metrics; env?: Record<string, string | undefined> },
  ) {
    const byType = new Map(factories.map((f) => [f.type, f]));
    for (const [type, section] of Object.entries(config)) {
      const factory = byType.get(type);
      if (!factory) {
        throw new AisocError(
          'AISOC_ERR_CONFIG',
          `respond.actions.${type}: no action of that type exists (known: ${[...byType.keys()].join(', ')})`,
          {
            field: `respond.actions.${type}`,
          },
        );
      }
      this.actions.set(type, { factory, action: factory.create(section ?? {}, ctx) });
    }
  }

  types(): string[] {
    return [...this.actions.keys()];
  }

  info(type: string) {
    const a = this.actions.get(type);
    return a
      ? {
          type,
          description: a.factory.description,
          effect: a.factory.effect,
          inputSchema: a.factory.inputSchema,
        }
      : undefined;
  }

  idempotencyKey(type: string, input: unknown): string {
    return this.get(type).idempotencyKey(input);
  }

  async execute(
    type: string,
    input: unknown,
    opts: { dryRun: boolean; idempotencyKey: string; signal: AbortSignal },
  ): Promise<ActionOutcome> {
    const r = await this.get(type).execute(input, opts);
    return {
      status: r.status,
      summary: r.summary,
      details: r.details,
      ...(r.rollback_data === undefined ? {} : { rollback_data: r.rollback_data }),
    };
  }

  async rollback(
    type: string,
    input: unknown,
    rollbackData: unknown,
    opts: { dryRun: boolean; signal: AbortSignal },
  ): Promise<ActionOutcome> {
    const action = this.get(type);
    if (!action.rollback)
      throw new AisocError('AISOC_ERR_CONFLICT', `${type} cannot be rolled back`, { field: 'type' });
    const r = await action.rollback(input, rollbackData, {
      ...opts,
      idempotencyKey: `rollback:${action.idempotencyKey(input)}`,
    });
    return { status: r.status, summary: r.summary, details: r.details };
  }

  private get(type: string): Action {
    const a = this.actions.get(type);
    if (!a)
      throw new AisocError('AISOC_ERR_VALIDATION', `No action ${type} is configured`, { field: 'type' });
    return a.action;
  }
}
