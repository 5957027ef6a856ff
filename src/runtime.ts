import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { analystKnowledge } from './analyst/knowledge-port.ts';
import {
  createLlmBackend,
  LLM_BACKENDS,
  type LlmBackend,
  type LlmBackendFactory,
} from './analyst/llm/index.ts';
import { llmMetrics } from './analyst/llm/metrics.ts';
import { analystMetrics } from './analyst/metrics.ts';
import { AnalystService } from './analyst/service.ts';
import type { AppConfig } from './app-config.ts';
import { casesMetrics } from './cases/metrics.ts';
import { CONTENT_DIR } from './content.ts';
import { Correlator, correlateStage } from './correlate/index.ts';
import { correlateMetrics } from './correlate/metrics.ts';
import { buildDetectors, DETECTOR_FACTORIES, type DetectorFactory } from './detect/index.ts';
import { mlMetrics } from './detect/ml/prometheus.ts';
import { MlService } from './detect/ml/service.ts';
import { NoiseControl } from './detect/noise/persisted.ts';
import { detectStage } from './detect/stage.ts';
import type { Detector } from './detect/types.ts';
import { AisocError, describeError } from './errors.ts';
import { KnowledgeBase } from './knowledge/kb.ts';
import { knowledgeMetrics } from './knowledge/metrics.ts';
import { EVENTS_OFFSET } from './pipeline/embedded.ts';
import { IngestService } from './pipeline/ingest.ts';
import { assertJournalRunner, withJournal } from './pipeline/journal/runner.ts';
import {
  admissionMetrics,
  ingestMetrics,
  journalMetrics,
  pipelineMetrics,
  retentionMetrics,
} from './pipeline/metrics.ts';
import { PressureMonitor, type PressureSample } from './pipeline/pressure.ts';
import type { PipelineRunner, RunnerRole } from './pipeline/runner.ts';
import { createRunner, RUNNERS, type RunnerFactory } from './pipeline/runners.ts';
import type { AnyStage } from './pipeline/stage.ts';
import { ACTION_FACTORIES, type ActionFactory } from './respond/actions/index.ts';
import { actionMetrics } from './respond/actions/metrics.ts';
import { ActionCatalogue } from './respond/catalogue.ts';
import { actionInfos, createResponse, type ResponseComponents } from './respond/setup.ts';
import { SOURCE_FACTORIES, SourceRegistry } from './sources/index.ts';
import type { SourceFactory } from './sources/types.ts';
import { wazuhMetrics } from './sources/wazuh/metrics.ts';
import { openStore, type Store, storeOptionsFromConfig } from './store/index.ts';
import { ensurePrivateDir } from './store/private-dir.ts';
import { componentLogger, silentLogger } from './telemetry/logger.ts';
import { createMetrics, type Metrics } from './telemetry/metrics.ts';

/**
 * The metric sets of the runtime's components, created when the runtime
 * opens, so `/metrics` lists them (at zero) before their component first
 * runs or when it is not built at all (no analyst, no LLM backend), in the
 * order dashboards have always seen. A component's set is created anyway
 * when the component is built; listing it here only makes it visible from
 * the start. The HTTP server's set is created by `build` (the runtime does
 * not know the server), the receivers' when one starts.
 */
const COMPONENT_METRICS: ReadonlyArray<(metrics: Metrics) => unknown> = [
  analystMetrics,
  mlMetrics,
  wazuhMetrics,
  ingestMetrics,
  pipelineMetrics,
  journalMetrics,
  correlateMetrics,
  retentionMetrics,
  admissionMetrics,
  knowledgeMetrics,
  llmMetrics,
  actionMetrics,
  casesMetrics,
];

/** The registries a runtime builds its components from (see {@link RuntimeOptions.registries}). */
export interface Registries {
  sources: readonly SourceFactory<never>[];
  detectors: Readonly<Record<string, DetectorFactory<unknown>>>;
  actions: readonly ActionFactory[];
  runners: Readonly<Record<string, RunnerFactory<unknown>>>;
  llmBackends: Readonly<Record<string, LlmBackendFactory<unknown>>>;
}

/** How often a server on the embedded database checks whether its search tables need a VACUUM. */
const EMBEDDED_MAINTENANCE_MS = 60_000;

export interface Runtime {
  readonly config: AppConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly store: Store;
  readonly sources: SourceRegistry;
  readonly runner: PipelineRunner;
  readonly ingest: IngestService;
  readonly detectors: Detector[];
  /** Served models (/predict) and the ML detector's state; undefined when ml.enabled is false. */
  readonly ml?: MlService;
  /** The analyst, cases, actions and playbooks; undefined when the runtime was opened without them. */
  response?: ResponseComponents;
  /** ATT&CK, runbooks, incidents and CVEs for retrieval, and the text→technique mapper (loads in the background). */
  readonly knowledge: KnowledgeBase;
  /** Event-loop delay and memory, as admission sees them. */
  readonly pressure: PressureMonitor;
  /** Stop the runner (draining it), timers, and the store. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger?: Logger;
  metrics?: Metrics;
  /** Use an in-memory embedded database (tests) instead of `data_dir`. */
  inMemory?: boolean;
  /** Replace the event stages (tests of the runner). */
  stages?: AnyStage[];
  /** Extra detectors, run after the built-in ones. */
  detectors?: Detector[];
  /**
   * Build from these registries instead of the product's (tests and
   * embedders extend them: `{ sources: [...SOURCE_FACTORIES, mine] }`). The
   * configuration is assembled from the product's registries, so it does not
   * know an added component: a source or detector added here runs with its
   * defaults, and an action, runner or LLM backend added here is chosen by
   * setting `respond.actions.<type>`, `pipeline.runner` or `analyst.backend`
   * (and `analyst.<type>`) after loading.
   */
  registries?: Partial<Registries>;
  /** Start the retention sweeper (servers do; one-shot commands do not). */
  retention?: boolean;
  /** Start loading the knowledge base at once (default: when `retention` is on, i.e. for servers); else it loads on first use. */
  warmKnowledge?: boolean;
  /** Build the analyst, cases, actions and playbooks (servers and evaluations do). */
  response?: boolean;
  /** Run the triage worker: playbooks on every alert and incident (servers do). */
  worker?: boolean;
  /** Use this LLM backend instead of the configured one (tests: the gullible model). */
  llm?: LlmBackend | null;
  /** Tests only: hold the knowledge-index worker once it has built while `[0]` is 1 (see KnowledgeBaseOptions.holdBuild). */
  knowledgeBuildHold?: Int32Array;
  /**
   * Refuse input while the event loop lags or memory is high (default: when
   * `retention` is on, i.e. for servers). One-shot commands do not: nothing
   * waits on their event loop, and their own file parsing would throttle them.
   */
  shedLoad?: boolean;
  /** Tests only: measure pressure with this instead of the event loop and RSS (take readings with `pressure.sample()`). */
  pressureProbe?: () => PressureSample;
  /**
   * What this process runs of the pipeline (`aisoc serve --role`): `api`
   * takes input and runs no stage, `worker` runs the stages, `all` (the
   * default) both. Only runners that share their work across processes
   * (`pipeline.runner: nats`) take anything but `all`.
   */
  role?: RunnerRole;
}

/**
 * The composition root: builds every component from validated config, in
 * dependency order, and tears them down in reverse.
 *
 * @example
 * const rt = await openRuntime(loadConfig(), { retention: true });
 * await rt.ingest.ingestBody('cloudtrail', body);
 * await rt.close();
 */
export async function openRuntime(config: AppConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? silentLogger();
  // Each component logs with its name bound, which log collectors turn into a label (telemetry/logger.ts).
  const log = (component: string) => componentLogger(logger, component);
  const metrics = options.metrics ?? createMetrics({ defaultMetrics: false });
  for (const register of COMPONENT_METRICS) register(metrics);
  const registries: Registries = {
    sources: options.registries?.sources ?? SOURCE_FACTORIES,
    detectors: options.registries?.detectors ?? DETECTOR_FACTORIES,
    actions: options.registries?.actions ?? ACTION_FACTORIES,
    runners: options.registries?.runners ?? RUNNERS,
    llmBackends: options.registries?.llmBackends ?? LLM_BACKENDS,
  };
  const sources = new SourceRegistry(config.sources, log('sources'), registries.sources);
  const runnerFactory = Object.hasOwn(registries.runners, config.pipeline.runner)
    ? registries.runners[config.pipeline.runner]
    : undefined;
  assertJournalRunner(config.pipeline.runner, config.pipeline.journal.enabled);
  if (runnerFactory?.requiresPostgres && (options.inMemory || !config.database_url)) {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `pipeline.runner: ${config.pipeline.runner} needs PostgreSQL, shared by all its processes, and the embedded database cannot be shared: set AISOC_DATABASE_URL (or database_url) to a PostgreSQL URL.`,
      { field: 'pipeline.runner' },
    );
  }
  const store = await openStore(options.inMemory ? {} : storeOptionsFromConfig(config));
  let ml: MlService | undefined;
  let detectors: Detector[];
  try {
    ml = config.ml.enabled
      ? await MlService.open(config.ml, { metrics, logger: log('ml'), store })
      : undefined;
    detectors = [
      ...(await buildDetectors(
        config.detect,
        {
          logger: log('detect'),
          metrics,
          detect: config.detect,
          dataDir: config.data_dir,
          ...(ml ? { ml } : {}),
        },
        registries.detectors,
      )),
      ...(options.detectors ?? []),
    ];
  } catch (err) {
    await store.close();
    throw err;
  }
  let wakeTriage: (() => void) | undefined;
  const stages = options.stages ?? eventStages(config, detectors, { onQueued: () => wakeTriage?.() });
  const pressure = new PressureMonitor({
    config: config.pipeline,
    metrics,
    ...(options.pressureProbe ? { probe: options.pressureProbe } : {}),
  });
  // Not started, the monitor keeps its zero reading and admits everything (tests take readings by hand).
  if (options.shedLoad ?? options.retention) pressure.start();
  let runner: PipelineRunner;
  try {
    const runnerContext = {
      store,
      logger: log('pipeline'),
      metrics,
      config: config.pipeline,
      stages,
      pressure,
      role: options.role ?? 'all',
    };
    // With pipeline.journal.enabled, ingestion is acknowledged from the journal and loaded behind (journal/runner.ts).
    runner = withJournal(
      createRunner(config.pipeline.runner, runnerContext, registries.runners),
      runnerContext,
      config,
    );
    await runner.start();
    // The stages this process runs, on /metrics at zero from the start: the NoEventsProcessed alert
    // sums their rate, which must be 0 (not no series) on a process that never saw an event.
    if ((options.role ?? 'all') !== 'api')
      for (const stage of stages)
        for (const outcome of ['ok', 'dead_letter'])
          pipelineMetrics(metrics).stageItems.inc({ stage: stage.name, outcome }, 0);
  } catch (err) {
    pressure.stop();
    await store.close();
    throw err;
  }
  const ingest = new IngestService({ sources, runner, metrics, config, logger: log('ingest') });
  const knowledge = new KnowledgeBase({
    config: config.knowledge,
    dataDir: options.inMemory ? undefined : config.data_dir,
    db: store.client,
    logger: log('knowledge'),
    metrics,
    ...(options.knowledgeBuildHold ? { holdBuild: options.knowledgeBuildHold } : {}),
  });
  if ((options.warmKnowledge ?? options.retention) && config.knowledge.load === 'background')
    knowledge.start();

  let response: ResponseComponents | undefined;
  if (options.response) {
    const llm =
      options.llm !== undefined
        ? options.llm
        : createLlmBackend(config.analyst, { logger, metrics }, registries.llmBackends);
    const analyst = new AnalystService({
      store,
      knowledge: analystKnowledge(knowledge, log('knowledge')),
      llm,
      assets: config.analyst.assets,
      metrics,
      logger: log('analyst'),
      cacheTtlMs: config.analyst.cache_ttl_ms,
    });
    response = createResponse({
      store,
      logger: log('respond'),
      metrics,
      analyst,
      port: new ActionCatalogue(registries.actions, config.respond.actions, {
        logger: log('actions'),
        metrics,
      }),
      assets: config.analyst.assets,
      knownActions: actionInfos(registries.actions),
      playbookDirs: [
        ...(config.respond.builtin_playbooks ? [join(CONTENT_DIR, 'playbooks')] : []),
        ...config.respond.playbook_dirs,
      ],
      threshold: config.respond.threshold,
      dryRun: config.respond.dry_run,
      minApprovers: config.respond.approvals.min_approvers,
      suppressionMaxDays: config.respond.suppressions.max_days,
      workerConcurrency: config.respond.worker_concurrency,
      workerLeaseMs: config.respond.worker_lease_ms,
      caseHooks: {
        onClosed: async (c, incident) => {
          const alerts = incident ? await store.alerts.getMany(incident.alert_ids.slice(0, 50)) : [];
          await knowledge.indexIncident({ case: c, ...(incident ? { incident } : {}), alerts });
        },
      },
    });
    if (options.worker && config.respond.enabled) {
      await response.worker.start();
      const worker = response.worker;
      wakeTriage = () => worker.wake();
    }
  }

  let sweeper: NodeJS.Timeout | undefined;
  if (options.retention && config.retention.events_days > 0) {
    const sweep = async () => {
      try {
        // Today's and tomorrow's partitions, made here rather than by the first insert of the day.
        await store.events.prepare();
        const cutoff = new Date(Date.now() - config.retention.events_days * 86_400_000).toISOString();
        // Events a stage may still read back from the table are kept: the runner says which (the
        // embedded runner's checkpoint; a runner whose log is a stream bounds nothing beyond the age).
        const processed = runner.retentionFloor
          ? await runner.retentionFloor()
          : await store.offsets.get(EVENTS_OFFSET);
        const { deleted, partitionsDropped } = await store.events.purge(cutoff, processed);
        if (deleted > 0 || partitionsDropped > 0) {
          retentionMetrics(metrics).eventsPurged.inc(deleted);
          log('retention').info(
            { deleted, partitions_dropped: partitionsDropped, cutoff },
            'Retention deleted expired events.',
          );
        }
      } catch (err) {
        log('retention').warn({ err: describeError(err) }, 'The retention sweep failed; it will run again.');
      }
    };
    sweeper = setInterval(sweep, config.retention.sweep_interval_ms);
    sweeper.unref();
    void sweep();
  }

  // PGlite runs no autovacuum: the server vacuums the console's search tables itself when they changed enough.
  let maintenance: NodeJS.Timeout | undefined;
  if (options.retention && store.engine === 'pglite') {
    maintenance = setInterval(() => {
      store.maintainEmbedded().catch((err) => {
        log('store').warn(
          { err: describeError(err) },
          'Vacuuming the embedded database failed; it will run again.',
        );
      });
    }, EMBEDDED_MAINTENANCE_MS);
    maintenance.unref();
  }

  let closed = false;
  return {
    config,
    logger,
    metrics,
    store,
    sources,
    runner,
    ingest,
    detectors,
    ml,
    knowledge,
    pressure,
    ...(response ? { response } : {}),
    async close() {
      if (closed) return;
      closed = true;
      if (sweeper) clearInterval(sweeper);
      if (maintenance) clearInterval(maintenance);
      await runner.stop();
      await response?.worker.stop();
      await ml?.flush();
      await knowledge.close();
      pressure.stop();
      await store.close();
    },
  };
}

/**
 * The event stages every runner runs, in order: detect (stateless per
 * event: any worker may take any batch) and correlate (the correlation
 * windows, persisted, then dedupe and incidents, one batch at a time across
 * processes). Each call builds its own stages: one per process (or per
 * simulated worker in tests).
 *
 * @example
 * const [detect, correlate] = eventStages(config, detectors);
 */
export function eventStages(
  config: AppConfig,
  detectors: readonly Detector[],
  options: { onQueued?: () => void } = {},
): AnyStage[] {
  const correlator = new Correlator({
    dedupeWindowMs: config.correlate.dedupe_window_ms,
    groupWindowMs: config.correlate.group_window_ms,
    groupBy: config.correlate.group_by,
  });
  // Windows over many events (Sigma correlations) run in the correlate stage: the detect stage keeps no state.
  const windows = detectors.flatMap((d) => (d.windowed ? [d.windowed.windows()] : []));
  // Noise control: the detect stage reports what each batch adds to the cloud baselines; the correlate stage keeps
  // them (in the store, under its lock) and moves the levels of rule detections by the rarity of their calls.
  const noise = config.detect.noise.enabled ? new NoiseControl(config.detect.noise) : undefined;
  return [
    detectStage([...detectors], { observe: noise !== undefined }),
    correlateStage(correlator, {
      ...(options.onQueued ? { onQueued: options.onQueued } : {}),
      ...(noise ? { noise } : {}),
      windows,
      inboxKeepMs: config.correlate.inbox_retention_ms,
    }),
  ];
}

/** The shortest admin key accepted from AISOC_ADMIN_KEY: 32 characters (keys we create have 256 random bits). */
export const MIN_ADMIN_KEY_LENGTH = 32;

/**
 * `AISOC_ADMIN_KEY` if it is set, refused (AISOC_ERR_CONFIG naming it) when
 * shorter than 32 characters or holding white space.
 */
export function checkAdminKeyEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.AISOC_ADMIN_KEY;
  if (fromEnv === undefined || fromEnv === '') return undefined;
  if (fromEnv.length < MIN_ADMIN_KEY_LENGTH || /\s/.test(fromEnv)) {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `AISOC_ADMIN_KEY must be at least ${MIN_ADMIN_KEY_LENGTH} characters without spaces (it has ${fromEnv.length}); generate one with: openssl rand -hex 32`,
      { field: 'AISOC_ADMIN_KEY' },
    );
  }
  return fromEnv;
}

/**
 * Make sure an admin key exists. `AISOC_ADMIN_KEY` (for automation) is
 * registered as the key `admin-env`; it must be at least 32 characters with
 * no white space. Otherwise, on first start, a key is created, written to
 * `<data-dir>/admin.key` (mode 0600, in a 0700 directory) and returned so
 * the caller can print it once. `unused` says the saved key has never been
 * used, so the caller can say where it is saved until someone has used it.
 * Servers call this only once they listen, so a start that fails (a taken
 * port) creates no key that nobody was shown.
 */
export async function ensureAdminKey(
  store: Store,
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ key?: string; created: boolean; unused: boolean; file: string }> {
  const file = join(resolve(dataDir), 'admin.key');
  const fromEnv = checkAdminKeyEnv(env);
  if (fromEnv !== undefined) {
    if (!(await store.apiKeys.findActiveByKey(fromEnv))) {
      await store.apiKeys.revoke('admin-env');
      const name = (await store.apiKeys.list()).some((k) => k.name === 'admin-env')
        ? `admin-env-${Date.now()}`
        : 'admin-env';
      await store.apiKeys.create(name, ['admin'], fromEnv);
    }
    return { key: fromEnv, created: false, unused: false, file };
  }
  if (await store.apiKeys.hasActiveAdmin()) {
    const key = existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
    const record = key ? await store.apiKeys.findActiveByKey(key) : undefined;
    return { key, created: false, unused: Boolean(record && !record.last_used_at), file };
  }
  const { key } = await store.apiKeys.create(
    `admin-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '')}`,
    ['admin'],
  );
  ensurePrivateDir(resolve(dataDir));
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { key, created: true, unused: true, file };
}
