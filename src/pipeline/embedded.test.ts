import { afterEach, describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/helpers/builders.ts';
import { openStore, type Store } from '../store/index.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { PipelineConfig } from './config.ts';
import { EmbeddedRunner, EVENTS_OFFSET } from './embedded.ts';
import type { AnyStage } from './stage.ts';
import { collector, describeRunnerConformance } from './testing/runner-conformance.ts';

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

// The contract every runner keeps (durability, every event once and in log order here, retries, dead
// letters, back-pressure, drain and stop) is the shared suite; what follows is the embedded runner's own.
describeRunnerConformance({ type: 'embedded', ordered: true });

describe('embedded runner', () => {
  it('checkpoints the log position once the events have passed every stage', async () => {
    const { runner, store } = await setup([collector('first'), collector('second')]);
    const events = Array.from({ length: 35 }, () => makeEvent());
    await runner.submit({ events: events.slice(0, 20), deadLetters: [] });
    await runner.submit({ events: events.slice(20), deadLetters: [] });
    await runner.drain(5000);
    expect(runner.stats()).toMatchObject({ pending: 0, processed: 35 });
    expect(await store.offsets.get(EVENTS_OFFSET)).toBe(await store.events.maxSeq());
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
});
