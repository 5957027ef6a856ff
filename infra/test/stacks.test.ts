import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Synth, stateMachineDefinition, synthForTests } from './synth.ts';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: Record<string, unknown> };

function statements(t: Template): Array<{ policy: string; s: Statement }> {
  return Object.entries(t.findResources('AWS::IAM::Policy')).flatMap(([policy, r]) =>
    (r.Properties.PolicyDocument.Statement as Statement[]).map((s) => ({ policy, s })),
  );
}
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

const definition = stateMachineDefinition;

let s: Synth;
beforeAll(() => {
  process.env.CDK_VALIDATION = 'false';
  s = synthForTests();
});

describe('every resource is accounted for', () => {
  it('has exactly the resources these tests cover', () => {
    const count = (t: Template) => {
      const out: Record<string, number> = {};
      for (const r of Object.values(t.toJSON().Resources as Record<string, { Type: string }>))
        out[r.Type] = (out[r.Type] ?? 0) + 1;
      return out;
    };
    expect(count(s.templates.foundation)).toEqual({
      'AWS::KMS::Key': 1,
      'AWS::KMS::Alias': 1,
      'AWS::S3::Bucket': 2,
      'AWS::S3::BucketPolicy': 2,
      'AWS::SNS::Topic': 1,
      'AWS::SNS::TopicPolicy': 1,
      'AWS::SQS::Queue': 3,
      'AWS::SQS::QueuePolicy': 3,
    });
    expect(count(s.templates.ingestion)).toEqual({
      'AWS::Kinesis::Stream': 1,
      'AWS::Lambda::LayerVersion': 1,
      'AWS::Logs::LogGroup': 1,
      'AWS::IAM::Role': 1,
      'AWS::IAM::Policy': 1,
      'AWS::Lambda::Function': 1,
      'AWS::Events::Rule': 3,
      'AWS::Lambda::Permission': 3,
    });
    expect(count(s.templates.detection)).toEqual({
      'AWS::DynamoDB::Table': 3,
      'AWS::Lambda::LayerVersion': 1,
      'AWS::Logs::LogGroup': 1,
      'AWS::IAM::Role': 1,
      'AWS::IAM::Policy': 1,
      'AWS::Lambda::Function': 1,
      'AWS::Lambda::EventSourceMapping': 1,
    });
    expect(count(s.templates.orchestration)).toEqual({
      'AWS::Lambda::LayerVersion': 1,
      'AWS::OpenSearchServerless::SecurityPolicy': 2,
      'AWS::OpenSearchServerless::Collection': 1,
      'AWS::OpenSearchServerless::AccessPolicy': 1,
      'AWS::Logs::LogGroup': 6,
      'AWS::IAM::Role': 6,
      'AWS::IAM::Policy': 6,
      'AWS::Lambda::Function': 5,
      'AWS::StepFunctions::StateMachine': 1,
    });
  });
});

describe('foundation', () => {
  it('KMS key rotates and is retained', () => {
    s.templates.foundation.hasResource('AWS::KMS::Key', {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
    });
  });
  it('lets CloudWatch Logs use the key only for this account’s log groups', () => {
    s.templates.foundation.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'logs.eu-west-1.amazonaws.com' },
            Condition: {
              ArnLike: { 'kms:EncryptionContext:aws:logs:arn': 'arn:aws:logs:eu-west-1:111111111111:*' },
            },
          }),
        ]),
      },
    });
  });
  it('artefacts bucket: KMS, versioned, logged, public access blocked, TLS only', () => {
    const t = s.templates.foundation;
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() },
          },
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'artefacts/' }),
    });
    const block = {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    };
    for (const b of Object.values(t.findResources('AWS::S3::Bucket')))
      expect(b.Properties.PublicAccessBlockConfiguration).toEqual(block);
    const policies = Object.values(t.findResources('AWS::S3::BucketPolicy'));
    expect(policies).toHaveLength(2);
    for (const p of policies)
      expect(p.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
  });
  it('approvals topic is encrypted with the key and TLS only', () => {
    s.templates.foundation.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] },
    });
    s.templates.foundation.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ],
      },
    });
  });
  it('three dead-letter queues: KMS, 14 days, TLS only; EventBridge may send only from aisoc-* rules', () => {
    const t = s.templates.foundation;
    const queues = Object.values(t.findResources('AWS::SQS::Queue'));
    expect(queues).toHaveLength(3);
    for (const q of queues) {
      expect(q.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] });
      expect(q.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    }
    for (const p of Object.values(t.findResources('AWS::SQS::QueuePolicy')))
      expect(p.Properties.PolicyDocument.Statement[0]).toMatchObject({ Effect: 'Deny', Action: 'sqs:*' });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'sqs:SendMessage',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Resource: Match.anyValue(),
            Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:events:eu-west-1:111111111111:rule/aisoc-*' } },
          },
        ]),
      },
    });
  });
});

describe('ingestion', () => {
  it('Kinesis stream is KMS-encrypted with the deployment key', () => {
    s.templates.ingestion.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: Match.anyValue() },
      RetentionPeriodHours: 24,
    });
  });
  it('three rules (CloudTrail, GuardDuty, Security Hub) to the normaliser, each with retries and the DLQ', () => {
    const rules = Object.values(s.templates.ingestion.findResources('AWS::Events::Rule'));
    expect(rules.map((r) => r.Properties.Name).sort()).toEqual([
      'aisoc-cloudtrail',
      'aisoc-guardduty',
      'aisoc-securityhub',
    ]);
    for (const r of rules) {
      expect(r.Properties.Targets).toHaveLength(1);
      expect(r.Properties.Targets[0]).toMatchObject({
        DeadLetterConfig: { Arn: expect.anything() },
        RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 7200 },
      });
    }
    s.templates.ingestion.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.guardduty'], 'detail-type': ['GuardDuty Finding'] },
    });
  });
});

describe('detection', () => {
  it('the three tables (records, correlation state, baselines): KMS, TTL on expires_at, point-in-time recovery, retained', () => {
    const tables = s.templates.detection.findResources('AWS::DynamoDB::Table');
    expect(Object.keys(tables)).toHaveLength(3);
    for (const t of Object.values(tables)) {
      expect(t.DeletionPolicy).toBe('Retain');
      expect(t.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: expect.anything() },
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
    }
  });
  it('the baselines table: keyed by pk alone, the deployment key, its name in the detection function only', () => {
    const tables = s.templates.detection.findResources('AWS::DynamoDB::Table');
    const [id, table] = Object.entries(tables).find(([k]) => k.startsWith('Baselines'))!;
    expect(table.Properties).toMatchObject({
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::ImportValue': expect.stringMatching(/Key/) },
      },
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(table.Properties.GlobalSecondaryIndexes).toBeUndefined();
    const fns = Object.values(s.templates.detection.findResources('AWS::Lambda::Function'));
    expect(fns.map((f) => f.Properties.Environment.Variables.AISOC_BASELINES_TABLE)).toEqual([{ Ref: id }]);
    // No other stack names it: nothing exports it.
    for (const name of ['foundation', 'ingestion', 'orchestration'] as const)
      expect(JSON.stringify(s.templates[name].toJSON())).not.toMatch(/Baselines/);
  });
  it('the Kinesis consumer reports partial batch failures, bisects, and sends what fails to the DLQ', () => {
    s.templates.detection.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      BatchSize: 100,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
  });
});

describe('functions', () => {
  it('all seven: arm64, nodejs20.x, encrypted environment, content layer, own log group (KMS, 30 days)', () => {
    const all = Object.values(s.templates).flatMap((t) =>
      Object.values(t.findResources('AWS::Lambda::Function')),
    );
    expect(all).toHaveLength(7);
    for (const f of all) {
      expect(f.Properties).toMatchObject({
        Architectures: ['arm64'],
        Runtime: 'nodejs20.x',
        KmsKeyArn: expect.anything(),
        Layers: [expect.anything()],
        LoggingConfig: { LogGroup: expect.anything() },
      });
      expect(f.Properties.Environment.Variables).toMatchObject({ AISOC_HOME: '/opt/aisoc' });
    }
    for (const t of Object.values(s.templates))
      for (const g of Object.values(t.findResources('AWS::Logs::LogGroup')))
        expect(g.Properties).toMatchObject({ KmsKeyId: expect.anything(), RetentionInDays: 30 });
  });
});

describe('IAM: least privilege', () => {
  const all = () => Object.values(s.templates).flatMap((t) => statements(t));

  it('no statement allows every action or a whole service', () => {
    for (const { policy, s: st } of all())
      for (const a of actions(st)) expect(a, policy).not.toMatch(/^(\*|[a-z0-9-]+:\*)$/);
  });
  it('Resource * only for calls that take no resource (Describe, X-Ray, log delivery)', () => {
    const star = all()
      .filter(({ s: st }) => st.Resource === '*')
      .flatMap(({ s: st }) => actions(st));
    for (const a of star)
      expect(a).toMatch(
        /^(ec2:Describe|xray:|logs:(\w+LogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$)/,
      );
  });
  it('each function has only its own calls', () => {
    const byRole = (t: Template, prefix: string) =>
      statements(t)
        .filter(({ policy }) => policy.startsWith(prefix))
        .flatMap(({ s: st }) => actions(st))
        .sort();
    expect(byRole(s.templates.ingestion, 'NormaliseRole')).toEqual(
      [
        'kinesis:PutRecord',
        'kinesis:PutRecords',
        'kms:Decrypt',
        'kms:GenerateDataKey',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sqs:SendMessage',
      ].sort(),
    );
    expect(byRole(s.templates.orchestration, 'StoreFnRole')).toEqual(
      [
        'dynamodb:PutItem',
        'kms:Decrypt',
        'kms:GenerateDataKey',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
      ].sort(),
    );
    expect(byRole(s.templates.orchestration, 'IndexFnRole')).toEqual([
      'aoss:APIAccessAll',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
    ]);
    expect(byRole(s.templates.orchestration, 'AnalyseFnRole')).toContain('bedrock:InvokeModel');
    expect(byRole(s.templates.detection, 'DetectRole')).toContain('states:StartExecution');
  });
  it('the baselines table: BatchGetItem and BatchWriteItem by the detection function, on that table alone', () => {
    const tables = s.templates.detection.findResources('AWS::DynamoDB::Table');
    const id = Object.keys(tables).find((k) => k.startsWith('Baselines'))!;
    const arn = { 'Fn::GetAtt': [id, 'Arn'] };
    const on = Object.values(s.templates)
      .flatMap((t) => statements(t))
      .filter(({ s: st }) => JSON.stringify(st.Resource).includes(id));
    expect(on).toEqual([
      {
        policy: expect.stringMatching(/^DetectRole/),
        s: { Action: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'], Effect: 'Allow', Resource: arn },
      },
    ]);
  });
  it('Bedrock is the configured model only; StartExecution is the triage state machine only', () => {
    const bedrock = statements(s.templates.orchestration).find(({ s: st }) =>
      actions(st).includes('bedrock:InvokeModel'),
    );
    expect(bedrock?.s.Resource).toEqual([
      'arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0',
      'arn:aws:bedrock:eu-west-1:111111111111:inference-profile/anthropic.claude-3-5-haiku-20241022-v1:0',
    ]);
    const start = statements(s.templates.detection).find(({ s: st }) =>
      actions(st).includes('states:StartExecution'),
    );
    expect(start?.s.Resource).toBe('arn:aws:states:eu-west-1:111111111111:stateMachine:aisoc-triage');
  });
  it('the remediation role: every changing call is conditioned on the aisoc:remediable tag', () => {
    const rem = statements(s.templates.orchestration).filter(({ policy }) =>
      policy.startsWith('RemediateFnRole'),
    );
    const changing = rem.filter(({ s: st }) =>
      actions(st).some((a) => !/^(logs:|ec2:Describe|iam:GetAccessKeyLastUsed)/.test(a)),
    );
    expect(changing.length).toBeGreaterThanOrEqual(2);
    for (const { s: st } of changing)
      expect(st.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/aisoc:remediable': 'true' } });
    expect(rem.flatMap(({ s: st }) => actions(st))).toEqual(
      expect.arrayContaining([
        'iam:UpdateAccessKey',
        'ec2:RevokeSecurityGroupIngress',
        'ec2:ModifyNetworkInterfaceAttribute',
      ]),
    );
    // Actions not enabled in context are not granted.
    expect(rem.flatMap(({ s: st }) => actions(st))).not.toContain('secretsmanager:RotateSecret');
  });
  it('OpenSearch: only the index function may write, to the results index', () => {
    const access = Object.values(
      s.templates.orchestration.findResources('AWS::OpenSearchServerless::AccessPolicy'),
    );
    const text = JSON.stringify(access[0]!.Properties.Policy);
    expect(text).toContain('index/aisoc/aisoc-results');
    expect(text).toContain('IndexFnRole');
    expect(text).not.toContain('aoss:DeleteIndex');
    const enc = JSON.stringify(
      s.templates.orchestration.findResources('AWS::OpenSearchServerless::SecurityPolicy', {
        Properties: { Type: 'encryption' },
      }),
    );
    expect(enc).toContain('\\"AWSOwnedKey\\":false');
  });
});

describe('the state machine', () => {
  it('is Standard, traced, logs everything to its encrypted log group', () => {
    s.templates.orchestration.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'aisoc-triage',
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
  });
  it('has the states of the design, in order', () => {
    const d = definition(s.templates.orchestration);
    expect(d.StartAt).toBe('Score');
    expect(Object.keys(d.States).sort()).toEqual(
      [
        'Score',
        'AboveThreshold?',
        'Analyse',
        'Remediations',
        'Store',
        'Index',
        'Done',
        'DeadLetter',
        'Failed',
      ].sort(),
    );
    expect(d.States.Score).toMatchObject({ Type: 'Task', Next: 'AboveThreshold?', ResultPath: '$.score' });
    expect(d.States.Analyse).toMatchObject({ Next: 'Remediations' });
    expect(d.States.Remediations).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.analysis.plan',
      MaxConcurrency: 1,
      Next: 'Store',
    });
    const inner = (
      d.States.Remediations as { ItemProcessor: { StartAt: string; States: Record<string, unknown> } }
    ).ItemProcessor;
    expect(inner.StartAt).toBe('Policy');
    expect(Object.keys(inner.States).sort()).toEqual([
      'ApprovalExpired',
      'Approved?',
      'NotApproved',
      'Policy',
      'Remediate',
      'RequestApproval',
    ]);
    expect(inner.States.RequestApproval).toMatchObject({
      Resource: expect.stringContaining(':states:::sns:publish.waitForTaskToken'),
      TimeoutSeconds: 86400,
    });
    expect(d.States.Store).toMatchObject({ Next: 'Index' });
    expect(d.States.Index).toMatchObject({ Next: 'Done' });
    expect(d.States.DeadLetter).toMatchObject({
      Resource: expect.stringContaining(':states:::sqs:sendMessage'),
      Next: 'Failed',
    });
    for (const name of ['Score', 'Analyse', 'Store', 'Index', 'Remediations'])
      expect(d.States[name]!.Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'DeadLetter' },
      ]);
    for (const name of ['Score', 'Analyse', 'Store', 'Index'])
      expect(d.States[name]!.Retry).toContainEqual({
        ErrorEquals: ['States.TaskFailed'],
        IntervalSeconds: 2,
        MaxAttempts: 2,
        BackoffRate: 2,
      });
  });
  it('the threshold is 80 by default', () => {
    expect(definition(s.templates.orchestration).States['AboveThreshold?']).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.score.priority', NumericGreaterThanEquals: 80, Next: 'Analyse' }],
      Default: 'Store',
    });
  });
  it('the threshold and the allow-list come from context', () => {
    const other = synthForTests({
      'aisoc:threshold': 65,
      'aisoc:remediationAllowList': ['aws.ec2.quarantine_instance'],
    });
    const d = definition(other.templates.orchestration);
    expect(
      (d.States['AboveThreshold?'] as { Choices: Array<Record<string, unknown>> }).Choices[0],
    ).toMatchObject({
      NumericGreaterThanEquals: 65,
    });
    const policy = (
      d.States.Remediations as { ItemProcessor: { States: Record<string, { Choices: unknown[] }> } }
    ).ItemProcessor.States.Policy!;
    expect(policy.Choices[0]).toEqual({
      And: [
        { Variable: '$.action.approval', StringEquals: 'auto' },
        { Or: [{ Variable: '$.action.type', StringEquals: 'aws.ec2.quarantine_instance' }] },
      ],
      Next: 'Remediate',
    });
  });
  it('bad context is refused with the key named', () => {
    expect(() => synthForTests({ 'aisoc:threshold': 101 })).toThrow(/aisoc:threshold/);
    expect(() =>
      synthForTests({
        'aisoc:remediationAllowList': ['aws.wafv2.block_ip'],
        'aisoc:actions': ['aws.iam.disable_access_key'],
      }),
    ).toThrow(/aisoc:remediationAllowList/);
  });
});
