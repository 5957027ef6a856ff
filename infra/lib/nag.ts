import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** One acknowledged cdk-nag finding: a rule id, or `Rule[finding]` for rules that report several, and why. */
export interface Ack {
  id: string;
  reason: string;
  /**
   * Finding ids of a multi-finding rule (IAM5), each acknowledged as
   * `id[finding]` (e.g. `Resource::*`, `Action::kms:GenerateDataKey*`).
   * cdk-nag 3 matches findings exactly: a bare `AwsSolutions-IAM5` covers none.
   */
  findings?: string[];
}

/** Rules that report one finding per wildcard: acknowledging them needs the findings. */
const MULTI_FINDING = new Set(['AwsSolutions-IAM5', 'AwsSolutions-IAM4']);

/**
 * Acknowledge findings on a construct and everything under it (CDK's
 * Validations match the closest acknowledging ancestor of the violating
 * resource, e.g. a role's `DefaultPolicy/Resource`); every one carries its reason.
 */
export function ack(construct: IConstruct, acks: Ack[]): void {
  for (const a of acks) {
    if (!a.reason.trim())
      throw new Error(`cdk-nag acknowledgement ${a.id} on ${construct.node.path}: no reason`);
    if (MULTI_FINDING.has(a.id) && !a.findings?.length)
      throw new Error(`cdk-nag acknowledgement ${a.id} on ${construct.node.path}: name its findings`);
    if (a.findings?.length)
      for (const f of a.findings)
        Validations.of(construct).acknowledge({ id: `${a.id}[${f}]`, reason: a.reason });
    else Validations.of(construct).acknowledge({ id: a.id, reason: a.reason });
  }
}

/** The `<LogicalId.Arn>` form cdk-nag prints for a resource's ARN in an IAM5 finding. */
export function arnRef(resource: IConstruct): string {
  const child = resource.node.defaultChild as CfnElement;
  return `<${Stack.of(child).getLogicalId(child)}.Arn>`;
}
