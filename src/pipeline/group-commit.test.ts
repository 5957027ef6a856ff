import { afterEach, describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/helpers/builders.ts';
import { AisocError } from '../errors.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import { openStore, Store } from '../store/index.ts';
import type { SqlClient } from '../store/sql.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { PipelineConfig } from './config.ts';
import { EmbeddedRunner } from './embedded.ts';
import { GroupCommit, type StoredSubmission } from './execution.ts';
import type { SubmitInput } from './runner.ts';
import { collector } from './testing/runner-conformance.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A real embedded store whose transactions can be watched and held: every
 * transaction is numbered, `log` records when it begins and when its commit
 * has returned, and `hold()` makes the next transaction wait, after its
 * statements and before its commit, until released.
 */
async function watchedStore() {
  const real = await openStore({});
  cleanups.push(() => real.close());
  const log: string[] = [];
  let transactions = 0;
  let holdNext: { reached: () => void; gate: Promise<void> } | undefined;
  const client: SqlClient = {
    ...real.client,
    async transaction(fn) {
      const n = ++transactions;
      const held = holdNext;
      holdNext = undefined;
      log.push(`begin ${n}`);
      const out = await real.client.transaction(async (tx) => {
        const r = await fn(tx);
        if (held) {
          held.reached();
          await held.gate;
        }
        return r;
      });
      log.push(`commit ${n}`);
      return out;
    },
  };
  return {
    store: new Store(client),
    log,
    transactions: () => transactions,
    /** Hold the next transaction before its commit; `reached` resolves when it waits there. */
    hold() {
      let release!: () => void;
      let reached!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const atGate = new Promise<void>((r) => {
        reached = r;
      });
      holdNext = { reached, gate };
      return { reached: atGate, release };
    },
  };
}

const config = PipelineConfig.parse({});
const input = (events: NormalisedEvent[], deadLetters: SubmitInput['deadLetters'] = []): SubmitInput => ({
  events,
  deadLetters,
});
const deadLetter = (reason: string) => ({
  source: 'cloudtrail',
  stage: 'decode',
  code: 'AISOC_ERR_PARSE',
  reason,
  record: '{"broken":',
});

/** A group committer over a watched store, recording each submission's resolution in the store's log. */
async function setup(
  options: { maxRows?: number; admit?: (input: SubmitInput, ahead: number) => void } = {},
) {
  const watched = await watchedStore();
  const metrics: Metrics = createMetrics({ defaultMetrics: false });
  const committed: Array<{ input: SubmitInput; stored: StoredSubmission }> = [];
  const commits = new GroupCommit({
    store: watched.store,
    logger: silentLogger(),
    metrics,
    config,
    ...options,
    committed: (i, stored) => committed.push({ input: i, stored }),
  });
  const submit = (name: string, i: SubmitInput) =>
    commits.submit(i).then(
      (r) => {
        watched.log.push(`resolved ${name}`);
        return r;
      },
      (err: unknown) => {
        watched.log.push(`failed ${name}`);
        throw err;
      },
    );
  return { ...watched, metrics, committed, submit };
}

/** Follows whether a promise has settled. */
function tracked(p: Promise<unknown>): { settled: boolean } {
  const t = { settled: false };
  p.then(
    () => {
      t.settled = true;
    },
    () => {
      t.settled = true;
    },
  );
  return t;
}

/** Let the event loop run a few times (I/O, timers, immediates), so whatever could settle has. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

describe('group commit', () => {
  it('commits the submissions that arrive during a commit together, and resolves each only after its commit', async () => {
    const t = await setup();
    const held = t.hold();
    const a = t.submit('a', input([makeEvent(), makeEvent()]));
    await held.reached;
    // The first transaction has run its statements and waits before committing; more submissions arrive.
    const b = t.submit('b', input([makeEvent(), makeEvent(), makeEvent()]));
    const c = t.submit('c', input([makeEvent()], [deadLetter('c')]));
    const d = t.submit('d', input([makeEvent(), makeEvent()]));
    const watched = [a, b, c, d].map(tracked);
    await turns();
    expect(watched.map((w) => w.settled)).toEqual([false, false, false, false]);
    held.release();
    const [ra, rb, rc, rd] = await Promise.all([a, b, c, d]);
    expect(t.transactions()).toBe(2);
    expect(t.log).toEqual([
      'begin 1',
      'commit 1',
      'resolved a',
      'begin 2',
      'commit 2',
      'resolved b',
      'resolved c',
      'resolved d',
    ]);
    expect([ra, rb, rc, rd].map((r) => [r.stored.length, r.duplicates, r.deadLetters])).toEqual([
      [2, 0, 0],
      [3, 0, 0],
      [1, 0, 1],
      [2, 0, 0],
    ]);
    // One log: each submission's events in order, the group's submissions one after the other.
    const seqs = [ra, rb, rc, rd].flatMap((r) => r.stored.map((s) => s.seq));
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(await t.store.events.count()).toBe(8);
    expect(await t.store.deadLetters.count()).toBe(1);
    // The runner heard of each commit in log order, before the submission resolved.
    expect(t.committed.map((c) => c.stored)).toEqual([ra, rb, rc, rd]);
    const groups = await t.metrics.registry.getSingleMetricAsString('aisoc_commit_group_submissions');
    expect(groups).toMatch(/^aisoc_commit_group_submissions_count 2$/m);
    expect(groups).toMatch(/^aisoc_commit_group_submissions_sum 4$/m);
  });

  it('gives each submission its own result when submissions in one group carry the same events', async () => {
    const t = await setup();
    const old = makeEvent();
    await t.submit('old', input([old]));
    const [e1, e2, e3] = [makeEvent(), makeEvent(), makeEvent()];
    const held = t.hold();
    const first = t.submit('first', input([makeEvent()]));
    await held.reached;
    // In one group: e2 twice across submissions, e1 twice across and once again within one, `old` already stored.
    const b = t.submit('b', input([e1, e2]));
    const c = t.submit('c', input([e2, { ...e3 }, e3]));
    const d = t.submit('d', input([{ ...e1, activity_name: 'Later copy' }, old]));
    held.release();
    const [, rb, rc, rd] = await Promise.all([first, b, c, d]);
    expect(t.transactions()).toBe(3);
    expect([rb, rc, rd].map((r) => [r.stored.map((s) => s.id), r.duplicates])).toEqual([
      [[e1.id, e2.id], 0],
      [[e3.id], 2],
      [[], 2],
    ]);
    expect(await t.store.events.count()).toBe(5);
    // The copy stored is the first one in the group's order.
    expect((await t.store.events.get(e1.id))?.activity_name).toBe(e1.activity_name);
  });

  it('commits again one by one when a group fails, so only the submission at fault fails', async () => {
    const t = await setup();
    const held = t.hold();
    const first = t.submit('first', input([makeEvent()]));
    await held.reached;
    const good1 = makeEvent();
    const good2 = makeEvent();
    const ok1 = t.submit('ok1', input([good1], [deadLetter('ok1')]));
    // The store refuses this one: its time is no timestamp.
    const bad = t
      .submit('bad', input([makeEvent(), makeEvent({ time: 'not a time' })]))
      .catch((err: unknown) => err);
    const ok2 = t.submit('ok2', input([good2]));
    held.release();
    await first;
    expect((await ok1).stored.map((s) => s.id)).toEqual([good1.id]);
    expect((await ok2).stored.map((s) => s.id)).toEqual([good2.id]);
    expect(String(await bad)).toMatch(/timestamp/);
    // Transaction 2 was the group, rolled back whole; then each alone.
    expect(t.transactions()).toBe(5);
    expect(t.log.filter((l) => /^(begin|commit)/.test(l)).slice(2)).toEqual([
      'begin 2',
      'begin 3',
      'commit 3',
      'begin 4',
      'begin 5',
      'commit 5',
    ]);
    const at = (entry: string) => t.log.indexOf(entry);
    expect(at('resolved ok1')).toBeGreaterThan(at('commit 3'));
    expect(at('resolved ok2')).toBeGreaterThan(at('commit 5'));
    expect(at('failed bad')).toBeGreaterThan(at('begin 4'));
    expect(await t.store.events.count()).toBe(3);
    expect(await t.store.deadLetters.count()).toBe(1);
    expect((await t.store.events.getMany([good1.id, good2.id])).length).toBe(2);
  });

  it('fails a submission committed alone with the store error, and goes on with the next', async () => {
    const t = await setup();
    await expect(t.submit('bad', input([makeEvent({ time: 'not a time' })]))).rejects.toThrow();
    expect((await t.submit('next', input([makeEvent()]))).stored).toHaveLength(1);
    expect(t.transactions()).toBe(2);
  });

  it('keeps a group within its row cap, and commits a larger submission alone', async () => {
    const t = await setup({ maxRows: 5 });
    const held = t.hold();
    const first = t.submit('first', input([makeEvent()]));
    await held.reached;
    const two = () => input([makeEvent(), makeEvent()]);
    const rest = [
      t.submit('b', two()),
      t.submit('c', input([makeEvent()], [deadLetter('c'), deadLetter('c')])),
      t.submit('d', two()),
      t.submit('big', input(Array.from({ length: 8 }, () => makeEvent()))),
      t.submit('e', two()),
    ];
    held.release();
    await Promise.all([first, ...rest]);
    // b+c (5 rows), d alone (d+big would be 10), big alone (over the cap), e.
    expect(t.log.filter((l) => l.startsWith('commit') || l.startsWith('resolved'))).toEqual([
      'commit 1',
      'resolved first',
      'commit 2',
      'resolved b',
      'resolved c',
      'commit 3',
      'resolved d',
      'commit 4',
      'resolved big',
      'commit 5',
      'resolved e',
    ]);
  });

  it('admits each submission as it joins a group, counting the events ahead of it in the group', async () => {
    const seen: Array<[number, number]> = [];
    const t = await setup({
      admit: (i, ahead) => {
        seen.push([i.events.length, ahead]);
        if (ahead + i.events.length > 5)
          throw new AisocError('AISOC_ERR_OVERLOADED', 'full', { retryAfterSeconds: 1 });
      },
    });
    const held = t.hold();
    const first = t.submit('first', input([makeEvent()]));
    await held.reached;
    const b = t.submit('b', input([makeEvent(), makeEvent(), makeEvent()]));
    const c = t.submit('c', input([makeEvent(), makeEvent(), makeEvent()])).catch((err: unknown) => err);
    const d = t.submit('d', input([makeEvent(), makeEvent()]));
    held.release();
    await first;
    expect((await b).stored).toHaveLength(3);
    expect(await c).toMatchObject({ code: 'AISOC_ERR_OVERLOADED' });
    expect((await d).stored).toHaveLength(2);
    expect(seen).toEqual([
      [1, 0],
      [3, 0],
      [3, 3],
      [2, 3],
    ]);
    expect(t.transactions()).toBe(2);
  });
});

describe('embedded runner with group commit', () => {
  async function runnerOver(store: Store, settings: Partial<PipelineConfig> = {}) {
    const sink = collector();
    const runner = new EmbeddedRunner({
      store,
      logger: silentLogger(),
      metrics: createMetrics({ defaultMetrics: false }),
      config: PipelineConfig.parse({ retry_backoff_ms: 1, batch_size: 7, ...settings }),
      stages: [sink],
    });
    await runner.start();
    cleanups.push(() => runner.stop());
    return { runner, sink };
  }

  it('feeds concurrent submissions to the stages once each, in log order, and checkpoints the last', async () => {
    const w = await watchedStore();
    const { runner, sink } = await runnerOver(w.store);
    const shared = Array.from({ length: 5 }, () => makeEvent());
    const held = w.hold();
    const first = runner.submit({ events: [makeEvent()], deadLetters: [] });
    await held.reached;
    // Twenty submissions at once, each with two events of its own and one of five shared ones.
    const submissions = Array.from({ length: 20 }, (_, i) => ({
      events: [makeEvent(), shared[i % 5]!, makeEvent()],
      deadLetters: [],
    }));
    const results = Promise.all(submissions.map((s) => runner.submit(s)));
    held.release();
    const all = [await first, ...(await results)];
    expect(w.transactions()).toBe(2);
    expect(all.reduce((n, r) => n + r.stored, 0)).toBe(1 + 40 + 5);
    expect(all.reduce((n, r) => n + r.duplicates, 0)).toBe(15);
    await runner.drain(10_000);
    const log = await w.store.events.afterSeq(0, 1000);
    expect(sink.seen).toEqual(log.map((r) => r.event.id));
    expect(runner.stats()).toMatchObject({ pending: 0, processed: 46, checkpoint: log.at(-1)!.seq });
  });

  it('holds the queue capacity for each submission of a group', async () => {
    const w = await watchedStore();
    const { runner } = await runnerOver(w.store, { queue_capacity: 10 });
    const four = () => ({ events: Array.from({ length: 4 }, () => makeEvent()), deadLetters: [] });
    const held = w.hold();
    // The stage passes events on at once, so hold the pipeline's backlog by holding the first commit.
    const first = runner.submit(four());
    await held.reached;
    const b = runner.submit(four());
    const c = runner.submit(four()).catch((err: unknown) => err);
    const d = runner.submit({ events: [makeEvent(), makeEvent()], deadLetters: [] });
    held.release();
    await first;
    expect((await b).stored).toBe(4);
    expect(await c).toMatchObject({ code: 'AISOC_ERR_OVERLOADED' });
    expect((await d).stored).toBe(2);
  });
});
