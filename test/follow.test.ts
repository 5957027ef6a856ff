import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, REPO, startServe, waitExit } from './helpers/process.ts';
import { tempDir } from './helpers/runtime.ts';

/** A Suricata EVE alert line of our own; `n` makes each one a distinct event. */
function eveLine(n: number): string {
  const ts = new Date(Date.UTC(2026, 10, 19, 8, 0, n)).toISOString().replace('Z', '+0000');
  return JSON.stringify({
    timestamp: ts,
    flow_id: 9_000_000 + n,
    event_type: 'alert',
    src_ip: '203.0.113.7',
    src_port: 40_000 + n,
    dest_ip: '10.0.0.5',
    dest_port: 22,
    proto: 'TCP',
    alert: {
      action: 'allowed',
      gid: 1,
      signature_id: 2_001_219,
      rev: 20,
      signature: `ET SCAN ssh probe ${n}`,
    },
  });
}

let next = 0;
function lines(count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += `${eveLine(next++)}\n`;
  return out;
}

interface Follower {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
}

function startFollower(args: string[]): Follower {
  const child = spawn(process.execPath, [BIN, 'ingest', '--follow', ...args, '--json'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return { child, stdout: () => out, stderr: () => err };
}

async function suricataTotal(url: string, key: string): Promise<number> {
  const res = await fetch(`${url}/events?source=suricata&limit=1`, { headers: { 'x-api-key': key } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { total: number }).total;
}

async function waitForTotal(url: string, key: string, want: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let got = -1;
  while (Date.now() < until) {
    got = await suricataTotal(url, key);
    if (got >= want) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(got).toBe(want);
}

async function stop(f: Follower) {
  f.child.kill('SIGTERM');
  expect(await waitExit(f.child), f.stderr()).toBe(0);
  return JSON.parse(f.stdout()) as {
    events: number;
    new_events: number;
    duplicates: number;
    by_source: Record<string, number>;
    follow: { rotations: number; truncations: number; unacknowledged: number };
  };
}

describe('aisoc ingest --follow against a running serve', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('tails eve.json through rotation, truncation and a restart with no loss and no duplicates', async () => {
    const server = await startServe(join(dir, 'serve'));
    const key = readFileSync(join(dir, 'serve', 'admin.key'), 'utf8').trim();
    const eve = join(dir, 'eve.json');
    const follow = [eve, '--url', server.url, '--key', key, '--state', join(dir, 'eve.state')];
    try {
      writeFileSync(eve, lines(5));
      const first = startFollower(follow);
      await waitForTotal(server.url, key, 5);

      appendFileSync(eve, lines(5));
      await waitForTotal(server.url, key, 10);

      // logrotate's create mode: the old file is renamed and still written to for a moment.
      renameSync(eve, `${eve}.1`);
      appendFileSync(`${eve}.1`, lines(2));
      writeFileSync(eve, lines(3));
      await waitForTotal(server.url, key, 15);

      // copytruncate: the file is emptied in place and written again from its start.
      truncateSync(eve, 0);
      appendFileSync(eve, lines(4));
      await waitForTotal(server.url, key, 19);

      const one = await stop(first);
      expect(one).toMatchObject({ events: 19, new_events: 19, duplicates: 0, by_source: { suricata: 19 } });
      expect(one.follow.rotations).toBeGreaterThanOrEqual(1);
      expect(one.follow.truncations).toBeGreaterThanOrEqual(1);
      expect(one.follow.unacknowledged).toBe(0);

      // Written while no follower runs: the restart resumes at the stored position.
      appendFileSync(eve, lines(3));
      const second = startFollower(follow);
      await waitForTotal(server.url, key, 22);
      // A line written in two pieces is sent once, when its newline arrives.
      const partial = eveLine(next++);
      appendFileSync(eve, partial.slice(0, 40));
      await new Promise((r) => setTimeout(r, 1500));
      appendFileSync(eve, `${partial.slice(40)}\n`);
      await waitForTotal(server.url, key, 23);

      const two = await stop(second);
      expect(two).toMatchObject({ events: 4, new_events: 4, duplicates: 0 });
      expect(await suricataTotal(server.url, key)).toBe(next);
    } finally {
      server.child.kill('SIGTERM');
      await waitExit(server.child);
    }
  }, 240_000);

  it('refuses a glob and a source that cannot be read line by line, naming the field', async () => {
    const glob = startFollower([join(dir, '*.json')]);
    expect(await waitExit(glob.child)).toBe(1);
    expect(glob.stderr()).toContain('--follow takes exactly one file');
    const zeek = startFollower([join(dir, 'conn.log'), '--source', 'zeek']);
    expect(await waitExit(zeek.child)).toBe(1);
    expect(zeek.stderr()).toMatch(/frames whole documents/);
  }, 120_000);
});
