import aslValidator from 'asl-validator';
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { stateMachineDefinition, synthForTests } from './synth.ts';

describe('cdk-nag (AwsSolutions) and the CloudFormation validation', () => {
  it('the app synthesises with every finding acknowledged, each with its reason', () => {
    delete process.env.CDK_VALIDATION;
    const s = synthForTests({}, { nag: true });
    // Each acknowledgement is metadata on its construct: none without a reason.
    const acks = s.app.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules'))
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    expect(acks.length).toBeGreaterThan(10);
    for (const [id, reason] of acks) expect(reason.length, id).toBeGreaterThan(20);
    expect(acks.map(([id]) => id)).toContain('Annotation::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]');
  });

  it('an unacknowledged wildcard fails synth (the checks do run)', () => {
    process.env.CDK_VALIDATION = 'false';
    expect(() =>
      synthForTests(
        {},
        {
          nag: true,
          extra: (app) => {
            const stack = new Stack(app, 'Wild', { env: { account: '111111111111', region: 'eu-west-1' } });
            const role = new iam.Role(stack, 'R', {
              assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
            });
            role.addToPrincipalPolicy(
              new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }),
            );
          },
        },
      ),
    ).toThrow(/AwsSolutions-IAM5\[Resource::\*\]/);
  });
});

describe('the synthesised state machine is valid ASL', () => {
  it('passes asl-validator (schemas, paths, ARNs)', () => {
    process.env.CDK_VALIDATION = 'false';
    for (const context of [
      {},
      { 'aisoc:remediationAllowList': ['aws.ec2.quarantine_instance'], 'aisoc:threshold': 50 },
    ]) {
      const d = stateMachineDefinition(synthForTests(context).templates.orchestration);
      const { isValid, errorsText } = aslValidator(d);
      expect(isValid, errorsText('\n')).toBe(true);
    }
  });
  it('and the validator does reject a broken one', () => {
    const d = stateMachineDefinition(synthForTests().templates.orchestration);
    (d.States.Score as Record<string, unknown>).Next = 'NoSuchState';
    expect(aslValidator(d).isValid).toBe(false);
  });
});
