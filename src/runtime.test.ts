import { afterAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../test/helpers/builders.ts';
import { tempDir } from '../test/helpers/runtime.ts';
import { loadConfig } from './app-config.ts';
import { EVENTS_OFFSET } from './pipeline/embedded.ts';
import { retentionMetrics } from './pipeline/metrics.ts';
import { ensureAdminKey, openRuntime } from './runtime.ts';
import { openStore } from './store/index.ts';
import { dayStart, partitionName } from './store/repos/event-partitions.ts';

describe('runtime', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('deletes events past retention at start, keeping recent and unprocessed ones', async () => {
    const dataDir = `${dir}/retention`;
    const store = await openStore({ dataDir });
    const old = new Date(Date.now() - 10 * 86_400_000).toISOString();
    // A day all of whose events are expired and processed: its partition is dropped whole.
    await store.events.insert([
      makeEvent({ time: old, ingested_at: old }),
      makeEvent({ time: old, ingested_at: old }),
    ]);
    const { stored } = await store.events.insert([
      makeEvent({ ingested_at: old }),
      makeEvent({ ingested_at: old }),
      makeEvent({ ingested_at: new Date().toISOString() }),
    ]);
    // The first three events have been processed; the fourth has not, so retention must keep it.
    await store.offsets.set(EVENTS_OFFSET, stored[0]!.seq);
    const partitions = await store.events.partitionNames();
    await store.close();
    const config = loadConfig({ env: {}, overrides: { data_dir: dataDir, retention: { events_days: 7 } } });
    // The pipeline holds the unprocessed event until the end: the sweep must keep it because it is
    // unprocessed, not because it ran before the pipeline got to it.
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const hold = {
      name: 'hold',
      async process(batch: unknown[]) {
        await gate;
        return { outputs: batch };
      },
    };
    const rt = await openRuntime(config, { retention: true, stages: [hold] });
    try {
      for (let i = 0; i < 100 && (await rt.store.events.count()) !== 2; i++)
        await new Promise((r) => setTimeout(r, 50));
      const left = (await rt.store.events.list({ limit: 10 })).items.map((e) => e.id);
      expect(left.sort()).toEqual([stored[1]!.id, stored[2]!.id].sort());
      const oldDay = partitionName(dayStart(Date.parse(old)));
      expect(partitions).toContain(oldDay);
      expect(await rt.store.events.partitionNames()).toEqual(partitions.filter((p) => p !== oldDay));
      expect(await retentionMetrics(rt.metrics).eventsPurged.get()).toMatchObject({ values: [{ value: 3 }] });
    } finally {
      release();
      await rt.close();
    }
  });

  it("makes today's and tomorrow's event partitions in the retention sweep, before any event", async () => {
    const config = loadConfig({
      env: {},
      overrides: { data_dir: `${dir}/prepare`, retention: { events_days: 7 } },
    });
    const rt = await openRuntime(config, { retention: true });
    try {
      const today = dayStart(Date.now());
      const wanted = [partitionName(today), partitionName(today + 86_400_000)];
      let names: string[] = [];
      for (let i = 0; i < 200 && !wanted.every((w) => names.includes(w)); i++) {
        await new Promise((r) => setTimeout(r, 50));
        names = await rt.store.events.partitionNames();
      }
      expect(names).toEqual(expect.arrayContaining(wanted));
      expect(await rt.store.events.count()).toBe(0);
    } finally {
      await rt.close();
    }
  });

  it('creates one admin key, or registers AISOC_ADMIN_KEY', async () => {
    const store = await openStore({});
    try {
      const first = await ensureAdminKey(store, `${dir}/keys`, {});
      expect(first.created).toBe(true);
      const second = await ensureAdminKey(store, `${dir}/keys`, {});
      expect(second).toMatchObject({ created: false, key: first.key });
      const env = await ensureAdminKey(store, `${dir}/keys`, {
        AISOC_ADMIN_KEY: 'aisoc_from_env_0123456789abcdef01',
      });
      expect(env.key).toBe('aisoc_from_env_0123456789abcdef01');
      expect((await store.apiKeys.findActiveByKey('aisoc_from_env_0123456789abcdef01'))?.scopes).toEqual([
        'admin',
      ]);
    } finally {
      await store.close();
    }
  });

  it('refuses an AISOC_ADMIN_KEY shorter than 32 characters, naming it, and registers nothing', async () => {
    const store = await openStore({});
    try {
      for (const weak of ['a', 'x'.repeat(31), `${'x'.repeat(20)} ${'y'.repeat(20)}`]) {
        await expect(ensureAdminKey(store, `${dir}/weak`, { AISOC_ADMIN_KEY: weak })).rejects.toMatchObject({
          code: 'AISOC_ERR_CONFIG',
          field: 'AISOC_ADMIN_KEY',
        });
        expect(await store.apiKeys.findActiveByKey(weak)).toBeUndefined();
      }
      expect(await store.apiKeys.hasActiveAdmin()).toBe(false);
      const ok = 'k'.repeat(32);
      expect((await ensureAdminKey(store, `${dir}/weak`, { AISOC_ADMIN_KEY: ok })).key).toBe(ok);
    } finally {
      await store.close();
    }
  });

  it('says whether the saved admin key has been used yet', async () => {
    const store = await openStore({});
    try {
      const first = await ensureAdminKey(store, `${dir}/unused`, {});
      expect(first).toMatchObject({ created: true, unused: true });
      expect(await ensureAdminKey(store, `${dir}/unused`, {})).toMatchObject({
        created: false,
        unused: true,
      });
      const record = await store.apiKeys.findActiveByKey(first.key!);
      await store.apiKeys.touch(record!.id);
      expect(await ensureAdminKey(store, `${dir}/unused`, {})).toMatchObject({
        created: false,
        unused: false,
      });
    } finally {
      await store.close();
    }
  });
});
