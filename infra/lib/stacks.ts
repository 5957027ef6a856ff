import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as aoss from 'aws-cdk-lib/aws-opensearchserverless';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { GSI1 } from '../../src/aws/records.ts';
import type { DeployConfig } from './config.ts';
import { AisocFunction } from './functions.ts';
import { ack, arnRef } from './nag.ts';

/** Names fixed so stacks refer to each other without cross-stack cycles. */
export const NAMES = {
  stateMachine: 'aisoc-triage',
  rulePrefix: 'aisoc-',
  collection: 'aisoc',
  index: 'aisoc-results',
} as const;

interface Common extends StackProps {
  config: DeployConfig;
  /** The content layer's directory (rules, models, playbooks, runbooks, knowledge index, configuration). */
  layerDir: string;
}

function contentLayer(scope: Construct, dir: string): lambda.LayerVersion {
  return new lambda.LayerVersion(scope, 'Content', {
    code: lambda.Code.fromAsset(dir),
    compatibleArchitectures: [lambda.Architecture.ARM_64],
    compatibleRuntimes: [lambda.Runtime.NODEJS_20_X],
    description: 'AI-SOC content: Sigma rules, models, playbooks, runbooks, knowledge index, configuration',
  });
}

/** The KMS key, the artefacts bucket, the approvals topic and the dead-letter queues. */
export class FoundationStack extends Stack {
  readonly key: kms.Key;
  readonly bucket: s3.Bucket;
  readonly topic: sns.Topic;
  readonly ingestDlq: sqs.Queue;
  readonly detectDlq: sqs.Queue;
  readonly triageDlq: sqs.Queue;

  constructor(scope: Construct, id: string, props: Common) {
    super(scope, id, props);
    const { account, region } = props.config;
    this.key = new kms.Key(this, 'Key', {
      alias: 'alias/aisoc',
      enableKeyRotation: true,
      description: 'AI-SOC: every store, stream, queue, topic and log group of the deployment',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Services that write with the key on their own behalf.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal(`logs.${region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${region}:${account}:*` },
        },
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    ack(accessLogs, [
      {
        id: 'AwsSolutions-S1',
        reason: 'This is the access-log bucket of the artefacts bucket: it does not log itself.',
      },
    ]);
    this.bucket = new s3.Bucket(this, 'Artefacts', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'artefacts/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.topic = new sns.Topic(this, 'Approvals', {
      displayName: 'AI-SOC approvals',
      masterKey: this.key,
      enforceSSL: true,
    });
    if (props.config.approverEmail)
      this.topic.addSubscription(new subs.EmailSubscription(props.config.approverEmail));
    const dlq = (name: string) => {
      const q = new sqs.Queue(this, name, {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: this.key,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      ack(q, [
        {
          id: 'AwsSolutions-SQS3',
          reason: 'This queue is itself a dead-letter queue: what lands here is kept for people.',
        },
      ]);
      return q;
    };
    this.ingestDlq = dlq('IngestDeadLetters');
    this.detectDlq = dlq('DetectDeadLetters');
    this.triageDlq = dlq('TriageDeadLetters');
    // EventBridge delivers what it could not hand to the normaliser here (rules named aisoc-*; no reference
    // to the rules, so this stack does not depend on the ingestion stack).
    this.ingestDlq.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.ingestDlq.queueArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': `arn:aws:events:${region}:${account}:rule/${NAMES.rulePrefix}*` },
        },
      }),
    );
  }
}

interface IngestionProps extends Common {
  foundation: FoundationStack;
}

/** EventBridge rules → the normaliser → the encrypted Kinesis stream. */
export class IngestionStack extends Stack {
  readonly stream: kinesis.Stream;
  readonly normaliser: AisocFunction;

  constructor(scope: Construct, id: string, props: IngestionProps) {
    super(scope, id, props);
    const f = props.foundation;
    this.stream = new kinesis.Stream(this, 'Events', {
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: f.key,
      shardCount: 1,
      retentionPeriod: Duration.hours(24),
    });
    ack(this.stream, [
      {
        id: 'AwsSolutions-KDS3',
        reason:
          'Every store of the deployment is encrypted with its one customer-managed key (rotated, one key policy to audit); the per-request KMS cost is in docs/aws.md.',
      },
    ]);
    this.normaliser = new AisocFunction(this, 'Normalise', {
      name: 'normalise',
      entry: 'normalise.ts',
      description: 'EventBridge event → the cloudtrail, guardduty or securityhub source → Kinesis',
      layer: contentLayer(this, props.layerDir),
      key: f.key,
      environment: {
        AISOC_STREAM_NAME: this.stream.streamName,
        AISOC_DEAD_LETTER_QUEUE_URL: f.ingestDlq.queueUrl,
      },
    });
    const role = this.normaliser.role;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kinesis:PutRecords', 'kinesis:PutRecord'],
        resources: [this.stream.streamArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [f.ingestDlq.queueArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [f.key.keyArn] }),
    );
    const fn = this.normaliser.fn;
    // Imported by ARN: the queue's policy (in the foundation stack) already lets rules named aisoc-* send.
    const dlq = sqs.Queue.fromQueueArn(this, 'IngestDlq', f.ingestDlq.queueArn);
    const target = () =>
      new targets.LambdaFunction(fn, {
        deadLetterQueue: dlq,
        retryAttempts: 4,
        maxEventAge: Duration.hours(2),
      });
    const rules: Array<[string, events.EventPattern]> = [
      ['CloudTrail', { detailType: ['AWS API Call via CloudTrail', 'AWS Console Sign In via CloudTrail'] }],
      ['GuardDuty', { source: ['aws.guardduty'], detailType: ['GuardDuty Finding'] }],
      ['SecurityHub', { source: ['aws.securityhub'], detailType: ['Security Hub Findings - Imported'] }],
    ];
    for (const [name, eventPattern] of rules) {
      new events.Rule(this, name, {
        ruleName: `${NAMES.rulePrefix}${name.toLowerCase()}`,
        description: `AI-SOC: ${name} events to the normaliser`,
        eventPattern,
        targets: [target()],
      });
    }
  }
}

interface DetectionProps extends Common {
  foundation: FoundationStack;
  ingestion: IngestionStack;
}

/** The Kinesis consumer: detect, correlate, start triage; alerts, incidents and correlation state in DynamoDB. */
export class DetectionStack extends Stack {
  readonly records: dynamodb.Table;
  readonly state: dynamodb.Table;
  /** Noise control's first-seen baselines of cloud calls (src/aws/baselines.ts); the detection function's alone. */
  readonly baselines: dynamodb.Table;
  readonly detector: AisocFunction;

  constructor(scope: Construct, id: string, props: DetectionProps) {
    super(scope, id, props);
    const f = props.foundation;
    const { account, region } = props.config;
    const table = (name: string, sort: boolean) =>
      new dynamodb.Table(this, name, {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        ...(sort ? { sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING } } : {}),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: f.key,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        timeToLiveAttribute: 'expires_at',
        removalPolicy: RemovalPolicy.RETAIN,
      });
    this.records = table('Records', false);
    this.records.addGlobalSecondaryIndex({
      indexName: GSI1,
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
    });
    this.state = table('CorrelationState', true);
    // TTL `expires_at` = a row's last call + detect.noise.forget_after_ms: DynamoDB forgets rows, no scan prunes.
    this.baselines = table('Baselines', false);
    const stateMachineArn = `arn:aws:states:${region}:${account}:stateMachine:${NAMES.stateMachine}`;
    this.detector = new AisocFunction(this, 'Detect', {
      name: 'detect',
      entry: 'detect.ts',
      memoryMb: 1024,
      description: 'Kinesis batch → Sigma, ML and upstream detectors → correlation → triage executions',
      layer: contentLayer(this, props.layerDir),
      key: f.key,
      environment: {
        AISOC_RECORDS_TABLE: this.records.tableName,
        AISOC_STATE_TABLE: this.state.tableName,
        AISOC_BASELINES_TABLE: this.baselines.tableName,
        AISOC_DEAD_LETTER_QUEUE_URL: f.detectDlq.queueUrl,
        AISOC_STATE_MACHINE_ARN: stateMachineArn,
        AISOC_EVENTS_TTL_DAYS: '30',
      },
    });
    const role = this.detector.role;
    grantRecords(role, this.records, [
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
    ]);
    grantRecords(role, this.state, [
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
    ]);
    // Read and written under the correlate lock (the state table's), in batches: no other call.
    grantRecords(role, this.baselines, ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem']);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachineArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [f.detectDlq.queueArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [f.key.keyArn] }),
    );
    this.detector.fn.addEventSource(
      new KinesisEventSource(props.ingestion.stream, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: 5,
        maxRecordAge: Duration.days(1),
        parallelizationFactor: 1,
        onFailure: new SqsDlq(sqs.Queue.fromQueueArn(this, 'DetectDlq', f.detectDlq.queueArn)),
      }),
    );
  }
}

/** Table actions on the table, and on its one secondary index (by name) when `index` is set. */
function grantRecords(role: iam.IRole, table: dynamodb.Table, actions: string[], index = false): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions,
      resources: [table.tableArn, ...(index ? [`${table.tableArn}/index/${GSI1}`] : [])],
    }),
  );
}

interface OrchestrationProps extends Common {
  foundation: FoundationStack;
  detection: DetectionStack;
}

/** The triage state machine, its functions, and the OpenSearch Serverless collection. */
export class OrchestrationStack extends Stack {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: Record<'score' | 'analyse' | 'remediate' | 'store' | 'index', AisocFunction>;

  constructor(scope: Construct, id: string, props: OrchestrationProps) {
    super(scope, id, props);
    const f = props.foundation;
    const d = props.detection;
    const c = props.config;
    const layer = contentLayer(this, props.layerDir);
    const records = { AISOC_RECORDS_TABLE: d.records.tableName, AISOC_EVENTS_TTL_DAYS: '30' };
    const make = (
      name: 'score' | 'analyse' | 'remediate' | 'store' | 'index',
      entry: string,
      description: string,
      environment: Record<string, string>,
      handler?: string,
      memoryMb?: number,
    ) =>
      new AisocFunction(this, `${name[0]!.toUpperCase()}${name.slice(1)}Fn`, {
        name,
        entry,
        description,
        layer,
        key: f.key,
        environment,
        ...(handler ? { handler } : {}),
        ...(memoryMb ? { memoryMb } : {}),
      });
    // OpenSearch Serverless: encryption, network and data-access policies, then the collection.
    const collectionName = NAMES.collection;
    const encryption = new aoss.CfnSecurityPolicy(this, 'CollectionEncryption', {
      name: `${collectionName}-enc`,
      type: 'encryption',
      policy: JSON.stringify({
        Rules: [{ ResourceType: 'collection', Resource: [`collection/${collectionName}`] }],
        AWSOwnedKey: false,
        KmsARN: f.key.keyArn,
      }),
    });
    const network = new aoss.CfnSecurityPolicy(this, 'CollectionNetwork', {
      name: `${collectionName}-net`,
      type: 'network',
      policy: JSON.stringify([
        {
          Rules: [{ ResourceType: 'collection', Resource: [`collection/${collectionName}`] }],
          // The functions run outside a VPC: the endpoint is reachable, and only the data-access policy's roles may use it.
          AllowFromPublic: true,
        },
      ]),
    });
    const collection = new aoss.CfnCollection(this, 'Collection', {
      name: collectionName,
      type: 'SEARCH',
      description: 'AI-SOC triage results, for investigation',
      standbyReplicas: 'DISABLED',
    });
    collection.addResourceDependency(encryption);
    collection.addResourceDependency(network);

    this.functions = {
      score: make('score', 'score.ts', 'Priority of the incident and its alerts', {
        ...records,
        AISOC_STATE_TABLE: d.state.tableName,
      }),
      analyse: make(
        'analyse',
        'analyse.ts',
        'The analyst (Bedrock, knowledge index) and the playbook plan',
        records,
        undefined,
        1024,
      ),
      remediate: make(
        'remediate',
        'remediate.ts',
        'The AWS response actions, approved or allow-listed only',
        {
          AISOC_REMEDIATION_ALLOW_LIST: c.remediationAllowList.join(','),
        },
      ),
      store: make('store', 'results.ts', 'The execution outcome to DynamoDB', records, 'storeHandler'),
      index: make(
        'index',
        'results.ts',
        'The execution outcome to OpenSearch Serverless',
        {
          AISOC_COLLECTION_ENDPOINT: collection.attrCollectionEndpoint,
          AISOC_INDEX_NAME: NAMES.index,
        },
        'indexHandler',
      ),
    };
    const fns = this.functions;
    const kmsUse = new iam.PolicyStatement({
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [f.key.keyArn],
    });
    grantRecords(fns.score.role, d.records, [
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
    ]);
    grantRecords(fns.score.role, d.state, ['dynamodb:PutItem', 'dynamodb:DeleteItem']);
    grantRecords(fns.analyse.role, d.records, [
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
    ]);
    grantRecords(fns.store.role, d.records, ['dynamodb:PutItem']);
    for (const fn of [fns.score, fns.analyse, fns.store]) fn.role.addToPrincipalPolicy(kmsUse);
    fns.analyse.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['bedrock:InvokeModel'],
        resources: [
          `arn:aws:bedrock:${c.region}::foundation-model/${c.bedrockModelId}`,
          `arn:aws:bedrock:${c.region}:${c.account}:inference-profile/${c.bedrockModelId}`,
        ],
      }),
    );
    fns.index.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['aoss:APIAccessAll'], resources: [collection.attrArn] }),
    );
    new aoss.CfnAccessPolicy(this, 'CollectionAccess', {
      name: `${collectionName}-data`,
      type: 'data',
      policy: JSON.stringify([
        {
          Rules: [
            {
              ResourceType: 'index',
              Resource: [`index/${collectionName}/${NAMES.index}`],
              Permission: [
                'aoss:CreateIndex',
                'aoss:DescribeIndex',
                'aoss:UpdateIndex',
                'aoss:WriteDocument',
              ],
            },
          ],
          Principal: [fns.index.role.roleArn],
        },
      ]),
    });
    remediationPolicy(fns.remediate.role, c);

    // The state machine.
    const deadLetter = new tasks.SqsSendMessage(this, 'DeadLetter', {
      queue: f.triageDlq,
      messageBody: sfn.TaskInput.fromObject({
        execution: sfn.JsonPath.executionId,
        subject: sfn.JsonPath.objectAt('$.subject'),
        error: sfn.JsonPath.objectAt('$.error'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
    }).next(
      new sfn.Fail(this, 'Failed', {
        error: 'AisocTriageFailed',
        cause: 'A state failed after its retries; see the dead-letter queue',
      }),
    );
    const invoke = (id: string, fn: AisocFunction, payload: Record<string, unknown>, resultPath: string) => {
      const t = new tasks.LambdaInvoke(this, id, {
        lambdaFunction: fn.fn,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject(payload),
        resultPath,
        retryOnServiceExceptions: true,
      });
      t.addRetry({
        errors: ['States.TaskFailed'],
        interval: Duration.seconds(2),
        maxAttempts: 2,
        backoffRate: 2,
      });
      return t;
    };
    const score = invoke('Score', fns.score, { subject: sfn.JsonPath.objectAt('$.subject') }, '$.score');
    const analyse = invoke(
      'Analyse',
      fns.analyse,
      { subject: sfn.JsonPath.objectAt('$.subject') },
      '$.analysis',
    );
    const remediate = invoke(
      'Remediate',
      fns.remediate,
      { execution: sfn.JsonPath.executionId, item: sfn.JsonPath.entirePayload },
      '$.result',
    );
    const outcome = { execution: sfn.JsonPath.executionId, state: sfn.JsonPath.entirePayload };
    const store = invoke('Store', fns.store, outcome, '$.stored');
    const index = invoke('Index', fns.index, outcome, '$.indexed');
    for (const t of [score, analyse, store, index]) t.addCatch(deadLetter, { resultPath: '$.error' });

    const requestApproval = new tasks.SnsPublish(this, 'RequestApproval', {
      topic: f.topic,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      subject: 'AI-SOC: a remediation waits for your approval',
      message: sfn.TaskInput.fromObject({
        task_token: sfn.JsonPath.taskToken,
        execution: sfn.JsonPath.executionId,
        subject: sfn.JsonPath.objectAt('$.subject'),
        action: sfn.JsonPath.objectAt('$.action'),
        // What the analyst said and who said it (Bedrock, or the built-in analyst and why): the person decides.
        verdict: sfn.JsonPath.objectAt('$.verdict'),
        how: 'aws stepfunctions send-task-success --task-token TOKEN --task-output \'{"approved":true,"approved_by":"you@example.com"}\' (or "approved":false)',
      }),
      resultPath: '$.approval',
      taskTimeout: sfn.Timeout.duration(Duration.hours(24)),
    });
    const denied = new sfn.Pass(this, 'NotApproved', {
      parameters: { status: 'denied', 'action.$': '$.action' },
    });
    const expired = new sfn.Pass(this, 'ApprovalExpired', {
      parameters: { status: 'expired', 'action.$': '$.action' },
    });
    requestApproval.addCatch(expired, { errors: ['States.Timeout'], resultPath: '$.error' });
    const approved = new sfn.Choice(this, 'Approved?')
      .when(
        sfn.Condition.and(
          sfn.Condition.booleanEquals('$.approval.approved', true),
          sfn.Condition.isString('$.approval.approved_by'),
        ),
        remediate,
      )
      .otherwise(denied);
    // The policy: an action runs without a person only when its step allows it (approval: auto) and the
    // remediation allow-list names it; everything else waits for a person.
    const allowListed = c.remediationAllowList.length
      ? sfn.Condition.or(...c.remediationAllowList.map((t) => sfn.Condition.stringEquals('$.action.type', t)))
      : sfn.Condition.stringEquals('$.action.type', '(the remediation allow-list is empty)');
    const policy = new sfn.Choice(this, 'Policy')
      .when(
        sfn.Condition.and(sfn.Condition.stringEquals('$.action.approval', 'auto'), allowListed),
        remediate,
      )
      .otherwise(requestApproval.next(approved));
    const remediations = new sfn.Map(this, 'Remediations', {
      itemsPath: '$.analysis.plan',
      itemSelector: {
        subject: sfn.JsonPath.objectAt('$.subject'),
        action: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
        // Read by the person asked and recorded with the remediation; never read by the Policy Choice.
        verdict: sfn.JsonPath.objectAt('$.analysis.verdict'),
      },
      maxConcurrency: 1,
      resultPath: '$.remediations',
    });
    remediations.itemProcessor(policy);
    remediations.addCatch(deadLetter, { resultPath: '$.error' });
    store.next(index).next(new sfn.Succeed(this, 'Done'));
    const definition = score.next(
      new sfn.Choice(this, 'AboveThreshold?')
        .when(
          sfn.Condition.numberGreaterThanEquals('$.score.priority', c.threshold),
          analyse.next(remediations).next(store),
        )
        .otherwise(store),
    );
    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      encryptionKey: f.key,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Triage', {
      stateMachineName: NAMES.stateMachine,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      timeout: Duration.days(2),
    });
    const invoked = Object.values(fns).map((fn) => `Resource::${arnRef(fn.fn)}:*`);
    ack(this.stateMachine, [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          "Generated by CDK's LambdaInvoke: each triage function and its versions and aliases (<fn>.Arn:*), no other function.",
        findings: invoked,
      },
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'Generated by CDK for the state machine: X-Ray PutTraceSegments/GetSampling* and CloudWatch Logs *LogDelivery/DescribeLogGroups support no resource-level permissions.',
        findings: ['Resource::*'],
      },
      {
        id: 'AwsSolutions-IAM5',
        reason:
          "Generated by CDK's grant on the deployment key (SNS topic and SQS queue encrypted with it): GenerateDataKey* is GenerateDataKey and GenerateDataKeyWithoutPlaintext, on this one key.",
        findings: ['Action::kms:GenerateDataKey*'],
      },
    ]);
  }
}

/**
 * The remediation role: only the calls of the enabled actions, on resources
 * tagged `aisoc:remediable=true` where the service supports tag conditions
 * (IAM users, security groups, instances and their interfaces, secrets);
 * WAF IP sets by their ARNs. Describe and List calls take no resource.
 */
function remediationPolicy(role: iam.Role, c: DeployConfig): void {
  const { account, region } = c;
  const tagged = { StringEquals: { 'aws:ResourceTag/aisoc:remediable': 'true' } };
  /** Each wildcard resource, acknowledged below with the reason it has one. */
  const findings = new Map<string, string>();
  const add = (s: iam.PolicyStatementProps, why: string) => {
    for (const r of s.resources ?? []) {
      const f = `Resource::${r}`;
      const before = findings.get(f);
      if (r.includes('*') && before !== why) findings.set(f, before ? `${before}; ${why}` : why);
    }
    role.addToPrincipalPolicy(new iam.PolicyStatement(s));
  };
  const users = `arn:aws:iam::${account}:user/*`;
  if (c.actions.includes('aws.iam.disable_access_key')) {
    add(
      { actions: ['iam:GetAccessKeyLastUsed'], resources: [users] },
      'a key is given by its id: the owning user is not known until GetAccessKeyLastUsed (read-only) names it',
    );
    add(
      { actions: ['iam:ListAccessKeys', 'iam:UpdateAccessKey'], resources: [users], conditions: tagged },
      'any user of the account, only when tagged aisoc:remediable=true',
    );
  }
  if (c.actions.some((a) => a.startsWith('aws.ec2.')))
    add(
      {
        actions: [
          'ec2:DescribeSecurityGroups',
          'ec2:DescribeSecurityGroupRules',
          'ec2:DescribeInstances',
          'ec2:DescribeNetworkInterfaces',
        ],
        resources: ['*'],
      },
      'EC2 Describe calls support no resource-level permissions (Resource must be *); they read only',
    );
  const taggedEc2 =
    'the resource is chosen per alert at run time: any of the account, only when tagged aisoc:remediable=true';
  if (c.actions.includes('aws.ec2.revoke_security_group_ingress'))
    add(
      {
        actions: ['ec2:RevokeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupIngress'],
        resources: [`arn:aws:ec2:${region}:${account}:security-group/*`],
        conditions: tagged,
      },
      taggedEc2,
    );
  if (c.actions.includes('aws.ec2.quarantine_instance'))
    add(
      {
        actions: ['ec2:ModifyNetworkInterfaceAttribute', 'ec2:CreateTags', 'ec2:DeleteTags'],
        resources: [
          `arn:aws:ec2:${region}:${account}:network-interface/*`,
          `arn:aws:ec2:${region}:${account}:instance/*`,
          `arn:aws:ec2:${region}:${account}:security-group/*`,
        ],
        conditions: tagged,
      },
      taggedEc2,
    );
  if (c.actions.includes('aws.secretsmanager.rotate_secret'))
    add(
      {
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:RotateSecret'],
        resources: [`arn:aws:secretsmanager:${region}:${account}:secret:*`],
        conditions: tagged,
      },
      'the secret is chosen per alert at run time: any of the account, only when tagged aisoc:remediable=true',
    );
  if (c.actions.includes('aws.wafv2.block_ip')) {
    const s = c.actionSettings['aws.wafv2.block_ip'] ?? {};
    const sets = ['ipv4_set', 'ipv6_set'].flatMap((k) => {
      const ref = s[k] as { name?: string; id?: string } | undefined;
      return ref?.name && ref.id
        ? [`arn:aws:wafv2:${region}:${account}:regional/ipset/${ref.name}/${ref.id}`]
        : [];
    });
    if (sets.length)
      add(
        { actions: ['wafv2:GetIPSet', 'wafv2:UpdateIPSet'], resources: sets },
        'the IP sets named in actionSettings',
      );
  }
  // One acknowledgement per finding, with the reasons of every statement that names it.
  for (const [finding, why] of findings)
    ack(role, [{ id: 'AwsSolutions-IAM5', reason: `Remediation: ${why}.`, findings: [finding] }]);
}
