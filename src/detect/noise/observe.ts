/**
 * What the cloud baselines remember of a call: who made it (the identity),
 * what it called (the API), where (the region) and with what (the family of
 * the user agent). The CloudTrail facts come from the feature code the ML
 * models share (`../ml/features/cloudtrail-common.ts`), so a call is read
 * one way everywhere.
 */
import type { EventDraft } from '../../schema/event.ts';
import { identityKey, isCloudTrailCall, serviceOf } from '../ml/features/cloudtrail-common.ts';

/** The parts of a call a baseline is kept for, per identity. */
export const DIMENSIONS = ['identity', 'api', 'region', 'user_agent'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** One cloud API call, as the baselines see it. */
export interface CloudCall {
  identity: string;
  api: string;
  region: string;
  user_agent: string;
}

/** Longest value kept for a part of a call; longer ones are cut (an attacker-chosen user agent can be long). */
const MAX_VALUE = 200;

const ASSUMED_ROLE_SESSION = /^(arn:aws[\w-]*:sts::\d{12}:assumed-role\/[^/]+)\/.+$/;

/**
 * The identity a baseline is kept for: the role of an assumed-role session
 * (its session name changes with every session: an instance id, a
 * timestamp), else the identity the ML features key on (ARN, principal id,
 * name, access key).
 *
 * @example
 * principalOf(e) // 'arn:aws:sts::123456789012:assumed-role/deploy' for …/deploy/i-0abc
 */
export function principalOf(e: EventDraft): string {
  const arn = e.actor?.user?.arn;
  const m = arn ? ASSUMED_ROLE_SESSION.exec(arn) : null;
  return (m ? m[1]! : identityKey(e)).slice(0, 2048);
}

/**
 * The family of a user agent: its product names without versions or
 * comments, so an upgrade of the same tool is not a new agent but another
 * tool is. `aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64` and
 * `aws-cli/2.17.1 Python/3.12.1 Linux/6.5 exe/x86_64` are both
 * `aws-cli Python Linux exe`; `Boto3/1.26 Python/3.10 …` is another family.
 *
 * @example agentFamily('[Boto3/1.26.165 Python/3.10.6 Linux/5.19.0-1025-aws Botocore/1.29.165]') // 'Boto3 Python Linux Botocore'
 */
export function agentFamily(ua: string | undefined): string {
  if (!ua) return '(none)';
  const family = ua
    .slice(0, 4 * MAX_VALUE)
    .replace(/\([^)]*\)/g, ' ')
    .replace(/\/[^\s,\]]*/g, '')
    .replace(/[[\],]/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');
  return (family || '(none)').slice(0, MAX_VALUE);
}

/** The call an event records, when it is a cloud API call (CloudTrail); undefined for any other event. */
export function cloudCall(e: EventDraft): CloudCall | undefined {
  if (!isCloudTrailCall(e)) return undefined;
  return {
    identity: principalOf(e),
    api: `${serviceOf(e)}:${e.cloud!.operation}`.slice(0, MAX_VALUE),
    region: (e.cloud!.region ?? 'global').slice(0, MAX_VALUE),
    user_agent: agentFamily(e.cloud!.user_agent ?? e.http?.user_agent),
  };
}
