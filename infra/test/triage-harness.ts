import { join } from 'node:path';
import { GetAccessKeyLastUsedCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { AnalystService } from '../../src/analyst/service.ts';
import { loadConfig } from '../../src/app-config.ts';
import { createAnalyseHandler } from '../../src/aws/analyse.ts';
import { createDetectHandler } from '../../src/aws/detect.ts';
import { DynamoRecords } from '../../src/aws/records.ts';
import { createRemediateHandler } from '../../src/aws/remediate.ts';
import { createIndexHandler, createStoreHandler } from '../../src/aws/results.ts';
import { createScoreHandler } from '../../src/aws/score.ts';
import { CorrelationState } from '../../src/aws/state.ts';
import { CONTENT_DIR } from '../../src/content.ts';
import { Correlator } from '../../src/correlate/index.ts';
import { buildDetectors } from '../../src/detect/index.ts';
import { ACTION_FACTORIES } from '../../src/respond/actions/index.ts';
import { loadPlaybooks } from '../../src/respond/playbooks/load.ts';
import { actionInfos } from '../../src/respond/setup.ts';
import { SourceRegistry } from '../../src/sources/index.ts';
import { normaliseRecords } from '../../src/sources/normalise.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { cloudTrailRecords, kinesisBatch } from '../../test/helpers/aws-events.ts';
import { memoryDynamo } from '../../test/helpers/memory-dynamo.ts';
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
};

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
}

/**
 * The deployment in one process: the real handlers of src/aws (detect,
 * score, analyse with the built-in analyst, remediate in dry run, store,
 * index), over one in-memory DynamoDB, bound to the synthesised state
 * machine's Task states by their function's logical id.
 */
export async function deployment(
  definition: AslDefinition,
  opts: { actions?: string[]; allowList?: string[] } = {},
) {
  const config = loadConfig({ env: {} });
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
  });
  const actions = opts.actions ?? ['aws.iam.disable_access_key'];
  const actionSettings = Object.fromEntries(actions.map((a) => [a, { region: 'eu-west-1' }]));
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {
    ScoreFn: createScoreHandler({ records, state, assets: config.analyst.assets, now: () => new Date(NOW) }),
    AnalyseFn: createAnalyseHandler({
      records,
      analyst: new AnalystService({
        store: records,
        llm: null,
        assets: config.analyst.assets,
        metrics,
        logger,
      }),
      playbooks: loadPlaybooks([join(CONTENT_DIR, 'playbooks')], actionInfos(ACTION_FACTORIES)).playbooks,
      configured: actions,
      assets: config.analyst.assets,
      threshold: 80,
      dryRun: true,
      logger,
    }),
    RemediateFn: createRemediateHandler({
      actions: actionSettings,
      allowList: opts.allowList ?? [],
      dryRun: true,
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

  return { db, interpreter, handlers, calls, approvals, nextApproval, sleeps, indexed, ingest, records };
}

function allTaskResources(d: { States: Record<string, Record<string, unknown>> }): string[] {
  return Object.values(d.States).flatMap((s) => [
    ...(typeof s.Resource === 'string' ? [s.Resource] : []),
    ...(s.ItemProcessor
      ? allTaskResources(s.ItemProcessor as { States: Record<string, Record<string, unknown>> })
      : []),
  ]);
}
