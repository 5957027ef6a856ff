import { z } from 'zod';
import type { SeverityName } from '../../schema/common.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import type { AlertCandidate, Detector, DetectorFactory, DetectorRule } from '../types.ts';
import { type Grant, resourceGrants } from './grants.ts';

export { type Grant, principalAccount, resourceGrants } from './grants.ts';

/**
 * `detect.resource_policy`: the rule for resource policies that open a
 * resource to another AWS account or to everyone, on any service.
 */
export const ResourcePolicyConfig = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Run the resource-policy rule on CloudTrail calls'),
    trusted_accounts: z
      .array(z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id'))
      .max(10_000)
      .default([])
      .describe(
        "AWS accounts whose grants are expected (the organisation's own: backup, logging, build accounts)",
      ),
  })
  .describe('Resource policies granting another account or everyone (S3, KMS, SQS, SNS, Lambda, ECR, …)');
export type ResourcePolicyConfig = z.infer<typeof ResourcePolicyConfig>;

/** The rule's id and title, as alerts and the rule list carry them. */
export const RESOURCE_POLICY_RULE = {
  id: 'e6a1d0c4-5b7f-4c21-9f3e-7a0d2b1c9e55',
  title: 'Resource policy grants access to another account or to everyone',
  tags: ['attack.exfiltration', 'attack.t1537', 'attack.persistence', 'attack.t1098'],
} as const;

/** A grant to everyone is high; to one other account medium (cross-account sharing is also how organisations work). */
function levelOf(grants: readonly Grant[]): SeverityName {
  return grants.some((g) => g.kind === 'everyone') ? 'high' : 'medium';
}

function describe(e: NormalisedEvent, grants: readonly Grant[], own: string | undefined): string {
  const what = grants
    .slice(0, 5)
    .map((g) => {
      const to = g.kind === 'everyone' ? 'everyone (*)' : `account ${g.principal}`;
      return `${to}${g.actions.length ? ` (${g.actions.join(', ')})` : ''} at requestParameters.${g.path}`;
    })
    .join('; ');
  const resource = e.cloud?.resource_uids?.[0];
  return `${e.cloud?.operation ?? 'A call'}${resource ? ` on ${resource}` : ''} grants ${what}${own ? `; the resource belongs to account ${own}` : ''}. A resource policy that lets another account or anyone read, write or invoke is how data is shared out and how a backdoor outlives the credentials that made it.`;
}

/**
 * The resource-policy rule: a CloudTrail call whose request sets a
 * resource policy (or a single grant) allowing another AWS account, or
 * everyone, is a candidate; trusted accounts and statements a condition
 * confines (organisation, source account, VPC) are left out. Stateless per
 * event, so the pipeline and replay run it alike.
 */
export function resourcePolicyDetector(
  config: ResourcePolicyConfig = ResourcePolicyConfig.parse({}),
): Detector {
  const trusted = new Set(config.trusted_accounts);
  const rule: DetectorRule = {
    id: RESOURCE_POLICY_RULE.id,
    title: RESOURCE_POLICY_RULE.title,
    engine: 'rule',
    level: 'high',
    status: 'test',
    logsource: { product: 'aws', service: 'cloudtrail' },
    tags: [...RESOURCE_POLICY_RULE.tags],
    lint: { state: 'ok', messages: [] },
  };
  return {
    name: 'resource_policy',
    rules: () => [rule],
    detect(events) {
      const out: AlertCandidate[] = [];
      for (const e of events) {
        if (e.cloud?.provider !== 'aws' || e.status === 'failure') continue;
        const raw = e.raw as { requestParameters?: unknown; recipientAccountId?: unknown } | undefined;
        if (!raw || typeof raw !== 'object') continue;
        const own = typeof raw.recipientAccountId === 'string' ? raw.recipientAccountId : e.cloud.account_uid;
        const grants = resourceGrants(raw.requestParameters, own, trusted);
        if (grants.length === 0) continue;
        out.push({
          detection: {
            engine: 'rule',
            rule_id: RESOURCE_POLICY_RULE.id,
            rule_title: RESOURCE_POLICY_RULE.title,
            level: levelOf(grants),
            tags: [...RESOURCE_POLICY_RULE.tags],
            description: describe(e, grants, own),
            event_ids: [e.id],
          },
          events: [e],
        });
      }
      return out;
    },
  };
}

/** The registry entry: `detect.resource_policy`. */
export const resourcePolicyDetectorFactory = {
  type: 'resource_policy',
  description: 'Resource policies that grant another AWS account or everyone, on any service',
  configSchema: ResourcePolicyConfig,
  create: (section) => (section.enabled ? [resourcePolicyDetector(section)] : []),
} satisfies DetectorFactory<ResourcePolicyConfig>;
