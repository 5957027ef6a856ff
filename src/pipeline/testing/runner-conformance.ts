import { afterEach, describe, expect, it } from 'vitest';
import { makeEvent } from '../../../test/helpers/builders.ts';
import { AisocError, isBackpressure } from '../../errors.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import { openStore, type Store } from '../../store/index.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import { PipelineConfig } from '../config.ts';
import type { PipelineRunner, RunnerFactory } from '../runner.ts';
import { createRunner, RUNNERS } from '../runners.ts';
import type { AnyStage, Stage } from '../stage.ts';

export interface RunnerConformanceOptions {
  /** The runner under test, by its registry type: the suite builds it with `createRunner`, as the runtime does. */
  type: string;
  /** The registry holding it (default: the product's `RUNNERS`); tests of a new runner extend it. */
  runners?: Readonly<Record<string, RunnerFactory<unknown>>>;
  /** The runner's own section `pipeline.<type>`, parsed by its `configSchema` (default `{}`). */
  section?: unknown;
  /** The runner keeps log order: each stage sees events in the order they were stored, which the suite then checks. */
  ordered?: boolean;
  /**
   * What each test builds its runner over: a store and the runner's section
   * (default: an in-memory embedded store and `section`). A runner that
   * needs servers gives each test a fresh database (and stream names) here;
   * `close` removes them once the test's runners are stopped.
   */
  environment?: () => Promise<{ store: Store; section?: unknown; close(): Promise<void> }>;
  /**
   * When submitted events become readable from the events table: on
   * `submit` (default: the table is the runner's log), or once the `first
   * stage` has taken them and before it runs (the log is a stream).
   */
  eventsStored?: 'submit' | 'first-stage';
}

/** A stage that passes events on and records the ids it saw, in order. */
export function collector(name = 'collect'): Stage<NormalisedEvent, NormalisedEvent> & { seen: string[] } {
  const seen: string[] = [];
  return {
    name,
    seen,
    async process(batch) {
      for (const e of batch) seen.push(e.id);
      return { outputs: batch };
    },
  };
}

/** A stage that waits until `release()` before passing anything on. */
export function gated(name = 'gated'): Stage<NormalisedEvent, NormalisedEvent> & { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  return {
    name,
    release: () => release(),
    async process(batch) {
      await gate;
      return { outputs: batch };
    },
  };
}

/** The error a call fails with (fails the test when it succeeds). */
async function failure(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

const sorted = (ids: string[]) => [...ids].sort();

/** Poll `check` until it stops throwing, for at most `timeoutMs`. */
async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * The shared conformance suite every {@link PipelineRunner} passes, built
 * from its registry entry the way the runtime builds it. It checks the
 * contract of `runner.ts`: `submit` resolves only once the events and the
 * decoding dead letters are readable from the store, and a duplicate is not
 * processed twice; every stage sees every event exactly once, and what one
 * runner accepted but did not finish (it died in a stage) is processed by
 * the next runner over the same store; a transient
 * stage failure is retried without loss; an item a stage keeps failing on,
 * and an item it rejects, becomes a dead letter with the reason while the
 * rest go on; past `pipeline.queue_capacity` input is refused with a
 * back-pressure error carrying a retry hint; `drain` waits for every
 * accepted event (or times out); `stop` refuses new input and drains.
 * What is particular to one runner (its checkpoints, how it finds where it
 * stopped) is tested beside it.
 *
 * @example
 * describeRunnerConformance({ type: 'embedded' });
 * describeRunnerConformance({ type: 'mine', runners: { ...RUNNERS, mine: myRunner } });
 */
export function describeRunnerConformance(o: RunnerConformanceOptions): void {
  const runners: Readonly<Record<string, RunnerFactory<unknown>>> = o.runners ?? RUNNERS;
  /** The stage saw exactly these events (in this order, when the runner keeps log order). */
  const expectSeen = (seen: string[], ids: string[]) =>
    o.ordered ? expect(seen).toEqual(ids) : expect(sorted(seen)).toEqual(sorted(ids));

  describe(`pipeline runner ${o.type}: conformance`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    /** Each store's runner section, for a second runner over the same store. */
    const sections = new Map<Store, unknown>();

    /** A started runner over a fresh store (or `shared`), which the test stops or abandons. */
    async function build(
      stages: AnyStage[],
      settings: Partial<PipelineConfig> = {},
      shared?: Store,
    ): Promise<{ store: Store; runner: PipelineRunner }> {
      let store: Store;
      let section: unknown = o.section;
      if (shared) {
        store = shared;
        section = sections.has(shared) ? sections.get(shared) : o.section;
      } else if (o.environment) {
        const env = await o.environment();
        store = env.store;
        section = env.section ?? o.section;
        sections.set(store, section);
        cleanups.push(() => env.close());
      } else {
        const fresh = await openStore({});
        store = fresh;
        cleanups.push(() => fresh.close());
      }
      const factory = runners[o.type];
      const config = {
        ...PipelineConfig.parse({ retry_backoff_ms: 1, batch_size: 10, ...settings }),
        ...(factory?.configSchema ? { [o.type]: factory.configSchema.parse(section ?? {}) } : {}),
      };
      const runner = createRunner(
        o.type,
        { store, logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }), config, stages },
        runners,
      );
      await runner.start();
      return { store, runner };
    }

    /** {@link build}, stopped at the end of the test. */
    async function setup(...args: Parameters<typeof build>): ReturnType<typeof build> {
      const built = await build(...args);
      cleanups.push(() => built.runner.stop());
      return built;
    }

    it('is the runner its registry names, and reports its state', async () => {
      const { runner } = await setup([collector()], { queue_capacity: 123 });
      expect(runner.kind).toBe(o.type);
      expect(runner.stats()).toMatchObject({ runner: o.type, pending: 0, capacity: 123, processed: 0 });
      expect(runner.stats().stages.map((s) => s.name)).toEqual(['collect']);
    });

    it('passes every event through every stage exactly once', async () => {
      const first = collector('first');
      const second = collector('second');
      const { runner } = await setup([first, second]);
      const events = Array.from({ length: 35 }, () => makeEvent());
      await runner.submit({ events: events.slice(0, 20), deadLetters: [] });
      await runner.submit({ events: events.slice(20), deadLetters: [] });
      await runner.drain(5000);
      expectSeen(
        first.seen,
        events.map((e) => e.id),
      );
      expectSeen(
        second.seen,
        events.map((e) => e.id),
      );
      expect(runner.stats()).toMatchObject({ pending: 0, processed: 35 });
    });

    it('resolves submit only once the events and dead letters are durable, and processes a duplicate once', async () => {
      const gate = gated();
      const sink = collector();
      const { runner, store } = await setup([gate, sink]);
      const events = [makeEvent(), makeEvent(), makeEvent()];
      const deadLetter = {
        source: 'cloudtrail',
        stage: 'decode',
        code: 'AISOC_ERR_PARSE',
        reason: 'not a record',
        record: '{"broken":',
      };
      const result = await runner.submit({ events, deadLetters: [deadLetter] });
      expect(result).toEqual({ stored: 3, duplicates: 0, dead_letters: 1 });
      // Durable before any stage has finished with them: readable from the store now (or, where the log
      // is a stream, as soon as the first stage has taken them, before it runs: the gate holds it).
      const readable = async () =>
        expect(sorted((await store.events.getMany(events.map((e) => e.id))).map((e) => e.id))).toEqual(
          sorted(events.map((e) => e.id)),
        );
      if (o.eventsStored === 'first-stage') await eventually(readable);
      else await readable();
      expect((await store.deadLetters.list()).items[0]).toMatchObject(deadLetter);
      expect(runner.stats().pending).toBe(3);
      expect(await runner.submit({ events: events.slice(0, 2), deadLetters: [] })).toEqual({
        stored: 0,
        duplicates: 2,
        dead_letters: 0,
      });
      gate.release();
      await runner.drain(5000);
      expectSeen(
        sink.seen,
        events.map((e) => e.id),
      );
    });

    it('leaves what it accepted but did not finish to the next runner over the same store: a crash loses nothing', async () => {
      // The first runner takes events and dies inside a stage: never released, never stopped.
      const stuck = gated('stuck');
      const first = await build([stuck]);
      const events = Array.from({ length: 12 }, () => makeEvent());
      await first.runner.submit({ events, deadLetters: [] });
      const sink = collector();
      const { runner } = await setup([sink], {}, first.store);
      const fresh = makeEvent();
      await runner.submit({ events: [fresh], deadLetters: [] });
      await runner.drain(10_000);
      expectSeen(
        sink.seen,
        [...events, fresh].map((e) => e.id),
      );
      expect(runner.stats().pending).toBe(0);
    });

    it('retries a transient failure without losing or dead-lettering anything', async () => {
      let calls = 0;
      const flaky: Stage<NormalisedEvent, NormalisedEvent> = {
        name: 'flaky',
        async process(batch) {
          calls++;
          if (calls === 1) throw new Error('database hiccup');
          return { outputs: batch };
        },
      };
      const sink = collector();
      const { runner, store } = await setup([flaky, sink]);
      const events = [makeEvent(), makeEvent()];
      await runner.submit({ events, deadLetters: [] });
      await runner.drain(5000);
      expectSeen(
        sink.seen,
        events.map((e) => e.id),
      );
      expect(await store.deadLetters.count()).toBe(0);
      expect(runner.stats().stages[0]!.retries).toBe(1);
    });

    it('isolates the event a stage keeps failing on into the dead-letter table and lets the rest through', async () => {
      const poison = makeEvent({ activity_name: 'Poison' });
      const picky: Stage<NormalisedEvent, NormalisedEvent> = {
        name: 'picky',
        async process(batch) {
          if (batch.some((e) => e.activity_name === 'Poison')) throw new Error('cannot handle Poison');
          return { outputs: batch };
        },
      };
      const sink = collector();
      const { runner, store } = await setup([picky, sink], { retry_attempts: 2 });
      const events = [makeEvent(), poison, makeEvent()];
      await runner.submit({ events, deadLetters: [] });
      await runner.drain(5000);
      expectSeen(sink.seen, [events[0]!.id, events[2]!.id]);
      const dl = await store.deadLetters.list();
      expect(dl.items).toHaveLength(1);
      expect(dl.items[0]).toMatchObject({
        stage: 'picky',
        reason: 'cannot handle Poison',
        source: 'cloudtrail',
      });
      expect(JSON.parse(dl.items[0]!.record).id).toBe(poison.id);
      expect(runner.stats().pending).toBe(0);
    });

    it('stores rejections a stage reports with their reasons', async () => {
      const rejecting: Stage<NormalisedEvent, NormalisedEvent> = {
        name: 'rejecting',
        async process(batch) {
          return {
            outputs: batch.slice(1),
            rejected: [
              { item: batch[0], code: 'AISOC_ERR_PARSE', reason: 'first one is bad', field: 'time' },
            ],
          };
        },
      };
      const { runner, store } = await setup([rejecting]);
      await runner.submit({ events: [makeEvent(), makeEvent()], deadLetters: [] });
      await runner.drain(5000);
      expect((await store.deadLetters.list()).items[0]).toMatchObject({
        stage: 'rejecting',
        field: 'time',
        code: 'AISOC_ERR_PARSE',
      });
    });

    it('refuses beyond its capacity with a retry hint, and refuses new input once stopping', async () => {
      const blocked = gated('blocked');
      const { runner } = await setup([blocked], { queue_capacity: 30, stage_queue_batches: 1 });
      await runner.submit({ events: Array.from({ length: 25 }, () => makeEvent()), deadLetters: [] });
      const refused = await failure(
        runner.submit({ events: Array.from({ length: 10 }, () => makeEvent()), deadLetters: [] }),
      );
      expect(refused).toBeInstanceOf(AisocError);
      expect(isBackpressure(refused)).toBe(true);
      expect((refused as AisocError).code).toBe('AISOC_ERR_OVERLOADED');
      expect((refused as AisocError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      // admit says the same before anything is decoded.
      expect(isBackpressure(await failure(() => runner.admit(10)))).toBe(true);
      expect(runner.stats().pending).toBe(25);
      blocked.release();
      await runner.drain(5000);
      await runner.submit({ events: Array.from({ length: 10 }, () => makeEvent()), deadLetters: [] });
      const stopping = runner.stop();
      expect(() => runner.admit(1)).toThrow(/shutting down/);
      await stopping;
      expect(runner.stats().pending).toBe(0);
      const late = await failure(runner.submit({ events: [makeEvent()], deadLetters: [] }));
      expect((late as AisocError).code).toBe('AISOC_ERR_SHUTTING_DOWN');
    });

    it('drains at once when idle, and gives up after its timeout while a stage holds events', async () => {
      const gate = gated();
      const { runner } = await setup([gate]);
      await runner.drain(1000);
      await runner.submit({ events: [makeEvent()], deadLetters: [] });
      const timedOut = await failure(runner.drain(50));
      expect(timedOut).toBeInstanceOf(AisocError);
      expect(runner.stats().pending).toBe(1);
      gate.release();
      await runner.drain(5000);
      expect(runner.stats()).toMatchObject({ pending: 0, processed: 1 });
    });
  });
}
