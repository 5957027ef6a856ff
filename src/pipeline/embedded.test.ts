import { afterEach, describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/helpers/builders.ts';
import { AisocError } from '../errors.ts';
import type { NormalisedEvent } from '../schema/event.ts';
import { openStore, type Store } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { PipelineConfig } from './config.ts';
import { EmbeddedRunner, EVENTS_OFFSET } from './embedded.ts';
import type { AnyStage, Stage } from './stage.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(stages: AnyStage[], config: Partial<PipelineConfig> = {}, store?: Store) {
  const s = store ?? (await openStore({}));
  const runner = new EmbeddedRunner({
    store: s,
    logger: silentLogger(),
    metrics: createMetrics({ defaultMetrics: false }),
    config: PipelineConfig.parse({ retry_backoff_ms: 1, batch_size: 10, ...config }),
    stages,
  });
  await runner.start();
  if (!store) cleanups.push(() => s.close());
  cleanups.push(() => runner.stop());
  return { store: s, runner };
}

function collector(name = 'collect'): Stage<NormalisedEvent, NormalisedEvent> & { seen: string[] } {
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

describe('embedded runner', () => {
  it('passes every event through every stage in log order and checkpoints', async () => {
    const first = collector('first');
    const second = collector('second');
    const { runner, store } = await setup([first, second]);
    const events = Array.from({ length: 35 }, () => makeEvent());
    await runner.submit({ events: events.slice(0, 20), deadLetters: [] });
    await runner.submit({ events: events.slice(20), deadLetters: [] });
    await runner.drain(5000);
    expect(first.seen).toEqual(events.map((e) => e.id));
    expect(second.seen).toEqual(events.map((e) => e.id));
    expect(runner.stats()).toMatchObject({ pending: 0, processed: 35 });
    expect(await store.offsets.get(EVENTS_OFFSET)).toBe(await store.events.maxSeq());
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
    expect(sink.seen).toEqual(events.map((e) => e.id));
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
    expect(sink.seen).toEqual([events[0]!.id, events[2]!.id]);
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
          rejected: [{ item: batch[0], code: 'AISOC_ERR_PARSE', reason: 'first one is bad', field: 'time' }],
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

  it('resumes after a restart from the checkpoint: unprocessed events run once, processed ones never again', async () => {
    const store = await openStore({});
    cleanups.push(() => store.close());
    // Events accepted by a previous process that died before processing the last three.
    const events = Array.from({ length: 8 }, () => makeEvent());
    const { stored } = await store.events.insert(events);
    await store.offsets.set(EVENTS_OFFSET, stored[4]!.seq);
    const sink = collector();
    const { runner } = await setup([sink], {}, store);
    expect(runner.stats().pending).toBe(3);
    const fresh = makeEvent();
    await runner.submit({ events: [fresh], deadLetters: [] });
    await runner.drain(5000);
    expect(sink.seen).toEqual([...events.slice(5).map((e) => e.id), fresh.id]);
    await runner.stop();
    const again = collector();
    const second = await setup([again], {}, store);
    await second.runner.drain(1000);
    expect(again.seen).toEqual([]);
  });

  it('refuses beyond its capacity with a retry hint, and refuses new input once stopping', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const blocked: Stage<NormalisedEvent, NormalisedEvent> = {
      name: 'blocked',
      async process(batch) {
        await gate;
        return { outputs: batch };
      },
    };
    const { runner } = await setup([blocked], { queue_capacity: 30, stage_queue_batches: 1 });
    await runner.submit({ events: Array.from({ length: 25 }, () => makeEvent()), deadLetters: [] });
    let refused: unknown;
    try {
      await runner.submit({ events: Array.from({ length: 10 }, () => makeEvent()), deadLetters: [] });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(AisocError);
    expect((refused as AisocError).code).toBe('AISOC_ERR_OVERLOADED');
    expect((refused as AisocError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(runner.stats().pending).toBe(25);
    release();
    await runner.drain(5000);
    await runner.submit({ events: Array.from({ length: 10 }, () => makeEvent()), deadLetters: [] });
    const stopping = runner.stop();
    expect(() => runner.admit(1)).toThrow(/shutting down/);
    await stopping;
    expect(runner.stats().pending).toBe(0);
  });
});
