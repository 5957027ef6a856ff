import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aisoc } from './helpers/cli.ts';
import { REPO, startServe, waitExit } from './helpers/process.ts';
import { tempDir } from './helpers/runtime.ts';

const FIXTURE = join(REPO, 'src/sources/cloudtrail/fixtures/records.json');

describe('command line', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('creates, lists and revokes keys in the local data directory', async () => {
    const created = await aisoc([
      '--data-dir',
      dir,
      'keys',
      'create',
      '--scope',
      'ingest,read',
      '--name',
      'cli-key',
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const { key, record } = JSON.parse(created.stdout);
    expect(key).toMatch(/^aisoc_/);
    expect(record.scopes).toEqual(['ingest', 'read']);
    const listed = JSON.parse((await aisoc(['--data-dir', dir, 'keys', 'list', '--json'])).stdout);
    expect(listed.items.map((k: { name: string }) => k.name)).toContain('cli-key');
    expect(JSON.stringify(listed)).not.toContain(key);
    expect((await aisoc(['--data-dir', dir, 'keys', 'revoke', 'cli-key'])).code).toBe(0);
    const after = JSON.parse((await aisoc(['--data-dir', dir, 'keys', 'list', '--json'])).stdout);
    expect(after.items.find((k: { name: string }) => k.name === 'cli-key').revoked_at).toBeDefined();
    const bad = await aisoc([
      '--data-dir',
      dir,
      'keys',
      'create',
      '--scope',
      'ingest,superuser',
      '--name',
      'x',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Unknown scope superuser');
  }, 180_000);

  it('ingests a file locally and prints the JSON summary', async () => {
    const r = await aisoc(['--data-dir', dir, 'ingest', FIXTURE, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      files: 1,
      events: 4,
      dead_letters: 1,
      by_source: { cloudtrail: 4 },
    });
    const missing = await aisoc(['--data-dir', dir, 'ingest', join(dir, 'nope-*.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No input files match');
  }, 120_000);

  it('serve creates an admin key once (file mode 0600), takes files over HTTP, and locks its data directory', async () => {
    const serveDir = join(dir, 'serve');
    const server = await startServe(serveDir);
    try {
      const keyFile = join(serveDir, 'admin.key');
      const key = readFileSync(keyFile, 'utf8').trim();
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(server.output()).toContain(key);
      const sent = await aisoc(['ingest', FIXTURE, '--url', server.url, '--key', key, '--json']);
      expect(sent.code, sent.stderr).toBe(0);
      expect(JSON.parse(sent.stdout)).toMatchObject({ events: 4, dead_letters: 1 });
      const locked = await aisoc(['--data-dir', serveDir, 'ingest', FIXTURE]);
      expect(locked.code).toBe(1);
      expect(locked.stderr).toMatch(/in use by process \d+/);
      const wrongKey = await aisoc(['ingest', FIXTURE, '--url', server.url, '--key', 'aisoc_wrong']);
      expect(wrongKey.code).toBe(1);
      expect(wrongKey.stderr).toContain('401');
    } finally {
      server.child.kill('SIGTERM');
      expect(await waitExit(server.child)).toBe(0);
    }
    // A second start reuses the stored admin key instead of printing a new one.
    const again = await startServe(serveDir);
    try {
      expect(again.output()).not.toContain('An admin API key was created');
    } finally {
      again.child.kill('SIGTERM');
      await waitExit(again.child);
    }
  }, 180_000);

  it('demo replays the scenario through the API and reports alerts and incidents', async () => {
    const demoDir = join(dir, 'demo');
    const r = await aisoc(['--data-dir', demoDir, 'demo', '--exit', '--json', '--port', '0']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.steps.map((s: { source: string }) => s.source)).toEqual(['suricata', 'wazuh', 'cloudtrail']);
    for (const s of out.steps) expect(s.dead_letters, s.file).toBe(0);
    expect(out.events).toBe(out.steps.reduce((n: number, s: { stored: number }) => n + s.stored, 0));
    expect(out.alerts).toBeGreaterThan(0);
    expect(out.incidents).toBeGreaterThan(0);
    // Every alert at or above the threshold carries a verdict whose evidence the checker accepted.
    expect(out.alerts_above_threshold).toBeGreaterThan(0);
    expect(out.alerts_with_checked_verdict).toBe(out.alerts_above_threshold);
    // The top incident walked the response flow end to end, and the audit log has every step.
    // Retrieval and the models answer on the demo's own data, over the API.
    expect(out.probes.retrieve.total_results).toBeGreaterThan(0);
    expect(out.probes.retrieve.top[0].id).toMatch(/^T\d{4}/);
    const featureSets = out.probes.predict_event.map((p: { feature_set: string }) => p.feature_set);
    expect(featureSets).toContain('cloudtrail18');
    expect(featureSets).toContain('flow-portable');
    const first = out.probes.predict_event[0];
    expect(out.probes.predict).toEqual({
      model: first.model,
      prediction: first.prediction,
      confidence: first.confidence,
    });
    const walk = out.walkthrough;
    expect(walk.incident.case_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(walk.incident.verdict.checked).toBe(true);
    expect(walk.notifications.verified).toBeGreaterThan(0);
    expect(walk.notifications.verified).toBe(walk.notifications.received);
    expect(walk.action.statuses).toEqual(['pending_approval', 'dry_run', 'rolled_back']);
    for (const step of [
      'verdict',
      'case.create',
      'playbook.step',
      'action.request',
      'action.approve',
      'action.result',
      'action.rollback',
    ]) {
      expect(walk.audit).toContain(step);
    }
  }, 300_000);
});
