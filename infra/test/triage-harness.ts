import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { GetAccessKeyLastUsedCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { analyseDeps, createAnalyseHandler } from '../../src/aws/analyse.ts';
import { DynamoBaselines } from '../../src/aws/baselines.ts';
import { createDetectHandler } from '../../src/aws/detect.ts';
import { functionConfig } from '../../src/aws/env.ts';
import { DynamoRecords } from '../../src/aws/records.ts';
import { createRemediateHandler } from '../../src/aws/remediate.ts';
import { createIndexHandler, createStoreHandler } from '../../src/aws/results.ts';
import { createScoreHandler } from '../../src/aws/score.ts';
import { CorrelationState } from '../../src/aws/state.ts';
import { Correlator } from '../../src/correlate/index.ts';
import { buildDetectors } from '../../src/detect/index.ts';
import { NoiseControl } from '../../src/detect/noise/persisted.ts';
import type { ModelAnswer } from '../../src/schema/verdict.ts';
import { SourceRegistry } from '../../src/sources/index.ts';
import { normaliseRecords } from '../../src/sources/normalise.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { cloudTrailRecords, kinesisBatch } from '../../test/helpers/aws-events.ts';
import { memoryDynamo } from '../../test/helpers/memory-dynamo.ts';
import { type DeployConfig, productConfig } from '../lib/config.ts';
import { knowledgeIndex } from '../lib/content.ts';
import { AslInterpreter } from './asl-interpreter.ts';
import { type AslDefinition, FUNCTION_ARN_PREFIX } from './synth.ts';

export const NOW = Date.parse('2024-08-02T09:00:00Z');
export const MACHINE = 'arn:aws:states:eu-west-1:111111111111:stateMachine:aisoc-triage';
export const ACCESS_KEY_OWNER = 'stratus-user';

/** The SDK clients of the whole deployment, mocked once for the file (aws-sdk-client-mock). */
export const mocks = {
  sfn: mockClient(SFNClient),
  sqs: mockClient(SQSClient),
  iam: mockClient(IAMClient),
  bedrock: mockClient(BedrockRuntimeClient),
};

/** The Converse requests the analyse function sent, in order. */
export const converseInputs = (): ConverseCommandInput[] =>
  mocks.bedrock.commandCalls(ConverseCommand).map((c) => c.args[0].input);

/** The first ATT&CK technique the prompt's retrieved context lists (the knowledge index's answer). */
export function retrievedTechnique(prompt: string): string | undefined {
  return /## ATT&CK context \(retrieved\)\n\n- (T\d{4}(?:\.\d{3})?) /.exec(prompt)?.[1];
}

/**
 * What Bedrock's Converse API returns when Claude calls the verdict tool
 * (the shape of a real response: the tool-use block, stop reason, usage and
 * latency), the verdict citing the prompt's first record and its
 * `cloud.operation`, and the first technique the retrieval put in the
 * prompt. `answer` changes fields of the verdict.
 */
export function converseReply(
  input: ConverseCommandInput,
  answer: Partial<ModelAnswer> = {},
): ConverseCommandOutput {
  const prompt = input.messages?.[0]?.content?.[0]?.text ?? '';
  const technique = retrievedTechnique(prompt);
  const verdict: ModelAnswer = {
    severity: 'high',
    category: 'credential_access',
    confidence: 0.9,
    summary: 'An access key of the identity was used to read credentials it does not normally read.',
    detailed_analysis:
      'The calls come from one identity, with a tool that is not the account usual tooling, against secrets and parameters.',
    potential_impact: 'The secrets read give the actor further access.',
    is_true_positive: true,
    false_positive_reason: null,
    iocs: [],
    mitre_techniques: technique ? [technique] : [],
    recommendations: [{ action: 'Disable the access key', priority: 1, rationale: 'It made the calls.' }],
    investigation_priority: 1,
    evidence: [{ claim: 'The identity called the API.', event_ids: ['R1'], fields: ['cloud.operation'] }],
    ...answer,
  };
  return {
    $metadata: { httpStatusCode: 200, requestId: 'b1f6e7a4-0c55-4a3e-9d0e-6f1f4a6c2d11', attempts: 1 },
    output: {
      message: {
        role: 'assistant',
        content: [
          {
            toolUse: { toolUseId: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', name: 'triage_verdict', input: verdict },
          },
        ],
      },
    },
    stopReason: 'tool_use',
    usage: {
      inputTokens: Math.ceil(prompt.length / 4),
      outputTokens: 412,
      totalTokens: Math.ceil(prompt.length / 4) + 412,
    },
    metrics: { latencyMs: 2310 },
  };
}

/** The access keys the ingested events used: IAM (mocked) lists them as the owner's, Active. */
let keys: string[] = [];

export function resetMocks(): void {
  keys = [];
  for (const m of Object.values(mocks)) m.reset();
  mocks.sfn.on(StartExecutionCommand).resolves({ executionArn: `${MACHINE}:x`, startDate: new Date(NOW) });
  mocks.sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
  mocks.iam
    .on(GetAccessKeyLastUsedCommand)
    .callsFake(() => ({ UserName: ACCESS_KEY_OWNER, AccessKeyLastUsed: {} }));
  mocks.iam.on(ListAccessKeysCommand).callsFake(() => ({
    AccessKeyMetadata: keys.map((k) => ({ AccessKeyId: k, Status: 'Active', UserName: ACCESS_KEY_OWNER })),
  }));
  mocks.bedrock.on(ConverseCommand).callsFake((input: ConverseCommandInput) => converseReply(input));
}

/** The product configuration the CDK app writes into the content layer, read as the functions read it. */
function layerConfig(deploy: DeployConfig) {
  const file = join(mkdtempSync(join(tmpdir(), 'aisoc-harness-')), 'aisoc.json');
  writeFileSync(file, JSON.stringify(productConfig(deploy)));
  return functionConfig({ AISOC_CONFIG: file });
}

/**
 * The deployment in one process: the real handlers of src/aws (detect with
 * noise control, score, analyse with the Bedrock Converse backend over the
 * packaged knowledge index, remediate in dry run, store, index), built from
 * the configuration the CDK app writes for `deploy` (its context), over one
 * in-memory DynamoDB, bound to the synthesised state machine's Task states
 * by their function's logical id. Bedrock Runtime is aws-sdk-client-mock
 * (`mocks.bedrock`, answering {@link converseReply} unless a test says
 * otherwise); the LLM backend's back-off sleeps are recorded, not slept.
 */
export async function deployment(definition: AslDefinition, deploy: DeployConfig) {
  const config = layerConfig(deploy);
  const logger = silentLogger();
  const metrics = createMetrics({ defaultMetrics: false });
  const db = memoryDynamo();
  const records = new DynamoRecords({ db: db.client, table: 'records', eventsTtlDays: 30, now: () => NOW });
  const state = new CorrelationState({ db: db.client, table: 'state', now: () => NOW });
  const detectors = await buildDetectors(config.detect, { logger, metrics, detect: config.detect });
  const detect = createDetectHandler({
    records,
    state,
    sqs: new SQSClient({ region: 'eu-west-1' }),
    sfn: new SFNClient({ region: 'eu-west-1' }),
    detectors,
    correlator: new Correlator({
      dedupeWindowMs: config.correlate.dedupe_window_ms,
      groupWindowMs: config.correlate.group_window_ms,
      groupBy: config.correlate.group_by,
    }),
    windows: detectors.flatMap((d) => (d.windowed ? [d.windowed.windows()] : [])),
    deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/111111111111/detect-dlq',
    stateMachineArn: MACHINE,
    logger,
    holder: () => 'detect',
    leaseMs: 300_000,
    lockWaitMs: 1000,
    noise: {
      control: new NoiseControl(config.detect.noise),
      baselines: new DynamoBaselines({
        db: db.client,
        table: 'baselines',
        forgetAfterMs: config.detect.noise.forget_after_ms,
      }),
    },
  });
  const llmSleeps: number[] = [];
  const analyse = createAnalyseHandler(
    await analyseDeps(config, {
      records,
      knowledgeIndex: new Uint8Array(readFileSync(knowledgeIndex(deploy))),
      logger,
      metrics,
      clock: {
        now: () => Date.now(),
        sleep: async (ms) => {
          llmSleeps.push(ms);
        },
        random: () => 0.5,
      },
    }),
  );
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {
    ScoreFn: createScoreHandler({ records, state, assets: config.analyst.assets, now: () => new Date(NOW) }),
    AnalyseFn: analyse,
    RemediateFn: createRemediateHandler({
      actions: config.respond.actions,
      allowList: deploy.remediationAllowList,
      dryRun: config.respond.dry_run,
      logger,
      metrics,
    }),
    StoreFn: createStoreHandler({ records, now: () => new Date(NOW) }),
    IndexFn: createIndexHandler({
      endpoint: 'https://collection.eu-west-1.aoss.amazonaws.com',
      index: 'aisoc-results',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 's' },
      fetch: (async (url: URL | string, init?: RequestInit) => {
        indexed.push({ url: String(url), body: JSON.parse(String(init?.body)) });
        return new Response('{"result":"created"}', { status: 201 });
      }) as typeof fetch,
      now: () => new Date(NOW),
    }),
  };
  const indexed: Array<{ url: string; body: Record<string, unknown> }> = [];
  const calls: Record<string, number> = {};
  const lambdas: Record<string, (p: unknown) => Promise<unknown>> = {};
  for (const s of allTaskResources(definition)) {
    if (!s.startsWith(FUNCTION_ARN_PREFIX)) continue;
    const logicalId = s.slice(FUNCTION_ARN_PREFIX.length);
    const key = Object.keys(handlers).find((k) => logicalId.startsWith(k));
    if (!key) throw new Error(`no handler for ${logicalId}`);
    lambdas[s] = (p) => {
      calls[key] = (calls[key] ?? 0) + 1;
      return handlers[key]!(p);
    };
  }
  const approvals: Array<{ token: string; message: Record<string, unknown> }> = [];
  const approvalWaiters: Array<(token: string) => void> = [];
  /** Resolves with the next approval request's token (the SNS message a person would get). */
  const nextApproval = () => new Promise<string>((resolve) => approvalWaiters.push(resolve));
  const sleeps: number[] = [];
  const sqs = new SQSClient({ region: 'eu-west-1' });
  const interpreter = new AslInterpreter(definition, {
    lambdas,
    sqsSendMessage: async (p) =>
      sqs.send(new SendMessageCommand({ QueueUrl: p.QueueUrl, MessageBody: JSON.stringify(p.MessageBody) })),
    snsPublishWaitForTaskToken: async (p, token) => {
      approvals.push({ token, message: p.Message as Record<string, unknown> });
      for (const w of approvalWaiters.splice(0)) w(token);
    },
    sleep: async (s) => {
      sleeps.push(s);
    },
  });

  /** CloudTrail records through the normaliser's source and the detection function; the executions it starts. */
  async function ingest(...files: string[]) {
    const raw = files.flatMap((f) => cloudTrailRecords(f));
    const source = new SourceRegistry({}, logger).get('cloudtrail');
    const events = normaliseRecords(
      source,
      raw.map((value) => ({ value })),
      new Date(NOW).toISOString(),
    ).events;
    for (const e of events) for (const o of e.observables) if (o.type === 'access_key') keys.push(o.value);
    const before = mocks.sfn.commandCalls(StartExecutionCommand).length;
    const out = await detect(kinesisBatch(events.map((e) => JSON.stringify(e))));
    if (out.batchItemFailures.length) throw new Error('detection failed the batch');
    return mocks.sfn
      .commandCalls(StartExecutionCommand)
      .slice(before)
      .map((c) => ({ name: c.args[0].input.name!, input: JSON.parse(c.args[0].input.input!) as unknown }));
  }

  /** CloudTrail records of these files, each changed by `edit` first (an attacker's text in a field, say). */
  async function ingestEdited(
    edit: (record: Record<string, unknown>, i: number) => void,
    ...files: string[]
  ) {
    const dir = mkdtempSync(join(tmpdir(), 'aisoc-harness-records-'));
    const out = files.map((f, n) => {
      const records = cloudTrailRecords(f);
      for (const [i, r] of records.entries()) edit(r, i);
      const path = join(dir, `${n}.json`);
      writeFileSync(path, JSON.stringify(records));
      return path;
    });
    return ingest(...out);
  }

  return {
    db,
    config,
    interpreter,
    handlers,
    calls,
    approvals,
    nextApproval,
    sleeps,
    llmSleeps,
    indexed,
    ingest,
    ingestEdited,
    records,
  };
}

function allTaskResources(d: { States: Record<string, Record<string, unknown>> }): string[] {
  return Object.values(d.States).flatMap((s) => [
    ...(typeof s.Resource === 'string' ? [s.Resource] : []),
    ...(s.ItemProcessor
      ? allTaskResources(s.ItemProcessor as { States: Record<string, Record<string, unknown>> })
      : []),
  ]);
}
