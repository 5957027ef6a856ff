import { readFileSync } from 'node:fs';
import type {
  ConsumerConfig,
  ConsumerMessages,
  JetStreamManager,
  JsMsg,
  PubAck,
  StreamConfig,
} from '@nats-io/jetstream';
import type { ConnectionOptions, MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { canonicalHash } from '../../analyst/cache-key.ts';
import { AisocError, describeError } from '../../errors.ts';
import type { NormalisedEvent } from '../../schema/event.ts';
import type { DeadLetterInput } from '../../store/index.ts';
import type { PipelineConfig } from '../config.ts';
import {
  admitQueue,
  DrainWaiters,
  drainBeforeStop,
  emptyStageStats,
  type QueueState,
  StageExecutor,
  sleep,
  storeSubmission,
} from '../execution.ts';
import { admissionMetrics, pipelineMetrics } from '../metrics.ts';
import type {
  PipelineRunner,
  PipelineStats,
  RunnerContext,
  RunnerFactory,
  RunnerRole,
  StageStats,
  SubmitInput,
  SubmitResult,
} from '../runner.ts';
import { NatsRunnerConfig } from './config.ts';
import { type Layout, layoutOf, type StageRoute } from './layout.ts';
import { natsMetrics } from './metrics.ts';
import type { AsyncPublisher } from './publisher.ts';

/** Header of a message whose body is kept in the store (`kv`) because it is larger than the server takes. */
const CLAIM_HEADER = 'Aisoc-Claim';
/** Room left in a message for its subject and headers, below the server's `max_payload`. */
const HEADER_ROOM = 4096;
/** Publishes in flight at once, per submission or batch. */
const PUBLISH_WINDOW = 1024;
/** How often `drain` reads the consumers while someone waits on it, in ms. */
const DRAIN_POLL_MS = 50;
/** Events per insert statement when the first stage stores a batch. */
const INSERT_SLICE = 100;
/** Failure reasons remembered per message, for the dead letter its last delivery writes. */
const REMEMBERED_FAILURES = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One stage's consumer as this process runs it. */
interface StageConsumer {
  index: number;
  route: StageRoute;
  /** Messages received and not yet taken into a batch. */
  buffer: JsMsg[];
  messages?: ConsumerMessages;
  /** Wakes the batch loop when a message arrives or the runner stops. */
  wake?: () => void;
  /** Wakes the reader when the batch loop has made room. */
  room?: () => void;
  reader?: Promise<void>;
  loop?: Promise<void>;
}

/** What the last consumer read said about one stage. */
interface ConsumerState {
  /** Messages pending delivery plus delivered and not yet acknowledged. */
  backlog: number;
  /** The stream sequence every message up to which is acknowledged. */
  ackFloor: number;
  /** The ack floor last written to `pipeline_offsets`. */
  savedFloor: number;
}

/** A message decoded into the item its stage takes. */
interface Decoded {
  msg: JsMsg;
  item: unknown;
  /** The key of its body in the store when it came as a claim. */
  claim?: string;
}

function isEvent(v: unknown): v is NormalisedEvent {
  return typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'string';
}

/** A header value on one line, cut to a length any server takes. */
function headerText(text: string, max = 1024): string {
  const line = text.replace(/[\r\n]+/g, ' ');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** Run `fn` over `items` with at most `window` calls in flight, keeping the input order in the results. */
async function mapWindowed<T, R>(items: T[], window: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, items.length) }, worker));
  return out;
}

/**
 * The NATS JetStream runner (`pipeline.runner: nats`). Events are published
 * to a stream, one subject per source, with the event id as `Nats-Msg-Id`
 * (JetStream drops a second copy within `duplicate_window_ms`); `submit`
 * resolves once every publish is acknowledged. Each stage is a durable pull
 * consumer that every worker process shares: a worker takes a batch, the
 * first stage stores its events in the events table, the stage runs (with
 * the retries and dead letters of {@link StageExecutor}), its outputs are
 * published to the next stage's stream under a message id derived from
 * their content, and only then are the batch's messages acknowledged. A
 * worker that dies leaves its messages unacknowledged: JetStream delivers
 * them again, to any worker, after `ack_wait_ms` and then the `backoff_ms`
 * waits. A message that cannot be decoded, or that reached its last
 * delivery, goes to `<prefix>.dead.<stage>` and the dead-letter table with
 * the reason. PostgreSQL is required: the processes share it.
 *
 * Roles: `api` connects, makes sure the streams and consumers exist and
 * takes input; `worker` and `all` also run the stage consumers.
 */
/**
 * The NATS client, loaded when a runner starts: only a process configured
 * with `pipeline.runner: nats` needs it, and loading it cost every other
 * start (`aisoc serve` on the embedded runner, every CLI command) ~50 ms.
 */
interface NatsClient {
  js: typeof import('@nats-io/jetstream');
  core: typeof import('@nats-io/transport-node');
  publisher: typeof import('./publisher.ts');
}
let client: NatsClient | undefined;

async function loadClient(): Promise<NatsClient> {
  if (!client) {
    const [js, core, publisher] = await Promise.all([
      import('@nats-io/jetstream'),
      import('@nats-io/transport-node'),
      import('./publisher.ts'),
    ]);
    client = { js, core, publisher };
  }
  return client;
}

/**
 * The authentication and TLS options of a connection, from `pipeline.nats`:
 * user and password, a token, an NKey seed file or a credentials file (at
 * most one), and a CA file for tls:// servers. A file that cannot be read is
 * an error naming its field, before any connection is tried.
 */
export function connectionSecurity(
  config: NatsRunnerConfig,
  core: Pick<typeof import('@nats-io/transport-node'), 'credsAuthenticator' | 'nkeyAuthenticator'>,
): Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator' | 'tls'> {
  const read = (field: 'nkey_seed_file' | 'creds_file' | 'tls_ca_file', path: string): Uint8Array => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        `pipeline.nats.${field}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? describeError(err)}).`,
        { field: `pipeline.nats.${field}`, cause: err },
      );
    }
  };
  const out: Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator' | 'tls'> = {};
  if (config.user !== undefined && config.password !== undefined) {
    out.user = config.user;
    out.pass = config.password;
  }
  if (config.token !== undefined) out.token = config.token;
  if (config.nkey_seed_file !== undefined) {
    const seed = new TextDecoder().decode(read('nkey_seed_file', config.nkey_seed_file)).trim();
    if (!/^SU[A-Z2-7]{56}$/.test(seed))
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        `pipeline.nats.nkey_seed_file: ${config.nkey_seed_file} does not hold a user NKey seed (one line starting SU).`,
        { field: 'pipeline.nats.nkey_seed_file' },
      );
    out.authenticator = core.nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (config.creds_file !== undefined) {
    const creds = read('creds_file', config.creds_file);
    const text = new TextDecoder().decode(creds);
    if (!/-----BEGIN NATS USER JWT-----/.test(text) || !/-----BEGIN USER NKEY SEED-----/.test(text))
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        `pipeline.nats.creds_file: ${config.creds_file} is not a NATS credentials file (a user JWT and an NKey seed).`,
        { field: 'pipeline.nats.creds_file' },
      );
    out.authenticator = core.credsAuthenticator(creds);
  }
  if (config.tls_ca_file !== undefined)
    out.tls = { ca: new TextDecoder().decode(read('tls_ca_file', config.tls_ca_file)) };
  return out;
}

/** Which setting a refused authentication names. */
function authField(config: NatsRunnerConfig): string {
  if (config.token !== undefined) return 'pipeline.nats.token';
  if (config.nkey_seed_file !== undefined) return 'pipeline.nats.nkey_seed_file';
  if (config.creds_file !== undefined) return 'pipeline.nats.creds_file';
  return 'pipeline.nats.user';
}

/** The client, once a runner of this process has started (everything that calls this runs after `start`). */
function lib(): NatsClient {
  if (!client) throw new AisocError('AISOC_ERR_STREAM_UNAVAILABLE', 'The NATS runner is not started.');
  return client;
}

export class NatsRunner implements PipelineRunner {
  readonly kind = 'nats';
  private readonly ctx: RunnerContext;
  private readonly config: NatsRunnerConfig;
  private readonly pipeline: PipelineConfig;
  private readonly role: RunnerRole;
  private readonly layout: Layout;
  private readonly executor: StageExecutor;
  private readonly metrics;
  private readonly nats;
  private readonly stageStats: StageStats[];
  private readonly consumerState: ConsumerState[];
  private readonly consumers: StageConsumer[] = [];
  private readonly drains = new DrainWaiters();
  private readonly failures = new Map<string, string>();
  private nc?: NatsConnection;
  private jsm?: JetStreamManager;
  private publisher?: AsyncPublisher;
  private started = false;
  private running = false;
  private closing = false;
  private connected = false;
  private infoTimer?: NodeJS.Timeout;
  private drainTimer?: NodeJS.Timeout;
  private drainWaiters = 0;
  private refreshing?: Promise<void>;
  private stopping?: Promise<void>;
  /** Streams and consumers being made again after the server lost them (shared by every stage that noticed). */
  private recovery?: Promise<void>;
  /** Events this runner published (not duplicates), and how many of them the last consumer read had seen. */
  private published = 0;
  private seenPublished = 0;
  private inflightSubmits = 0;
  private processed = 0;
  /** Events per second through the first stage, smoothed from its ack floor; feeds Retry-After. */
  private rate = 0;
  private lastFloorAt = 0;

  constructor(ctx: RunnerContext) {
    this.ctx = ctx;
    this.pipeline = ctx.config;
    this.config = NatsRunnerConfig.parse((ctx.config as { nats?: unknown }).nats ?? {});
    this.role = ctx.role ?? 'all';
    if (ctx.store.engine !== 'postgres') {
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        'pipeline.runner: nats needs PostgreSQL, which its processes share: set AISOC_DATABASE_URL (or database_url) to a PostgreSQL URL.',
        { field: 'pipeline.runner' },
      );
    }
    this.layout = layoutOf(this.config, ctx.stages);
    this.executor = new StageExecutor(ctx);
    this.metrics = pipelineMetrics(ctx.metrics);
    this.nats = natsMetrics(ctx.metrics);
    this.stageStats = ctx.stages.map(emptyStageStats);
    this.consumerState = ctx.stages.map(() => ({ backlog: 0, ackFloor: 0, savedFloor: 0 }));
  }

  // ------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.started) return;
    const { servers, connect_timeout_ms, request_timeout_ms } = this.config;
    const { js, core, publisher } = await loadClient();
    const security = connectionSecurity(this.config, core);
    let nc: NatsConnection;
    try {
      nc = await core.connect({
        servers,
        timeout: connect_timeout_ms,
        name: `aisoc-${this.role}-${process.pid}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        ...security,
      });
    } catch (err) {
      const refused =
        (typeof core.AuthorizationError === 'function' && err instanceof core.AuthorizationError) ||
        /authori[sz]ation violation/i.test(describeError(err));
      if (refused) {
        const field = authField(this.config);
        throw new AisocError(
          'AISOC_ERR_CONFIG',
          `${field}: the NATS server at ${servers.join(', ')} refused ${security.user || security.token || security.authenticator ? 'these credentials' : 'a connection without credentials: set pipeline.nats.user and password, token, nkey_seed_file or creds_file (or their AISOC_NATS_* variables)'}.`,
          { field, cause: err },
        );
      }
      throw new AisocError(
        'AISOC_ERR_STREAM_UNAVAILABLE',
        `pipeline.nats.servers: no NATS server answered at ${servers.join(', ')} (${describeError(err)}).`,
        { field: 'pipeline.nats.servers', cause: err, retryAfterSeconds: 5 },
      );
    }
    this.nc = nc;
    this.connected = true;
    this.nats.connected.set(1);
    void this.watchConnection(nc);
    try {
      this.jsm = await js.jetstreamManager(nc, { timeout: request_timeout_ms });
      this.publisher = new publisher.AsyncPublisher(nc, request_timeout_ms);
      await this.ensureStreams();
      await this.refresh();
      this.running = true;
      if (this.role !== 'api') {
        for (let i = 0; i < this.layout.stages.length; i++) await this.runConsumer(i);
      }
    } catch (err) {
      this.running = false;
      for (const c of this.consumers) {
        c.wake?.();
        await c.messages?.close().catch(() => {});
      }
      await nc.close().catch(() => {});
      this.connected = false;
      this.nats.connected.set(0);
      throw err instanceof AisocError
        ? err
        : new AisocError(
            'AISOC_ERR_STREAM_UNAVAILABLE',
            `pipeline.nats: JetStream at ${servers.join(', ')} refused the runner's streams or consumers: ${describeError(err)}`,
            { field: 'pipeline.nats.servers', cause: err, retryAfterSeconds: 5 },
          );
    }
    this.started = true;
    this.infoTimer = setInterval(() => {
      this.refresh().catch((err) =>
        this.ctx.logger.debug({ err: describeError(err) }, 'The NATS consumers could not be read.'),
      );
    }, this.config.info_interval_ms);
    this.infoTimer.unref();
    this.ctx.logger.info(
      { role: this.role, servers, stages: this.layout.stages.map((s) => s.durable) },
      'The pipeline runs on NATS JetStream.',
    );
  }

  admit(n: number): void {
    admitQueue(this.ctx.metrics, this.queueState(), n, () => {
      this.checkConnected();
      this.ctx.pressure?.check(this.backlog() > 0);
    });
  }

  async submit(input: SubmitInput): Promise<SubmitResult> {
    admitQueue(this.ctx.metrics, this.queueState(), input.events.length, () => this.checkConnected());
    this.inflightSubmits++;
    try {
      const [acks, dead] = await Promise.all([
        this.publishEvents(input.events),
        input.deadLetters.length > 0
          ? storeSubmission(this.ctx.store, { events: [], deadLetters: input.deadLetters }, this.ctx)
          : undefined,
      ]);
      const duplicates = acks.filter((a) => a.duplicate).length;
      const stored = acks.length - duplicates;
      this.published += stored;
      this.updateGauges();
      return { stored, duplicates, dead_letters: dead?.deadLetters ?? 0 };
    } finally {
      this.inflightSubmits--;
    }
  }

  async drain(timeoutMs = 60_000): Promise<void> {
    await this.refresh().catch(() => {});
    this.drainWaiters++;
    if (!this.drainTimer) {
      this.drainTimer = setInterval(() => {
        this.refresh()
          .catch(() => {})
          .then(() => {
            if (this.pendingTotal() === 0) this.drains.release();
          });
      }, DRAIN_POLL_MS);
      this.drainTimer.unref();
    }
    try {
      await this.drains.wait(() => this.pendingTotal(), timeoutMs);
    } finally {
      if (--this.drainWaiters === 0) {
        clearInterval(this.drainTimer);
        this.drainTimer = undefined;
      }
    }
  }

  stop(timeoutMs = 30_000): Promise<void> {
    if (!this.started) return Promise.resolve();
    this.stopping ??= this.shutdown(timeoutMs);
    return this.stopping;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.closing = true;
    // `all` is one process doing everything: like the embedded runner, it finishes what it accepted first.
    // A worker leaves the backlog to the others; an api process has nothing of its own to finish.
    if (this.role === 'all') await drainBeforeStop(this, timeoutMs, this.ctx.logger);
    const deadline = Date.now() + timeoutMs;
    while (this.inflightSubmits > 0 && Date.now() < deadline) await sleep(10);
    this.running = false;
    for (const c of this.consumers) {
      c.wake?.();
      c.room?.();
      // Closing a consumer is local, but its promise waits on the connection: do not wait on a dead one.
      await Promise.race([c.messages?.close().catch(() => {}), sleep(1000)]);
    }
    // The batch in each stage finishes (it is acknowledged or handed back); a stage that hangs is left behind.
    await Promise.race([
      Promise.allSettled(this.consumers.flatMap((c) => [c.loop, c.reader])),
      sleep(Math.max(0, deadline - Date.now())),
    ]);
    // Messages received but never taken go back at once, for another worker.
    for (const c of this.consumers) for (const m of c.buffer.splice(0)) this.safely(() => m.nak());
    clearInterval(this.infoTimer);
    clearInterval(this.drainTimer);
    await this.refresh().catch(() => {});
    this.publisher?.close();
    const nc = this.nc;
    if (nc) {
      // Acknowledgements are sent before the connection closes; a server out of reach cannot take them.
      await Promise.race([nc.drain().catch(() => nc.close()), sleep(Math.max(1000, deadline - Date.now()))]);
      if (!nc.isClosed()) await nc.close().catch(() => {});
    }
    this.connected = false;
    this.nats.connected.set(0);
  }

  stats(): PipelineStats {
    return {
      runner: this.kind,
      pending: this.pendingTotal(),
      capacity: this.pipeline.queue_capacity,
      processed: this.processed,
      checkpoint: this.consumerState[0]?.ackFloor ?? 0,
      stages: this.stageStats.map((s, i) => ({
        ...s,
        queued_batches: Math.ceil((this.consumerState[i]?.backlog ?? 0) / this.pipeline.batch_size),
      })),
    };
  }

  /**
   * The events table is not this runner's log: the stream holds every event
   * not yet through the first stage, and no stage reads events back from the
   * table. Retention is bounded by age alone.
   */
  async retentionFloor(): Promise<number> {
    return Number.MAX_SAFE_INTEGER;
  }

  // ------------------------------------------------------------- admission

  /** Events accepted and not yet through the first stage: its consumer's backlog as last read, plus what this runner published since. */
  private backlog(): number {
    return (this.consumerState[0]?.backlog ?? 0) + (this.published - this.seenPublished);
  }

  /** Everything not yet through every stage: every consumer's backlog as last read, plus what this runner published since. */
  private pendingTotal(): number {
    let n = this.published - this.seenPublished;
    for (const s of this.consumerState) n += s.backlog;
    return n;
  }

  private queueState(): QueueState {
    return {
      closing: this.closing,
      pending: this.backlog(),
      capacity: this.pipeline.queue_capacity,
      retryAfterSeconds: () => Math.max(1, Math.min(60, Math.ceil(this.backlog() / Math.max(this.rate, 1)))),
    };
  }

  /** While the connection is down, input is refused with a retry hint (the client reconnects by itself). */
  private checkConnected(): void {
    if (this.connected) return;
    admissionMetrics(this.ctx.metrics).admissionRefusals.inc({ reason: 'stream' });
    throw new AisocError(
      'AISOC_ERR_STREAM_UNAVAILABLE',
      'The event stream (NATS JetStream) is out of reach; the server is reconnecting. Retry in 2 s.',
      { retryAfterSeconds: 2 },
    );
  }

  // ------------------------------------------------------------ publishing

  /** Publish events to their source's subject, the event id as message id; resolves with every acknowledgement. */
  private async publishEvents(events: NormalisedEvent[]): Promise<PubAck[]> {
    const limit = this.payloadLimit();
    try {
      return await mapWindowed(events, PUBLISH_WINDOW, async (event) => {
        const ack = await this.publish(
          this.layout.eventSubject(event.source),
          event,
          event.id,
          limit,
          this.layout.eventsStream,
        );
        return ack;
      });
    } catch (err) {
      if (err instanceof AisocError) throw err;
      throw new AisocError(
        'AISOC_ERR_STREAM_UNAVAILABLE',
        `The event stream (NATS JetStream) did not take the events: ${describeError(err)}. Retry in 2 s; events it took already are recognised by id.`,
        { retryAfterSeconds: 2, cause: err },
      );
    }
  }

  /** The largest body a message may have on the server this runner is connected to. */
  private payloadLimit(): number {
    return Math.max(HEADER_ROOM, (this.nc?.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM);
  }

  /**
   * Publish one item as JSON. A body larger than the server takes is kept
   * in the store (`kv`, under a key made from the message id) and the
   * message carries only the key (a claim check), so no event or output is
   * refused for its size.
   */
  private async publish(
    subject: string,
    item: unknown,
    msgID: string,
    limit: number,
    streamLabel: string,
  ): Promise<PubAck> {
    const publisher = this.publisher;
    if (!publisher) throw new AisocError('AISOC_ERR_STREAM_UNAVAILABLE', 'The NATS runner is not started.');
    let payload = encoder.encode(JSON.stringify(item) ?? 'null');
    let hdrs: MsgHdrs | undefined;
    if (payload.byteLength > limit) {
      const key = `nats:claim:${msgID}`;
      await this.ctx.store.kv.set(key, item);
      hdrs = lib().core.headers();
      hdrs.set(CLAIM_HEADER, key);
      payload = new Uint8Array(0);
    }
    try {
      const ack = await publisher.publish(subject, payload, msgID, hdrs);
      this.nats.publishes.inc({ stream: streamLabel, outcome: ack.duplicate ? 'duplicate' : 'stored' });
      return ack;
    } catch (err) {
      this.nats.publishes.inc({ stream: streamLabel, outcome: 'failed' });
      throw err;
    }
  }

  // ---------------------------------------------------- streams, consumers

  private streamConfig(name: string, subjects: string[]): Partial<StreamConfig> & { name: string } {
    const { js, core } = lib();
    return {
      name,
      subjects,
      // A message stays until every consumer of its stream has acknowledged it (one per stage here).
      retention: js.RetentionPolicy.Interest,
      storage: this.config.storage === 'memory' ? js.StorageType.Memory : js.StorageType.File,
      num_replicas: this.config.replicas,
      duplicate_window: core.nanos(this.config.duplicate_window_ms),
      discard: js.DiscardPolicy.Old,
    };
  }

  /**
   * Make sure every stream exists with this configuration, each stage's
   * stream with its consumer. A stream keeps a message only while a
   * consumer is interested (interest retention), so a new stream is created
   * on a placeholder subject, given its consumer, and only then takes its
   * real subjects: nothing published in between is dropped for want of a
   * consumer. Every process does this at start (another may have done it
   * first: each step is idempotent), and again if the server lost them.
   */
  private async ensureStreams(): Promise<void> {
    for (let i = 0; i < this.layout.stages.length; i++) {
      const route = this.layout.stages[i]!;
      const cfg = this.streamConfig(route.stream, route.subjects);
      await this.addStream({ ...cfg, subjects: [`${this.config.prefix}.new.${route.stream}`] });
      await this.ensureConsumer(i);
      await this.updateStream(cfg);
    }
    const { js, core } = lib();
    const dead = {
      name: this.layout.deadStream,
      subjects: this.layout.deadSubjects,
      retention: js.RetentionPolicy.Limits,
      storage: this.config.storage === 'memory' ? js.StorageType.Memory : js.StorageType.File,
      num_replicas: this.config.replicas,
      max_age: core.nanos(this.config.dead_letter_max_age_ms),
      discard: js.DiscardPolicy.Old,
    };
    await this.addStream(dead);
    await this.updateStream(dead);
  }

  /** Create a stream; one that exists already (any configuration) is left to {@link updateStream}. */
  private async addStream(cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
    const jsm = this.jsm!;
    try {
      await jsm.streams.add(cfg);
    } catch (err) {
      try {
        await jsm.streams.info(cfg.name);
      } catch {
        throw new AisocError(
          'AISOC_ERR_CONFIG',
          `pipeline.nats: the stream ${cfg.name} could not be created: ${describeError(err)}`,
          { field: 'pipeline.nats', cause: err },
        );
      }
    }
  }

  /** Bring an existing stream to this configuration. */
  private async updateStream(cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
    const { name, ...update } = cfg;
    try {
      await this.jsm!.streams.update(name, update);
    } catch (err) {
      throw new AisocError(
        'AISOC_ERR_CONFIG',
        `pipeline.nats: the stream ${name} exists with settings that cannot be changed to these (${describeError(err)}); delete it or choose another pipeline.nats.prefix`,
        { field: 'pipeline.nats', cause: err },
      );
    }
  }

  private consumerConfig(route: StageRoute): Partial<ConsumerConfig> {
    const { ack_wait_ms, backoff_ms, max_deliver, max_ack_pending } = this.config;
    const { js, core } = lib();
    return {
      durable_name: route.durable,
      ack_policy: js.AckPolicy.Explicit,
      deliver_policy: js.DeliverPolicy.All,
      replay_policy: js.ReplayPolicy.Instant,
      ack_wait: core.nanos(ack_wait_ms),
      max_deliver,
      max_ack_pending,
      ...(backoff_ms.length > 0 ? { backoff: [ack_wait_ms, ...backoff_ms].map((ms) => core.nanos(ms)) } : {}),
    };
  }

  /** Create the stage's durable consumer, or update the one that exists (settings may have changed). */
  private async ensureConsumer(i: number): Promise<void> {
    const jsm = this.jsm!;
    const route = this.layout.stages[i]!;
    const cfg = this.consumerConfig(route);
    try {
      await jsm.consumers.add(route.stream, cfg);
      return;
    } catch (err) {
      const { durable_name: _durable, deliver_policy: _deliver, ack_policy: _ack, ...update } = cfg;
      try {
        await jsm.consumers.update(route.stream, route.durable, update);
      } catch (err2) {
        throw new AisocError(
          'AISOC_ERR_CONFIG',
          `pipeline.nats: the consumer ${route.durable} on ${route.stream} could not be created (${describeError(err)}) nor updated (${describeError(err2)})`,
          { field: 'pipeline.nats', cause: err2 },
        );
      }
    }
  }

  /** Start pulling stage `i`'s messages: a reader filling the buffer, and a loop taking batches from it. */
  private async runConsumer(i: number): Promise<void> {
    const c: StageConsumer = { index: i, route: this.layout.stages[i]!, buffer: [] };
    this.consumers.push(c);
    await this.openMessages(c);
    c.loop = this.stageLoop(c);
  }

  /** Pull from the stage's consumer (again): a consume() iterator, its reader, and a watcher of its notifications. */
  private async openMessages(c: StageConsumer): Promise<void> {
    const consumer = await this.jsm!.jetstream().consumers.get(c.route.stream, c.route.durable);
    const messages = await consumer.consume({ max_messages: this.pipeline.batch_size });
    c.messages = messages;
    c.reader = this.readMessages(c, messages);
    void this.watchConsumer(c, messages);
  }

  private async readMessages(c: StageConsumer, messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        c.buffer.push(m);
        c.wake?.();
        // Hold no more than a batch beyond what the client has prefetched.
        while (this.running && c.buffer.length >= this.pipeline.batch_size) {
          await new Promise<void>((resolve) => {
            c.room = resolve;
          });
          c.room = undefined;
        }
        if (!this.running || c.messages !== messages) break;
      }
    } catch (err) {
      if (this.running)
        this.ctx.logger.warn(
          { err: describeError(err), consumer: c.route.durable },
          'A NATS consumer stopped delivering.',
        );
    }
  }

  /**
   * If the server lost the stage's consumer or stream (deleted by hand, or a
   * server that lost its state: memory storage, a new store directory),
   * make them again and pull anew: the client's iterator does not find a
   * consumer made again under the same name by itself.
   */
  private async watchConsumer(c: StageConsumer, messages: ConsumerMessages): Promise<void> {
    try {
      for await (const s of messages.status()) {
        const gone =
          s.type === 'consumer_not_found' || s.type === 'consumer_deleted' || s.type === 'stream_not_found';
        if (!gone || !this.running || c.messages !== messages) continue;
        this.ctx.logger.warn(
          { consumer: c.route.durable },
          'A NATS consumer of the pipeline is gone; it is made again.',
        );
        await messages.close().catch(() => {});
        while (this.running && c.messages === messages) {
          try {
            this.recovery ??= this.ensureStreams().finally(() => {
              this.recovery = undefined;
            });
            await this.recovery;
            await this.openMessages(c);
          } catch (err) {
            this.ctx.logger.warn(
              { err: describeError(err) },
              'The consumer could not be made again; retrying.',
            );
            await sleep(1000);
          }
        }
        return;
      }
    } catch {
      // The status iterator ends with the consumer.
    }
  }

  private async watchConnection(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.publisher?.failAll('The connection to NATS was lost before JetStream acknowledged the message.');
        this.nats.connected.set(0);
        this.ctx.logger.warn({ server: s.server }, 'The connection to NATS was lost; reconnecting.');
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.nats.connected.set(1);
        this.nats.reconnects.inc();
        this.ctx.logger.info({ server: s.server }, 'Reconnected to NATS.');
      }
    }
  }

  // ---------------------------------------------------------------- stages

  private async stageLoop(c: StageConsumer): Promise<void> {
    const size = this.pipeline.batch_size;
    while (this.running) {
      if (c.buffer.length === 0) {
        await new Promise<void>((resolve) => {
          c.wake = resolve;
        });
        c.wake = undefined;
        if (!this.running) break;
        // Messages of one pull arrive together: let the rest of them in before cutting the batch.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const batch = c.buffer.splice(0, size);
      c.room?.();
      if (batch.length === 0) continue;
      try {
        await this.handleBatch(c, batch);
      } catch (err) {
        // handleBatch hands messages back itself; this is a bug's last guard, and the loop goes on.
        this.ctx.logger.error(
          { err: describeError(err), stage: c.route.name },
          'A NATS batch failed unexpectedly.',
        );
        for (const m of batch) this.safely(() => m.nak(this.redeliveryDelay(m)));
      }
    }
  }

  /** Decode, store (first stage), run the stage, publish its outputs, acknowledge. */
  private async handleBatch(c: StageConsumer, msgs: JsMsg[]): Promise<void> {
    const stage = this.ctx.stages[c.index]!;
    const started = process.hrtime.bigint();
    for (const m of msgs)
      this.nats.deliveries.inc({
        stage: c.route.name,
        kind: m.info.deliveryCount > 1 ? 'redelivery' : 'first',
      });
    const stopProgress = this.reportProgress(msgs);
    try {
      let decoded: Decoded[] = [];
      for (const m of msgs) {
        if (m.info.deliveryCount >= this.config.max_deliver) {
          const before = this.failures.get(this.failureKey(m));
          await this.deadLetterMessage(
            c,
            m,
            'AISOC_ERR_INTERNAL',
            `delivered ${m.info.deliveryCount} times without being acknowledged${before ? ` (last failure: ${before})` : ' (its workers died or stalled)'}`,
            'max_deliver',
          );
          continue;
        }
        const d = await this.decode(c, m);
        if (d) decoded.push(d);
      }
      if (decoded.length === 0) return;
      if (c.index === 0) decoded = await this.storeEvents(c, decoded);
      if (decoded.length === 0) return;
      const outputs = await this.executor.run(
        stage,
        this.stageStats[c.index]!,
        decoded.map((d) => d.item),
      );
      const next = c.index + 1 < this.layout.stages.length ? c.index + 1 : undefined;
      if (next !== undefined && outputs.length > 0) {
        try {
          await this.publishOutputs(c, next, outputs);
        } catch (err) {
          await this.failed(c, decoded, `its outputs could not be published: ${describeError(err)}`);
          return;
        }
      }
      for (const d of decoded) this.safely(() => d.msg.ack());
      for (const d of decoded) this.failures.delete(this.failureKey(d.msg));
      if (c.index === 0) this.processed += decoded.length;
      const claims = decoded.flatMap((d) => (d.claim ? [d.claim] : []));
      for (const key of claims) await this.ctx.store.kv.delete(key).catch(() => {});
    } finally {
      stopProgress();
      this.metrics.stageDuration.observe(
        { stage: stage.name },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    }
  }

  /** Tell JetStream the batch is being worked on, so it is not given to another worker, up to `max_batch_ms`. */
  private reportProgress(msgs: JsMsg[]): () => void {
    const waits = [this.config.ack_wait_ms, ...this.config.backoff_ms];
    const every = Math.max(100, Math.floor(Math.min(...waits) / 3));
    const until = Date.now() + this.config.max_batch_ms;
    const timer = setInterval(() => {
      if (Date.now() > until) {
        clearInterval(timer);
        return;
      }
      for (const m of msgs) this.safely(() => m.working());
    }, every);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** The item a message carries (its body, or the claimed body from the store); a message that is not one is dead-lettered. */
  private async decode(c: StageConsumer, m: JsMsg): Promise<Decoded | undefined> {
    const claim = m.headers?.get(CLAIM_HEADER) || undefined;
    let item: unknown;
    if (claim) {
      try {
        item = await this.ctx.store.kv.get<unknown>(claim);
      } catch (err) {
        // A store that does not answer is not the message's fault: it comes back later.
        await this.failed(
          c,
          [{ msg: m, item: undefined }],
          `its body could not be read: ${describeError(err)}`,
        );
        return undefined;
      }
      if (item === undefined) {
        await this.deadLetterMessage(
          c,
          m,
          'AISOC_ERR_PARSE',
          `its body, kept in the store as ${claim}, is missing`,
          'decode',
        );
        return undefined;
      }
    } else {
      try {
        item = JSON.parse(decoder.decode(m.data));
      } catch (err) {
        await this.deadLetterMessage(
          c,
          m,
          'AISOC_ERR_PARSE',
          `the message is not JSON: ${describeError(err)}`,
          'decode',
        );
        return undefined;
      }
    }
    if (c.index === 0 && !isEvent(item)) {
      await this.deadLetterMessage(
        c,
        m,
        'AISOC_ERR_PARSE',
        'the message is not an event (an object with an id)',
        'decode',
      );
      return undefined;
    }
    return { msg: m, item, ...(claim ? { claim } : {}) };
  }

  /**
   * The first stage's events go into the events table before the stage
   * runs (the insert skips ids already there, so a redelivered batch adds
   * nothing). A batch the store refuses is stored event by event: the
   * events it still refuses are handed back (or dead-lettered at their
   * last delivery), the rest go on.
   */
  private async storeEvents(c: StageConsumer, decoded: Decoded[]): Promise<Decoded[]> {
    const insert = async (part: Decoded[]) => {
      for (let i = 0; i < part.length; i += INSERT_SLICE)
        await this.ctx.store.events.insert(
          part.slice(i, i + INSERT_SLICE).map((d) => d.item as NormalisedEvent),
        );
    };
    try {
      await insert(decoded);
      return decoded;
    } catch {
      const kept: Decoded[] = [];
      for (const d of decoded) {
        try {
          await insert([d]);
          kept.push(d);
        } catch (err) {
          await this.failed(c, [d], `the event could not be stored: ${describeError(err)}`);
        }
      }
      return kept;
    }
  }

  /**
   * Publish a stage's outputs to the next stage's stream. The message id is
   * the stage and a sha256 of the output's canonical JSON, so a batch
   * processed again (its first delivery's worker died after publishing)
   * publishes copies JetStream drops.
   */
  private async publishOutputs(c: StageConsumer, next: number, outputs: unknown[]): Promise<void> {
    const subject = this.layout.stageSubject(next);
    const stream = this.layout.stages[next]!.name;
    const limit = this.payloadLimit();
    await mapWindowed(outputs, PUBLISH_WINDOW, (output) =>
      this.publish(subject, output, `${c.route.token}:${canonicalHash(output)}`, limit, stream),
    );
  }

  /**
   * Messages whose batch could not be stored or passed on: handed back to
   * come again after the back-off wait for their delivery, or, when the next
   * delivery would be the last, dead-lettered now with the reason.
   */
  private async failed(c: StageConsumer, items: Decoded[], reason: string): Promise<void> {
    for (const d of items) {
      const m = d.msg;
      if (m.info.deliveryCount + 1 >= this.config.max_deliver) {
        await this.deadLetterMessage(
          c,
          m,
          'AISOC_ERR_INTERNAL',
          `failed on delivery ${m.info.deliveryCount} of ${this.config.max_deliver}: ${reason}`,
          'max_deliver',
        );
        continue;
      }
      this.rememberFailure(m, reason);
      this.nats.naks.inc({ stage: c.route.name });
      this.safely(() => m.nak(this.redeliveryDelay(m)));
    }
    this.ctx.logger.warn(
      { stage: c.route.name, messages: items.length, reason },
      'NATS messages were handed back for a later delivery.',
    );
  }

  /** The wait before the next delivery of a message that failed: the entry for its delivery in [ack_wait_ms, ...backoff_ms]. */
  private redeliveryDelay(m: JsMsg): number {
    const waits = [this.config.ack_wait_ms, ...this.config.backoff_ms];
    return waits[Math.min(m.info.deliveryCount - 1, waits.length - 1)] ?? this.config.ack_wait_ms;
  }

  /**
   * Move a message out of the pipeline: to `<prefix>.dead.<stage>` (its
   * body and the reason in headers, for inspection and replay) and to the
   * dead-letter table, then terminate it so JetStream never delivers it
   * again. If either write fails the message is handed back instead.
   */
  private async deadLetterMessage(
    c: StageConsumer,
    m: JsMsg,
    code: string,
    reason: string,
    why: 'decode' | 'max_deliver',
  ): Promise<void> {
    const text = decoder.decode(m.data);
    const source = c.index === 0 ? m.subject.split('.').slice(2).join('.') || 'pipeline' : 'pipeline';
    try {
      const hdrs = lib().core.headers();
      hdrs.set('Aisoc-Code', code);
      hdrs.set('Aisoc-Reason', headerText(reason));
      hdrs.set('Aisoc-Stream', m.info.stream);
      hdrs.set('Aisoc-Sequence', String(m.info.streamSequence));
      const claim = m.headers?.get(CLAIM_HEADER);
      if (claim) hdrs.set(CLAIM_HEADER, claim);
      await this.publisher!.publish(
        c.route.deadSubject,
        m.data,
        `dead:${m.info.stream}:${m.info.streamSequence}`,
        hdrs,
      );
      this.nats.publishes.inc({ stream: 'dead', outcome: 'stored' });
      const row: DeadLetterInput = { source, stage: c.route.name, code, reason, record: text };
      await storeSubmission(this.ctx.store, { events: [], deadLetters: [row] }, this.ctx);
    } catch (err) {
      this.nats.publishes.inc({ stream: 'dead', outcome: 'failed' });
      this.ctx.logger.error(
        { err: describeError(err), stage: c.route.name, seq: m.info.streamSequence },
        'A poison message could not be dead-lettered; it comes back later.',
      );
      this.safely(() => m.nak(this.redeliveryDelay(m)));
      return;
    }
    this.nats.poison.inc({ stage: c.route.name, reason: why });
    this.stageStats[c.index]!.dead_lettered++;
    this.failures.delete(this.failureKey(m));
    // A plain term: nats-server 2.9 does not know `+TERM <reason>` and would ignore it (the reason is stored above).
    this.safely(() => m.term());
  }

  private failureKey(m: JsMsg): string {
    return `${m.info.stream}:${m.info.streamSequence}`;
  }

  private rememberFailure(m: JsMsg, reason: string): void {
    if (this.failures.size >= REMEMBERED_FAILURES) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    this.failures.set(this.failureKey(m), reason);
  }

  /** Acknowledgements and their kin are fire-and-forget: on a closed connection they throw, and the message comes back anyway. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch {
      // Redelivered after its wait: nothing is lost.
    }
  }

  // ------------------------------------------------------------- consumers

  /**
   * Read every stage's consumer, in stage order (a stage publishes before it
   * acknowledges, so a read that finds stage i done finds its outputs in
   * stage i + 1), then update the gauges, the drain rate and, for processes
   * that run stages, the checkpoints (`pipeline_offsets`, `nats:<consumer>`:
   * the ack floor; informative, the consumer is the truth).
   */
  private refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = this.readConsumers().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async readConsumers(): Promise<void> {
    const jsm = this.jsm;
    if (!jsm || !this.connected) return;
    const epoch = this.published;
    for (let i = 0; i < this.layout.stages.length; i++) {
      const route = this.layout.stages[i]!;
      const info = await jsm.consumers.info(route.stream, route.durable);
      const state = this.consumerState[i]!;
      if (i === 0) this.observeFloor(state.ackFloor, info.ack_floor.stream_seq);
      state.backlog = info.num_pending + info.num_ack_pending;
      state.ackFloor = info.ack_floor.stream_seq;
    }
    this.seenPublished = epoch;
    this.updateGauges();
    if (this.role !== 'api') await this.saveCheckpoints();
  }

  private observeFloor(before: number, after: number): void {
    const now = Date.now();
    if (this.lastFloorAt > 0 && after >= before) {
      const instant = (after - before) / (Math.max(1, now - this.lastFloorAt) / 1000);
      this.rate = this.rate === 0 ? instant : 0.8 * this.rate + 0.2 * instant;
    }
    this.lastFloorAt = now;
  }

  private async saveCheckpoints(): Promise<void> {
    for (let i = 0; i < this.layout.stages.length; i++) {
      const state = this.consumerState[i]!;
      if (state.ackFloor === state.savedFloor) continue;
      try {
        await this.ctx.store.offsets.set(`nats:${this.layout.stages[i]!.durable}`, state.ackFloor);
        state.savedFloor = state.ackFloor;
      } catch (err) {
        this.ctx.logger.debug({ err: describeError(err) }, 'A NATS checkpoint could not be saved.');
      }
    }
  }

  private updateGauges(): void {
    this.metrics.backlog.set(this.backlog());
    this.layout.stages.forEach((s, i) => {
      const backlog = this.consumerState[i]?.backlog ?? 0;
      this.metrics.queueDepth.set({ queue: s.name }, backlog);
      this.nats.consumerBacklog.set({ stage: s.name }, backlog);
    });
  }
}

/**
 * The registry entry of the JetStream runner (`pipeline.runner: nats`,
 * settings in `pipeline.nats`). It runs in every role and needs PostgreSQL.
 */
export const natsRunnerFactory = {
  type: 'nats',
  description: 'NATS JetStream streams and durable consumers shared by worker processes; needs PostgreSQL',
  configSchema: NatsRunnerConfig,
  roles: ['api', 'worker', 'all'],
  requiresPostgres: true,
  create: (ctx) => new NatsRunner(ctx),
} satisfies RunnerFactory<NatsRunnerConfig>;
