import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { sendIngest } from '../src/cli/remote.ts';
import { isAwsSdk, probeEnv, readProbe } from './helpers/module-probe.ts';
import { REPO, startServe, waitExit } from './helpers/process.ts';
import { tempDir } from './helpers/runtime.ts';

const ADMIN = `aisoc_lazy_sdk_test_${'x'.repeat(24)}`;
const FIXTURE = join(REPO, 'src/sources/cloudtrail/fixtures/records.json');
const run = promisify(execFile);

/**
 * The AWS SDK is loaded on first use (src/aws-sdk.ts): a server whose
 * config names no AWS action and no Bedrock analyst must never load it. The
 * probe preloaded into each process (test/helpers/module-probe.mjs) records
 * every package it loads, through ESM imports and CommonJS requires alike.
 */
describe('the AWS SDK is loaded only when something calls AWS', () => {
  const { dir, cleanup } = tempDir('aisoc-lazy-sdk-');
  afterAll(cleanup);

  it('`aisoc serve` with the default config loads no @aws-sdk or @smithy package, from start through ingestion to stop', async () => {
    const log = join(dir, 'serve-probe.jsonl');
    const server = await startServe(join(dir, 'serve'), { AISOC_ADMIN_KEY: ADMIN, ...probeEnv(log) });
    const headers = { authorization: `Bearer ${ADMIN}` };
    try {
      // A busy machine may make the server answer 503 (under pressure) first: sent again as a client would.
      const { stored } = await sendIngest(server.url, ADMIN, 'cloudtrail', readFileSync(FIXTURE));
      expect(stored).toBeGreaterThan(0);
      // Wait until the pipeline has processed what was stored (detection, correlation, triage queued).
      for (;;) {
        const p = (await (await fetch(`${server.url}/pipeline`, { headers })).json()) as {
          pending: number;
          processed: number;
        };
        if (p.pending === 0 && p.processed >= stored) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      server.child.kill('SIGTERM');
      expect(await waitExit(server.child)).toBe(0);
    }
    const records = readProbe(log);
    const own = records.filter((r) => r.pid === server.child.pid && r.thread === 0);
    // The probe ran in the server and saw packages both ways (pino, which the release bundle leaves outside,
    // is CommonJS imported from ESM, and requires its own files).
    expect(own.map((r) => r.via)).toEqual(expect.arrayContaining(['start', 'exit']));
    expect(own.filter((r) => r.via === 'import').map((r) => r.pkg)).toContain('pino');
    expect(own.filter((r) => r.via === 'require').map((r) => r.pkg)).toContain('pino');
    // No process or thread of the server loaded any part of the SDK.
    expect(records.filter((r) => isAwsSdk(r.pkg))).toEqual([]);
  }, 300_000);

  it('an AWS action loads its SDK client on its first call, over real HTTP, and keeps working after', async () => {
    const log = join(dir, 'action-probe.jsonl');
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'test/helpers/lazy-aws-action.ts')],
      {
        cwd: REPO,
        env: {
          ...process.env,
          ...probeEnv(log),
          AWS_ACCESS_KEY_ID: 'AKIAFAKELAZYSDKTEST1',
          AWS_SECRET_ACCESS_KEY: 'fake/lazy/sdk/secret/0123456789abcdefTEST',
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
          AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
        },
      },
    );
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!);
    // Importing the registry and creating the action loaded nothing of the SDK.
    expect(out.loaded.afterImport).toEqual([]);
    expect(out.loaded.afterCreate).toEqual([]);
    // The first call loaded the Secrets Manager client, and only what it needs.
    expect(out.loaded.afterFirstCall).toContain('@aws-sdk/client-secrets-manager');
    expect(out.loaded.afterFirstCall).not.toContain('@aws-sdk/client-ec2');
    expect(out.loaded.afterFirstCall).not.toContain('@aws-sdk/credential-providers');
    expect(out.results).toEqual([
      'dry_run',
      'succeeded',
      // The same idempotency key again: the version it created is there, so nothing is rotated twice.
      'skipped',
      // The SDK's own exception for an unknown secret, mapped by its name.
      'AISOC_ERR_ACTION_NOT_FOUND ResourceNotFoundException',
    ]);
    expect(out.requests).toEqual([
      'secretsmanager.DescribeSecret',
      'secretsmanager.DescribeSecret',
      'secretsmanager.RotateSecret',
      'secretsmanager.DescribeSecret',
      'secretsmanager.DescribeSecret',
    ]);
    expect(out.signed).toBe(true);
    // The probe agrees with what the script saw of itself.
    const records = readProbe(log);
    expect(records.filter((r) => r.via === 'exit')).not.toEqual([]);
    expect(records.filter((r) => isAwsSdk(r.pkg)).map((r) => r.pkg)).toContain(
      '@aws-sdk/client-secrets-manager',
    );
  }, 120_000);
});
