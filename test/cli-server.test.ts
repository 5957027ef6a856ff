import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { aisoc } from './helpers/cli.ts';
import { openToOthers } from './helpers/fs.ts';
import { REPO, startServe, waitExit } from './helpers/process.ts';
import { tempDir } from './helpers/runtime.ts';

const FIXTURE = join(REPO, 'src/sources/cloudtrail/fixtures/records.json');
const run = promisify(execFile);

/** A TCP server on a free loopback port (to make a port taken, or, closed, to know one nobody listens on). */
async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

/** The JSON error line a failed `--json` command writes to stderr. */
function jsonError(stderr: string): { code: string; message: string; field?: string } {
  return JSON.parse(stderr.trim().split('\n').at(-1)!).error;
}

describe('command line: first start, the server of the data directory, and errors', () => {
  const { dir, cleanup } = tempDir('aisoc-cli2-');
  afterAll(cleanup);

  it('a start on a taken port fails with AISOC_ERR_PORT_IN_USE and makes no key; the next start shows the key; later ones say where it is until it is used', async () => {
    const d = join(dir, 'first');
    const taken = await holdPort();
    let failed: Awaited<ReturnType<typeof aisoc>>;
    try {
      failed = await aisoc(['--data-dir', d, 'serve', '--port', String(taken.port), '--log-level', 'warn']);
    } finally {
      taken.server.close();
    }
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('error AISOC_ERR_PORT_IN_USE');
    expect(failed.stderr).toContain(`Port ${taken.port}`);
    expect(failed.stderr).not.toContain('EADDRINUSE');
    expect(failed.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(d, 'admin.key'))).toBe(false);
    expect(existsSync(join(d, 'server.json'))).toBe(false);

    const first = await startServe(d);
    let key: string;
    try {
      key = readFileSync(join(d, 'admin.key'), 'utf8').trim();
      expect(first.output()).toContain('An admin API key was created');
      expect(first.output()).toContain(key);
      // At start, serve names the sources no detection rule reads (a warning, shown at --log-level warn).
      expect(first.output()).toMatch(
        /No detection rule reads [^:]*\bgeneric\b[^:]*: their events are stored but raise no alert/,
      );
      expect(first.output()).not.toMatch(/No detection rule reads [^:]*\b(windows|zeek|suricata)\b/);
    } finally {
      first.child.kill('SIGTERM');
      expect(await waitExit(first.child)).toBe(0);
    }
    const second = await startServe(d);
    try {
      expect(second.output()).toContain(`saved in ${join(d, 'admin.key')}`);
      expect(second.output()).not.toContain(key);
      // Using the key ends the note.
      const used = await fetch(`${second.url}/alerts`, { headers: { authorization: `Bearer ${key}` } });
      expect(used.status).toBe(200);
    } finally {
      second.child.kill('SIGTERM');
      expect(await waitExit(second.child)).toBe(0);
    }
  }, 300_000);

  it('keys, cases, actions and audit reach the server that holds the data directory; errors have codes', async () => {
    const d = join(dir, 'held');
    const server = await startServe(d);
    const info = join(d, 'server.json');
    try {
      expect(JSON.parse(readFileSync(info, 'utf8'))).toMatchObject({
        url: server.url,
        pid: server.child.pid,
      });
      expect(statSync(info).mode & 0o777).toBe(0o600);
      // As the README shows it: no --url, no --key.
      const created = await aisoc([
        '--data-dir',
        d,
        'keys',
        'create',
        '--name',
        'shipper',
        '--scope',
        'ingest',
        '--json',
      ]);
      expect(created.code, created.stderr).toBe(0);
      const shipper = JSON.parse(created.stdout).key as string;
      const sent = await aisoc(['ingest', FIXTURE, '--url', server.url, '--key', shipper, '--json']);
      expect(sent.code, sent.stderr).toBe(0);
      const listed = await aisoc(['--data-dir', d, 'keys', 'list', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout).items.map((k: { name: string }) => k.name)).toContain('shipper');
      const cases = await aisoc(['--data-dir', d, 'cases', 'list', '--json']);
      expect(cases.code, cases.stderr).toBe(0);
      expect(Array.isArray(JSON.parse(cases.stdout).items)).toBe(true);
      const actions = await aisoc(['--data-dir', d, 'actions', 'list', '--status', 'all', '--json']);
      expect(actions.code, actions.stderr).toBe(0);
      expect(Array.isArray(JSON.parse(actions.stdout).items)).toBe(true);
      const audit = await aisoc(['--data-dir', d, 'audit', 'export', '--action', 'key.create']);
      expect(audit.code, audit.stderr).toBe(0);
      expect(audit.stdout).toContain('shipper');

      // 401 and 403, each with its own code, in words and in JSON.
      const wrong = await aisoc(['cases', 'list', '--url', server.url, '--key', 'aisoc_wrong']);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('error AISOC_ERR_UNAUTHORIZED');
      expect(wrong.stderr).toContain('refused the API key (401)');
      const wrongJson = await aisoc(['cases', 'list', '--url', server.url, '--key', 'aisoc_wrong', '--json']);
      expect(wrongJson.code).toBe(1);
      expect(wrongJson.stdout).toBe('');
      expect(jsonError(wrongJson.stderr)).toMatchObject({ code: 'AISOC_ERR_UNAUTHORIZED' });
      const forbidden = await aisoc(['cases', 'list', '--url', server.url, '--key', shipper, '--json']);
      expect(forbidden.code).toBe(1);
      expect(jsonError(forbidden.stderr)).toMatchObject({ code: 'AISOC_ERR_FORBIDDEN' });
      const ingestWrong = await aisoc(['ingest', FIXTURE, '--url', server.url, '--key', 'aisoc_wrong']);
      expect(ingestWrong.code).toBe(1);
      expect(ingestWrong.stderr).toContain('error AISOC_ERR_UNAUTHORIZED');
    } finally {
      server.child.kill('SIGTERM');
      expect(await waitExit(server.child)).toBe(0);
    }
    expect(existsSync(info)).toBe(false);
    // After a whole run: the data directory is its owner's only, database files included.
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(openToOthers(d)).toEqual([]);
  }, 300_000);

  it('says in words, with a code, when nothing listens, when the URL has no scheme, and when no server runs on the data directory', async () => {
    const free = await holdPort();
    await new Promise<void>((resolve) => free.server.close(() => resolve()));
    const url = `http://127.0.0.1:${free.port}`;
    const refused = await aisoc(['cases', 'list', '--url', url, '--key', 'k']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error AISOC_ERR_CONNECTION_REFUSED');
    expect(refused.stderr).toContain(`Nothing is listening at ${url}`);
    expect(refused.stderr).not.toContain('fetch failed');
    const refusedJson = await aisoc(['actions', 'list', '--url', url, '--key', 'k', '--json']);
    expect(jsonError(refusedJson.stderr)).toMatchObject({
      code: 'AISOC_ERR_CONNECTION_REFUSED',
      field: 'url',
    });
    const ingestRefused = await aisoc(['ingest', FIXTURE, '--url', url, '--key', 'k']);
    expect(ingestRefused.stderr).toContain('error AISOC_ERR_CONNECTION_REFUSED');

    for (const args of [
      ['cases', 'list', '--url', '127.0.0.1:8080', '--key', 'k'],
      ['ingest', FIXTURE, '--url', '127.0.0.1:8080', '--key', 'k'],
      ['keys', 'list', '--url', 'ftp://127.0.0.1', '--key', 'k'],
    ]) {
      const r = await aisoc(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain('error AISOC_ERR_BAD_URL');
    }
    const hint = await aisoc(['cases', 'list', '--url', '127.0.0.1:8080', '--key', 'k', '--json']);
    expect(jsonError(hint.stderr)).toMatchObject({ code: 'AISOC_ERR_BAD_URL', field: 'url' });
    expect(jsonError(hint.stderr).message).toContain('http://127.0.0.1:8080');

    const empty = join(dir, 'no-server');
    mkdirSync(empty, { recursive: true });
    const none = await aisoc(['--data-dir', empty, 'cases', 'list']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('No server runs on the data directory');
  }, 120_000);

  it('serve --role api or worker is refused with the embedded runner, naming pipeline.runner, before anything is made', async () => {
    for (const role of ['api', 'worker']) {
      const dataDir = join(dir, `role-${role}`);
      const r = await aisoc(['--data-dir', dataDir, 'serve', '--role', role, '--port', '0']);
      expect(r.code, role).toBe(1);
      expect(r.stderr).toContain('error AISOC_ERR_CONFIG');
      expect(r.stderr).toContain(`serve --role ${role} needs a runner that shares its work`);
      expect(r.stderr).toContain('pipeline.runner: nats');
      expect(existsSync(join(dataDir, 'admin.key')), role).toBe(false);
    }
    const bad = await aisoc(['--data-dir', join(dir, 'role-bad'), 'serve', '--role', 'boss', '--port', '0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('api, worker, all');
  }, 120_000);

  it('git-ignores the default and demo data directories (they hold an admin key)', async () => {
    const r = await run('git', ['check-ignore', '--no-index', '.aisoc/admin.key', '.aisoc-demo/admin.key'], {
      cwd: REPO,
    }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual([
      '.aisoc-demo/admin.key',
      '.aisoc/admin.key',
    ]);
  });
});
