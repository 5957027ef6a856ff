import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FUNCTION_TIMEOUT_S, type FunctionName } from '../../src/aws/timeouts.ts';
import { REPO } from './content.ts';
import { ack, arnRef } from './nag.ts';

export interface AisocFunctionProps {
  name: FunctionName;
  /** The module under src/aws/ and its exported handler. */
  entry: string;
  handler?: string;
  memoryMb?: number;
  layer: lambda.ILayerVersion;
  key: kms.IKey;
  environment?: Record<string, string>;
  description: string;
}

/**
 * One of the product's Lambda functions: its handler in src/aws/ bundled
 * by esbuild (ESM, Node 20, arm64), the content layer at /opt/aisoc, a
 * role of its own that starts with nothing but its log group, and a log
 * group encrypted with the deployment's key.
 */
export class AisocFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, p: AisocFunctionProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_MONTH,
      encryptionKey: p.key,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `aisoc ${p.name}: its log group and what its handler calls, nothing else`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${logGroup.logGroupArn}:log-stream:*`],
      }),
    );
    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(REPO, 'src', 'aws', p.entry),
      handler: p.handler ?? 'handler',
      description: p.description,
      runtime: lambda.Runtime.NODEJS_20_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: p.memoryMb ?? 512,
      timeout: Duration.seconds(FUNCTION_TIMEOUT_S[p.name]),
      role: this.role,
      logGroup,
      layers: [p.layer],
      environmentEncryption: p.key,
      environment: {
        AISOC_HOME: '/opt/aisoc',
        AISOC_CONFIG: '/opt/aisoc/aisoc.json',
        NODE_OPTIONS: '--enable-source-maps',
        ...p.environment,
      },
      projectRoot: REPO,
      depsLockFilePath: join(REPO, 'package-lock.json'),
      bundling: {
        format: OutputFormat.ESM,
        target: 'node20',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        // The product reads its own files through import.meta.url; an ESM bundle keeps it, and require for CJS deps.
        banner: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
        // Reached only by paths the functions never take (the embedded database, worker-thread builds).
        externalModules: ['@electric-sql/pglite', 'pg-native', 'esbuild', 'tsx'],
      },
    });
    ack(this.role, [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          "Log streams are created at run time with names Lambda chooses: the statement names this function's own log group and any stream in it.",
        findings: [`Resource::${arnRef(logGroup)}:log-stream:*`],
      },
    ]);
    ack(this.fn, [
      {
        id: 'AwsSolutions-L1',
        reason: 'The product targets Node 20 (package.json engines); the runtime is pinned to it on purpose.',
      },
      {
        // cfn-lint's deprecation notice (nodejs20.x deprecated 2026-04-30; creation disabled 2027-07-29).
        id: 'CloudFormation-Validate::W2531',
        reason:
          'Node 20 is the runtime the product supports (package.json engines); moving to nodejs22.x/24.x is a product decision, tracked in docs/aws.md.',
      },
    ]);
  }
}
