import { typedMap } from '../../config/sections.ts';
import { AisocError } from '../../errors.ts';
import { disableAccessKeyFactory } from './aws/disable-access-key.ts';
import { quarantineInstanceFactory } from './aws/quarantine-instance.ts';
import { revokeSecurityGroupIngressFactory } from './aws/revoke-security-group-ingress.ts';
import { rotateSecretFactory } from './aws/rotate-secret.ts';
import { wafBlockIpFactory } from './aws/waf-block-ip.ts';
import { localBlockIpFactory } from './local/block-ip.ts';
import { emailFactory } from './notify/email.ts';
import { pagerDutyFactory } from './notify/pagerduty.ts';
import { slackFactory } from './notify/slack.ts';
import { snsFactory } from './notify/sns.ts';
import { webhookFactory } from './notify/webhook.ts';
import type { Action, ActionContext, ActionEffect, ActionFactory } from './types.ts';
import { wazuhActiveResponseFactory } from './wazuh/active-response.ts';

export type {
  Action,
  ActionContext,
  ActionEffect,
  ActionFactory,
  ActionResult,
  ExecuteOptions,
} from './types.ts';

/** Every response action, one line each. */
export const ACTION_FACTORIES: readonly ActionFactory[] = [
  disableAccessKeyFactory,
  revokeSecurityGroupIngressFactory,
  quarantineInstanceFactory,
  rotateSecretFactory,
  wafBlockIpFactory,
  slackFactory,
  emailFactory,
  snsFactory,
  pagerDutyFactory,
  webhookFactory,
  wazuhActiveResponseFactory,
  localBlockIpFactory,
];

const BY_TYPE = new Map<string, ActionFactory>();
for (const f of ACTION_FACTORIES) {
  if (BY_TYPE.has(f.type)) throw new Error(`Two response actions are registered as ${f.type}`);
  BY_TYPE.set(f.type, f);
}

/**
 * The `respond.actions` section of the configuration: action type → that
 * action's settings, each checked against the action's own `configSchema`;
 * a type no registered action has is an error naming the key.
 */
export const ActionsConfig = typedMap(
  new Map(ACTION_FACTORIES.map((f) => [f.type, f.configSchema])),
  (_type, known) => `no action of that type exists (known: ${known.join(', ')})`,
).describe(
  'Enabled actions: action type → its settings (docs/actions.md). An action not listed here never runs',
);

/**
 * The factory of an action type; `AISOC_ERR_ACTION_UNKNOWN` naming the field
 * `type` when none is registered.
 *
 * @example actionFactory('aws.wafv2.block_ip').effect // 'reversible'
 */
export function actionFactory(type: string): ActionFactory {
  const f = BY_TYPE.get(type);
  if (!f)
    throw new AisocError('AISOC_ERR_ACTION_UNKNOWN', `No response action is registered as ${type}`, {
      field: 'type',
      details: { known: [...BY_TYPE.keys()] },
    });
  return f;
}

/**
 * Validate a config and build the action (wrapped: validation, timeout,
 * dry-run guard, metrics, redaction, typed errors).
 *
 * @example
 * const a = createAction('notify.slack', { link_base_url: 'https://soc.example.com' }, { logger, metrics });
 */
export function createAction(type: string, config: unknown, ctx: ActionContext): Action {
  return actionFactory(type).create(config, ctx);
}

/** What the UI and approvals need to list actions: type, description, effect. */
export function listActions(): Array<{ type: string; description: string; effect: ActionEffect }> {
  return ACTION_FACTORIES.map((f) => ({ type: f.type, description: f.description, effect: f.effect }));
}
