import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, nkeys } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../../test/helpers/builders.ts';
import { type NatsServer, natsServerAvailable, startNatsServer } from '../../../test/helpers/nats.ts';
import { freshDatabase, postgresAvailable } from '../../../test/helpers/postgres.ts';
import { tempDir } from '../../../test/helpers/runtime.ts';
import { AisocError, isBackpressure } from '../../errors.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import { openStore } from '../../store/index.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../../telemetry/metrics.ts';
import { PipelineConfig } from '../config.ts';
import type { PipelineRunner, RunnerFactory, RunnerRole } from '../runner.ts';
import { createRunner, RUNNERS } from '../runners.ts';
import type { AnyStage, Stage } from '../stage.ts';
import { collector, describeRunnerConformance, gated } from '../testing/runner-conformance.ts';
import type { NatsRunnerConfig } from './config.ts';
import { AsyncPublisher } from './publisher.ts';
import { natsRunnerFactory } from './runner.ts';

const ready = (await postgresAvailable()) && natsServerAvailable();

/** Every NATS runner the tests build, so one a test abandoned (a simulated crash) is stopped after it. */
const built: PipelineRunner[] = [];
const tracking: Readonly<Record<string, RunnerFactory<unknown>>> = {
  ...RUNNERS,
  nats: {
    ...natsRunnerFactory,
    create: (ctx) => {
      const runner = natsRunnerFactory.create(ctx);
      built.push(runner);
      return runner;
    },
  },
};
afterEach(async () => {
  for (const r of built.splice(0)) await r.stop(200).catch(() => {});
});

let nats: NatsServer;
let prefixes = 0;

/** Settings that make redelivery quick enough to test. */
const FAST: Partial<NatsRunnerConfig> = {
  ack_wait_ms: 1000,
  backoff_ms: [500],
  max_deliver: 4,
  info_interval_ms: 100,
};

/** A fresh database and stream names of their own on `server` (default: the file's server). */
async function environment(server: () => NatsServer = () => nats, section: Partial<NatsRunnerConfig> = {}) {
  const db = await freshDatabase();
  const store = await openStore({ databaseUrl: db.url });
  const prefix = `t${process.pid}x${++prefixes}`;
  return {
    db,
    store,
    section: { servers: [server().url], prefix, ...FAST, ...section },
    async close() {
      await store.close();
      await db.drop();
    },
  };
}

async function eventually(check: () => Promise<void> | void, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

describe.skipIf(!ready)('the NATS JetStream runner', () => {
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.close();
  });

  // The contract every runner keeps, against a real nats-server and a real PostgreSQL database per test.
  // The events table is filled by the first stage (the stream is the log), so the suite waits for it there.
  describeRunnerConformance({
    type: 'nats',
    runners: tracking,
    eventsStored: 'first-stage',
    environment: () => environment(),
  });

  describe('its own behaviour', () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    type Env = Awaited<ReturnType<typeof environment>>;

    async function setup(o: {
      stages: AnyStage[];
      role?: RunnerRole;
      env?: Env;
      section?: Partial<NatsRunnerConfig>;
      settings?: Partial<PipelineConfig>;
      server?: () => NatsServer;
      metrics?: Metrics;
    }) {
      let env = o.env;
      if (!env) {
        const fresh = await environment(o.server, o.section);
        cleanups.push(() => fresh.close());
        env = fresh;
      }
      const metrics = o.metrics ?? createMetrics({ defaultMetrics: false });
      const runner = createRunner(
        'nats',
        {
          store: env.store,
          logger: silentLogger(),
          metrics,
          config: {
            ...PipelineConfig.parse({ retry_backoff_ms: 1, batch_size: 10, ...o.settings }),
            nats: { ...PipelineConfig.parse({}).nats, ...env.section },
          },
          stages: o.stages,
          role: o.role ?? 'all',
        },
        tracking,
      );
      await runner.start();
      cleanups.push(() => runner.stop(2000));
      return { env, runner, metrics };
    }

    /** A plain client on the test's server, for what the runner does not do: publishing junk, reading streams. */
    async function client(url = nats.url) {
      const nc = await connect({ servers: [url] });
      cleanups.push(() => nc.close());
      return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
    }

    async function counter(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
      const metric = await metrics.registry.getSingleMetric(name)?.get();
      const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
      return value?.value ?? 0;
    }

    it('gives what a worker held when it died to another worker, after the ack wait', async () => {
      const env = await environment();
      cleanups.push(() => env.close());
      // An api process takes the events (its start creates the consumer, so the stream keeps them).
      const { runner: api } = await setup({ stages: [collector('work')], role: 'api', env });
      const events = Array.from({ length: 20 }, () => makeEvent());
      expect(await api.submit({ events, deadLetters: [] })).toMatchObject({ stored: 20 });
      // A worker process takes them and hangs in its stage; then it is killed without acknowledging.
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(new URL('./fixtures/hung-worker.ts', import.meta.url)),
          env.db.url,
          nats.url,
          env.section.prefix,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      const exited = new Promise((r) => child.once('exit', r));
      cleanups.push(async () => {
        child.kill('SIGKILL');
        await exited;
      });
      await eventually(() => expect(out).toMatch(/took \d+/), 60_000);
      child.kill('SIGKILL');
      await exited;
      // A second worker gets every event, each once, once JetStream redelivers.
      const sink = collector('work');
      const metrics = createMetrics({ defaultMetrics: false });
      const { runner: worker } = await setup({ stages: [sink], role: 'worker', env, metrics });
      await worker.drain(30_000);
      expect([...sink.seen].sort()).toEqual(events.map((e) => e.id).sort());
      expect(await counter(metrics, 'aisoc_nats_deliveries_total', { kind: 'redelivery' })).toBeGreaterThan(
        0,
      );
      expect(await env.store.events.count({})).toBe(20);
    });

    it('moves a message it cannot decode to the dead-letter subject and table with the reason, and goes on', async () => {
      const sink = collector();
      const { runner, env } = await setup({ stages: [sink] });
      const { js, jsm } = await client();
      await js.publish(`${env.section.prefix}.events.cloudtrail`, 'this is not json', { msgID: 'junk-1' });
      const good = makeEvent();
      await runner.submit({ events: [good], deadLetters: [] });
      await runner.drain(10_000);
      expect(sink.seen).toEqual([good.id]);
      const dead = await env.store.deadLetters.list();
      expect(dead.items).toHaveLength(1);
      expect(dead.items[0]).toMatchObject({
        stage: 'collect',
        source: 'cloudtrail',
        code: 'AISOC_ERR_PARSE',
        record: 'this is not json',
      });
      expect(dead.items[0]!.reason).toMatch(/not JSON/);
      // The dead-letter stream keeps the message with the reason, for inspection and replay.
      const stored = await jsm.streams.getMessage(`${env.section.prefix}_dead`, { seq: 1 });
      expect(stored?.string()).toBe('this is not json');
      expect(stored?.header.get('Aisoc-Reason')).toMatch(/not JSON/);
      expect(stored?.subject).toBe(`${env.section.prefix}.dead.collect`);
      expect(runner.stats().pending).toBe(0);
      expect(runner.stats().stages[0]!.dead_lettered).toBe(1);
    });

    it('hands back a message whose batch cannot be stored, then dead-letters it at its last delivery', async () => {
      const sink = collector();
      const metrics = createMetrics({ defaultMetrics: false });
      const { runner, env } = await setup({ stages: [sink], section: { max_deliver: 3 }, metrics });
      // The events table refuses this one (its time is no time); the others in its batch go on.
      const bad = makeEvent({ time: 'not a time' });
      const fine = [makeEvent(), makeEvent()];
      await runner.submit({ events: [fine[0]!, bad, fine[1]!], deadLetters: [] });
      await runner.drain(20_000);
      expect([...sink.seen].sort()).toEqual(fine.map((e) => e.id).sort());
      const dead = await env.store.deadLetters.list();
      expect(dead.items).toHaveLength(1);
      expect(dead.items[0]).toMatchObject({ stage: 'collect', code: 'AISOC_ERR_INTERNAL' });
      expect(dead.items[0]!.reason).toMatch(/delivery 2 of 3: the event could not be stored/);
      expect(JSON.parse(dead.items[0]!.record).id).toBe(bad.id);
      expect(await counter(metrics, 'aisoc_nats_naks_total', { stage: 'collect' })).toBe(1);
      expect(await env.store.events.count({})).toBe(2);
    });

    it('publishes a stage output once: a copy with the same content is dropped by JetStream', async () => {
      // A stage that passes every event on twice: the second copy has the first's message id.
      const twice: Stage<NormalisedEvent, NormalisedEvent> = {
        name: 'twice',
        async process(batch) {
          return { outputs: [...batch, ...batch.map((e) => ({ ...e }))] };
        },
      };
      const sink = collector('sink');
      const metrics = createMetrics({ defaultMetrics: false });
      const { runner, env } = await setup({ stages: [twice, sink], metrics });
      const events = Array.from({ length: 5 }, () => makeEvent());
      await runner.submit({ events, deadLetters: [] });
      await runner.drain(10_000);
      expect([...sink.seen].sort()).toEqual(events.map((e) => e.id).sort());
      expect(
        await counter(metrics, 'aisoc_nats_publishes_total', { stream: 'sink', outcome: 'duplicate' }),
      ).toBe(5);
      // The same events sent again within the duplicate window are not stored again, nor processed.
      expect(await runner.submit({ events, deadLetters: [] })).toEqual({
        stored: 0,
        duplicates: 5,
        dead_letters: 0,
      });
      await runner.drain(10_000);
      expect(sink.seen).toHaveLength(5);
      // The checkpoint of each consumer is its ack floor, as JetStream reports it.
      expect(await env.store.offsets.get(`nats:${env.section.prefix}-twice`)).toBe(runner.stats().checkpoint);
      expect(runner.stats().checkpoint).toBe(5);
    });

    it('refuses input while nats-server is down, and loses nothing acknowledged when it comes back', async () => {
      const own = await startNatsServer();
      cleanups.push(() => own.close());
      const gate = gated('gate');
      const sink = collector('sink');
      const { runner, env } = await setup({
        stages: [gate, sink],
        server: () => own,
        // No redelivery while the gate holds a batch: this test is about the restart, not the ack wait.
        section: { ack_wait_ms: 60_000, backoff_ms: [], request_timeout_ms: 2000 },
      });
      const before = Array.from({ length: 15 }, () => makeEvent());
      await runner.submit({ events: before, deadLetters: [] });
      await own.kill();
      const refused = await runner.submit({ events: [makeEvent()], deadLetters: [] }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(AisocError);
      expect((refused as AisocError).code).toBe('AISOC_ERR_STREAM_UNAVAILABLE');
      expect((refused as AisocError).status).toBe(503);
      expect((refused as AisocError).retryAfterSeconds).toBeGreaterThan(0);
      expect(isBackpressure(refused)).toBe(true);
      await own.restart();
      // A client resends what was refused until it is taken.
      const after = Array.from({ length: 5 }, () => makeEvent());
      await eventually(async () => {
        await runner.submit({ events: after, deadLetters: [] });
      }, 30_000);
      gate.release();
      await runner.drain(30_000);
      const all = [...before, ...after].map((e) => e.id).sort();
      expect([...new Set(sink.seen)].sort()).toEqual(all);
      expect(await env.store.events.count({})).toBe(all.length);
    });

    it('makes its streams and consumers again when the server lost them (memory storage)', async () => {
      const own = await startNatsServer();
      cleanups.push(() => own.close());
      const sink = collector();
      const { runner } = await setup({ stages: [sink], server: () => own, section: { storage: 'memory' } });
      await own.restart();
      const events = [makeEvent(), makeEvent()];
      await eventually(async () => {
        await runner.submit({ events, deadLetters: [] });
      }, 30_000);
      await runner.drain(20_000);
      expect([...sink.seen].sort()).toEqual(events.map((e) => e.id).sort());
    });

    it('runs no stage in the api role; a worker over the same streams does the work', async () => {
      const env = await environment();
      cleanups.push(() => env.close());
      const idle = collector('collect');
      const { runner: api } = await setup({ stages: [idle], role: 'api', env });
      const events = Array.from({ length: 5 }, () => makeEvent());
      await api.submit({ events, deadLetters: [] });
      const { jsm } = await client();
      const info = await jsm.consumers.info(`${env.section.prefix}_events`, `${env.section.prefix}-collect`);
      expect(info.config.ack_policy).toBe(AckPolicy.Explicit);
      expect(info.num_pending).toBe(5);
      expect(info.delivered.stream_seq).toBe(0);
      expect(idle.seen).toEqual([]);
      expect(api.stats()).toMatchObject({ pending: 5, processed: 0 });
      const sink = collector('collect');
      const { runner: worker } = await setup({ stages: [sink], role: 'worker', env });
      await worker.drain(10_000);
      await api.drain(10_000);
      expect([...sink.seen].sort()).toEqual(events.map((e) => e.id).sort());
      expect(idle.seen).toEqual([]);
      expect(api.stats().pending).toBe(0);
      // The api role writes no checkpoints; the worker does.
      expect(await env.store.offsets.get(`nats:${env.section.prefix}-collect`)).toBe(5);
    });

    it('keeps an event larger than the server takes in the store, and passes it on whole', async () => {
      const sink = collector();
      const { runner, env } = await setup({ stages: [sink] });
      const big = makeEvent({ raw: { blob: 'x'.repeat(1_200_000) } });
      await runner.submit({ events: [big, makeEvent()], deadLetters: [] });
      await runner.drain(10_000);
      expect(sink.seen).toContain(big.id);
      const stored = await env.store.events.get(big.id);
      expect((stored!.raw as { blob: string }).blob).toHaveLength(1_200_000);
      // The claim is removed once the stage has acknowledged the message.
      expect(await env.store.kv.get(`nats:claim:${big.id}`)).toBeUndefined();
    });

    it('publishes with acknowledgements: a duplicate is flagged, a subject no stream takes is refused', async () => {
      const { nc, jsm } = await client();
      await jsm.streams.add({ name: `p${process.pid}`, subjects: [`p${process.pid}.>`] });
      const publisher = new AsyncPublisher(nc, 2000);
      cleanups.push(async () => publisher.close());
      const body = new TextEncoder().encode('{}');
      const acks = await Promise.all(
        ['a', 'b', 'a'].map((id) => publisher.publish(`p${process.pid}.x`, body, id)),
      );
      expect(acks.map((a) => [a.seq, a.duplicate])).toEqual([
        [1, false],
        [2, false],
        [1, true],
      ]);
      await expect(publisher.publish('nobody.listens', body, 'c')).rejects.toThrow(/503/);
    });

    it('says where it cannot connect, naming pipeline.nats.servers', async () => {
      const env = await environment();
      cleanups.push(() => env.close());
      const refused = await startNatsServer();
      await refused.close();
      const runner = createRunner(
        'nats',
        {
          store: env.store,
          logger: silentLogger(),
          metrics: createMetrics({ defaultMetrics: false }),
          config: PipelineConfig.parse({ nats: { servers: [refused.url], connect_timeout_ms: 500 } }),
          stages: [collector()],
        },
        tracking,
      );
      const err = await runner.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AisocError);
      expect((err as AisocError).field).toBe('pipeline.nats.servers');
      expect((err as AisocError).message).toContain(refused.url);
    });

    describe('on a server that requires authentication', () => {
      const secured: NatsServer[] = [];
      afterAll(async () => {
        for (const s of secured) await s.close();
      });
      async function server(args: string[]): Promise<NatsServer> {
        const s = await startNatsServer({ args });
        secured.push(s);
        return s;
      }
      async function attempt(s: NatsServer, section: Partial<NatsRunnerConfig>) {
        const env = await environment(() => s, section);
        cleanups.push(() => env.close());
        const runner = createRunner(
          'nats',
          {
            store: env.store,
            logger: silentLogger(),
            metrics: createMetrics({ defaultMetrics: false }),
            config: PipelineConfig.parse({ nats: { ...env.section, connect_timeout_ms: 30_000 } }),
            stages: [collector()],
          },
          tracking,
        );
        const err = await runner.start().then(
          () => undefined,
          (e: unknown) => e as AisocError,
        );
        if (!err) {
          cleanups.push(() => runner.stop(2000));
          expect(await runner.submit({ events: [makeEvent()], deadLetters: [] })).toMatchObject({
            stored: 1,
          });
        }
        return err;
      }

      it('connects with user and password; refuses wrong ones and none, naming the field, never echoing the secret', async () => {
        const s = await server(['--user', 'aisoc', '--pass', 'correct-horse']);
        expect(await attempt(s, { user: 'aisoc', password: 'correct-horse' })).toBeUndefined();
        const wrong = await attempt(s, { user: 'aisoc', password: 'battery-staple' });
        expect(wrong).toBeInstanceOf(AisocError);
        expect(wrong?.field).toBe('pipeline.nats.user');
        expect(wrong?.message).toMatch(/refused these credentials/);
        expect(wrong?.message).not.toContain('battery-staple');
        const none = await attempt(s, {});
        expect(none?.field).toBe('pipeline.nats.user');
        expect(none?.message).toMatch(/without credentials: set pipeline.nats.user and password, token/);
      });

      it('connects with a token', async () => {
        const s = await server(['--auth', 's3cr3t-token-value']);
        expect(await attempt(s, { token: 's3cr3t-token-value' })).toBeUndefined();
        const wrong = await attempt(s, { token: 'guess' });
        expect(wrong?.field).toBe('pipeline.nats.token');
        expect(wrong?.message).not.toContain('guess');
      });

      it('connects with an NKey seed file; a missing or foreign file is an error naming the field', async () => {
        const { dir, cleanup } = tempDir('aisoc-nkey-');
        cleanups.push(async () => cleanup());
        const user = nkeys.createUser();
        const conf = join(dir, 'server.conf');
        writeFileSync(conf, `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }\n`);
        const seedFile = join(dir, 'user.nk');
        writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
        const s = await server(['-c', conf]);
        expect(await attempt(s, { nkey_seed_file: seedFile })).toBeUndefined();
        const other = join(dir, 'other.nk');
        writeFileSync(other, new TextDecoder().decode(nkeys.createUser().getSeed()));
        expect((await attempt(s, { nkey_seed_file: other }))?.field).toBe('pipeline.nats.nkey_seed_file');
        const missing = await attempt(s, { nkey_seed_file: join(dir, 'absent.nk') });
        expect(missing?.field).toBe('pipeline.nats.nkey_seed_file');
        expect(missing?.message).toMatch(/cannot read .*absent\.nk \(ENOENT\)/);
        const junk = join(dir, 'junk.nk');
        writeFileSync(junk, 'not a seed\n');
        expect((await attempt(s, { nkey_seed_file: junk }))?.message).toMatch(
          /does not hold a user NKey seed/,
        );
        const creds = join(dir, 'user.creds');
        writeFileSync(creds, 'just text\n');
        const badCreds = await attempt(s, { creds_file: creds });
        expect(badCreds?.field).toBe('pipeline.nats.creds_file');
        expect(badCreds?.message).toMatch(/not a NATS credentials file/);
      });
    });

    it('bounds retention by age alone: the stream, not the events table, holds unprocessed events', async () => {
      const { runner } = await setup({ stages: [collector()] });
      expect(await runner.retentionFloor?.()).toBe(Number.MAX_SAFE_INTEGER);
    });
  });
});
