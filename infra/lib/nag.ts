import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** One acknowledged cdk-nag finding: a rule id, or `Rule[finding]` for rules that report several, and why. */
export interface Ack {
  id: string;
  reason: string;
  /** Finding ids of a multi-finding rule (IAM5), each acknowledged as `id[finding]`. */
  findings?: string[];
}

/** Acknowledge findings on a construct (cdk-nag 3 uses CDK's Validations); every one carries its reason. */
export function ack(construct: IConstruct, acks: Ack[], _children?: boolean): void {
  for (const a of acks) {
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
