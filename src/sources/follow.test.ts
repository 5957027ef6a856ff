import {
  appendFileSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/runtime.ts';
import { AisocError } from '../errors.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { type FollowOptions, type FollowStats, filePositionStore, followFile } from './follow.ts';

const { dir, cleanup } = tempDir('aisoc-follow-');
afterAll(cleanup);

let n = 0;
/** A fresh file path and state file in the temp dir (each test its own subdirectory, so siblings do not mix). */
function fresh(): { path: string; state: string; sub: string } {
  const sub = join(dir, `t${++n}`);
  mkdirSync(sub);
  return { path: join(sub, 'app.log'), state: join(dir, `t${n}.state.json`), sub };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Running {
  batches: string[][];
  lines: () => string[];
  stop: () => Promise<FollowStats>;
  done: Promise<FollowStats>;
}

/** Start a follower collecting what it sends; fast polling so the tests do not wait on the defaults. */
function start(path: string, state: string, extra: Partial<FollowOptions> = {}): Running {
  const batches: string[][] = [];
  const ac = new AbortController();
  const done = followFile({
    path,
    store: filePositionStore(state),
    send: async (lines) => {
      batches.push(lines);
    },
    pollMs: 50,
    flushMs: 20,
    rotateGraceMs: 100,
    logger: silentLogger(),
    signal: ac.signal,
    ...extra,
  });
  return {
    batches,
    lines: () => batches.flat(),
    done,
    stop: async () => {
      ac.abort();
      return done;
    },
  };
}

describe('followFile', () => {
  it('sends complete lines as they are appended; a partial line waits for its newline', async () => {
    const { path, state } = fresh();
    writeFileSync(path, 'a\n');
    const f = start(path, state);
    await waitFor('a', () => f.lines().length === 1);
    // One write holding a complete line and the start of the next: both are read together.
    appendFileSync(path, 'b\nc-par');
    await waitFor('b', () => f.lines().includes('b'));
    expect(f.lines()).toEqual(['a', 'b']);
    appendFileSync(path, 't\n');
    await waitFor('c-part', () => f.lines().length === 3);
    const stats = await f.stop();
    expect(f.lines()).toEqual(['a', 'b', 'c-part']);
    expect(stats).toMatchObject({ lines: 3, dropped_lines: 0, unacknowledged: 0 });
  });

  it('batches at most --batch lines, in order', async () => {
    const { path, state } = fresh();
    writeFileSync(path, '');
    const f = start(path, state, { batchLines: 3 });
    appendFileSync(path, `${Array.from({ length: 10 }, (_, i) => `l${i}`).join('\n')}\n`);
    await waitFor('10 lines', () => f.lines().length === 10);
    await f.stop();
    expect(f.lines()).toEqual(Array.from({ length: 10 }, (_, i) => `l${i}`));
    for (const b of f.batches) expect(b.length).toBeLessThanOrEqual(3);
  });

  it('finishes the old file after a rotation, late writes included, then reads the new one from its start', async () => {
    const { path, state } = fresh();
    writeFileSync(path, 'r1\nr2\n');
    const f = start(path, state);
    await waitFor('r2', () => f.lines().length === 2);
    // A writer that still holds the old file appends to it after the rename, before it reopens the path.
    const writer = openSync(path, 'a');
    appendFileSync(path, 'r3\n');
    renameSync(path, `${path}.1`);
    writeFileSync(path, 'n1\nn2\n');
    writeSync(writer, 'late\n');
    closeSync(writer);
    await waitFor('n2', () => f.lines().includes('n2'));
    const stats = await f.stop();
    expect(f.lines()).toEqual(['r1', 'r2', 'r3', 'late', 'n1', 'n2']);
    expect(stats.rotations).toBe(1);
  });

  it('reads a truncated file from its start, also when it was written past the old position at once', async () => {
    const { path, state } = fresh();
    writeFileSync(path, 't1\nt2\n');
    const f = start(path, state);
    await waitFor('t2', () => f.lines().length === 2);
    truncateSync(path, 0);
    appendFileSync(path, 'u1\n');
    await waitFor('u1', () => f.lines().includes('u1'));
    // Same inode, emptied and written longer than before in one step: only the first line tells.
    writeFileSync(path, 'v1-a-longer-first-line\nv2\nv3\n');
    await waitFor('v3', () => f.lines().includes('v3'));
    const stats = await f.stop();
    expect(f.lines()).toEqual(['t1', 't2', 'u1', 'v1-a-longer-first-line', 'v2', 'v3']);
    expect(stats.truncations).toBe(2);
  });

  it('resumes after a restart with nothing lost and nothing sent twice', async () => {
    const { path, state } = fresh();
    writeFileSync(path, 'a\nb\n');
    const first = start(path, state);
    await waitFor('b', () => first.lines().length === 2);
    await first.stop();
    appendFileSync(path, 'c\nd');
    const second = start(path, state);
    await waitFor('c', () => second.lines().length === 1);
    appendFileSync(path, '\n');
    await waitFor('d', () => second.lines().length === 2);
    await second.stop();
    expect(first.lines()).toEqual(['a', 'b']);
    expect(second.lines()).toEqual(['c', 'd']);
  });

  it('after a restart, reads the rest of a file rotated while it was stopped, then the new file', async () => {
    const { path, state } = fresh();
    writeFileSync(path, 'a\n');
    const first = start(path, state);
    await waitFor('a', () => first.lines().length === 1);
    await first.stop();
    appendFileSync(path, 'b\n');
    renameSync(path, `${path}.1`);
    writeFileSync(path, 'c\n');
    const second = start(path, state);
    await waitFor('c', () => second.lines().includes('c'));
    const stats = await second.stop();
    expect(second.lines()).toEqual(['b', 'c']);
    expect(stats.rotations).toBe(1);
  });

  it('after a restart, reads the lines copytruncate left only in the copy, then the emptied file', async () => {
    const { path, state } = fresh();
    writeFileSync(path, 'a\n');
    const first = start(path, state);
    await waitFor('a', () => first.lines().length === 1);
    await first.stop();
    appendFileSync(path, 'b\nc\n');
    copyFileSync(path, `${path}.1`);
    truncateSync(path, 0);
    appendFileSync(path, 'd\n');
    const second = start(path, state);
    await waitFor('d', () => second.lines().includes('d'));
    await second.stop();
    expect(second.lines()).toEqual(['b', 'c', 'd']);
  });

  it('a send that fails for good ends the follower with the position before the batch; a restart sends it again', async () => {
    const { path, state } = fresh();
    writeFileSync(path, 'ok\n');
    const sent: string[] = [];
    let fail = false;
    const ac = new AbortController();
    const done = followFile({
      path,
      store: filePositionStore(state),
      send: async (lines) => {
        if (fail) throw new AisocError('AISOC_ERR_UNAUTHORIZED', 'The server answered 401');
        sent.push(...lines);
      },
      pollMs: 50,
      flushMs: 20,
      logger: silentLogger(),
      signal: ac.signal,
    });
    await waitFor('ok', () => sent.length === 1);
    fail = true;
    appendFileSync(path, 'refused\n');
    await expect(done).rejects.toThrow('401');
    const again = start(path, state);
    await waitFor('refused', () => again.lines().length === 1);
    await again.stop();
    expect(again.lines()).toEqual(['refused']);
  });

  it('retries transient failures and delivers each line once', async () => {
    const { path, state } = fresh();
    writeFileSync(path, 'x\ny\n');
    const sent: string[] = [];
    let failures = 2;
    const ac = new AbortController();
    const done = followFile({
      path,
      store: filePositionStore(state),
      send: async (lines) => {
        if (failures > 0) {
          failures--;
          throw new AisocError('AISOC_ERR_OVERLOADED', 'full', { retryAfterSeconds: 1 });
        }
        sent.push(...lines);
      },
      pollMs: 50,
      flushMs: 20,
      logger: silentLogger(),
      signal: ac.signal,
    });
    await waitFor('x and y', () => sent.length === 2, 60_000);
    ac.abort();
    const stats = await done;
    expect(sent).toEqual(['x', 'y']);
    expect(stats.retries).toBe(2);
  });

  it('drops lines longer than the limit, keeps the rest; strips a BOM and CR, skips blank lines', async () => {
    const { path, state } = fresh();
    writeFileSync(path, `\uFEFFok1\r\n\r\n${'x'.repeat(500)}\n   \nok2\n`);
    const f = start(path, state, { maxLineBytes: 100 });
    await waitFor('ok2', () => f.lines().includes('ok2'));
    const stats = await f.stop();
    expect(f.lines()).toEqual(['ok1', 'ok2']);
    expect(stats.dropped_lines).toBe(1);
  });

  it('starts at the last complete line with fromEnd, and waits for a file that does not exist yet', async () => {
    const { path, state } = fresh();
    writeFileSync(path, 'old1\nold2\npart');
    const f = start(path, state, { fromEnd: true });
    await waitFor('position saved', () => existsSync(state));
    appendFileSync(path, 'ial\nnew\n');
    await waitFor('new', () => f.lines().includes('new'));
    await f.stop();
    expect(f.lines()).toEqual(['partial', 'new']);

    const later = fresh();
    const g = start(later.path, later.state);
    writeFileSync(later.path, 'born\n');
    await waitFor('born', () => g.lines().includes('born'));
    await g.stop();
  });

  it('stops cleanly, sending what is complete, and leaves no temporary state file behind', async () => {
    const { path, state, sub } = fresh();
    writeFileSync(path, '');
    const f = start(path, state, { flushMs: 60_000 });
    appendFileSync(path, 's1\ns2\n');
    // The batch waits a minute to fill; stopping sends it now.
    await new Promise((r) => setTimeout(r, 300));
    const stats = await f.stop();
    expect(f.lines()).toEqual(['s1', 's2']);
    expect(stats.unacknowledged).toBe(0);
    const saved = await filePositionStore(state).load();
    expect(saved).toMatchObject({ offset: 6 });
    expect(readdirSync(dir).filter((x) => x.endsWith('.tmp'))).toEqual([]);
    expect(readdirSync(sub)).toEqual(['app.log']);
  });
});
