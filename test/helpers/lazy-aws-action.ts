/**
 * Run by test/aws-sdk-lazy.test.ts in a process of its own, so that its
 * module cache starts empty: it imports the action registry, creates
 * `aws.secretsmanager.rotate_secret` against a local Secrets Manager (AWS
 * JSON 1.1 over HTTP, answered here), calls it four times, and prints one
 * JSON line: which SDK packages were loaded after each step, the results,
 * the operations the endpoint received, and whether every request was
 * SigV4-signed with the environment's credentials.
 */
import { createRequire } from 'node:module';
import { AisocError } from '../../src/errors.ts';
import { actionFactory } from '../../src/respond/actions/index.ts';
import { type Received, startReceiver } from '../../src/respond/actions/testing/servers.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { isAwsSdk, readProbe } from './module-probe.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db/app-AbCdEf';

/** SDK packages in this process: required (require.cache) or imported (the probe's log). */
function loadedSdk(): string[] {
  const pkgs = new Set<string>();
  for (const file of Object.keys(createRequire(import.meta.url).cache)) {
    const m = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (m && isAwsSdk(m[1]!)) pkgs.add(m[1]!);
  }
  const log = process.env.AISOC_MODULE_PROBE;
  if (log) for (const r of readProbe(log)) if (r.pid === process.pid && isAwsSdk(r.pkg)) pkgs.add(r.pkg!);
  return [...pkgs].sort();
}

const loaded: Record<string, string[]> = { afterImport: loadedSdk() };

const versions: Record<string, string[]> = { 'v-1': ['AWSCURRENT'] };
const endpoint = await startReceiver((req: Received, res) => {
  const input = JSON.parse(req.body) as { SecretId?: string; ClientRequestToken?: string };
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify(body));
  };
  if (input.SecretId !== 'prod/db/app')
    return reply(400, {
      __type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
  switch (req.headers['x-amz-target']) {
    case 'secretsmanager.DescribeSecret':
      return reply(200, {
        ARN,
        Name: 'prod/db/app',
        RotationEnabled: true,
        RotationLambdaARN: 'arn:aws:lambda:eu-west-1:111122223333:function:Rotate',
        VersionIdsToStages: versions,
      });
    case 'secretsmanager.RotateSecret':
      versions[input.ClientRequestToken!] = ['AWSPENDING'];
      return reply(200, { ARN, Name: 'prod/db/app', VersionId: input.ClientRequestToken });
    default:
      return reply(400, { __type: 'UnknownOperationException', message: 'unknown operation' });
  }
});

const results: string[] = [];
try {
  const action = actionFactory('aws.secretsmanager.rotate_secret').create(
    { region: 'eu-west-1', endpoint: endpoint.url, retry: { max_attempts: 1 } },
    { logger: silentLogger() },
  );
  loaded.afterCreate = loadedSdk();
  const input = { secret_id: 'prod/db/app' };
  results.push((await action.execute(input, { dryRun: true, idempotencyKey: 'k1' })).status);
  loaded.afterFirstCall = loadedSdk();
  results.push((await action.execute(input, { dryRun: false, idempotencyKey: 'k1' })).status);
  results.push((await action.execute(input, { dryRun: false, idempotencyKey: 'k1' })).status);
  const err = await action
    .execute({ secret_id: 'prod/db/missing' }, { dryRun: false, idempotencyKey: 'k2' })
    .catch((e: unknown) => e);
  results.push(
    err instanceof AisocError ? `${err.code} ${String(err.details?.aws_error)}` : `unexpected: ${err}`,
  );
} finally {
  await endpoint.close();
}

const signed = endpoint.received.every((r) =>
  String(r.headers.authorization).startsWith('AWS4-HMAC-SHA256 Credential=AKIAFAKELAZYSDKTEST1/'),
);
console.log(
  JSON.stringify({
    loaded,
    results,
    requests: endpoint.received.map((r) => r.headers['x-amz-target']),
    signed,
  }),
);
