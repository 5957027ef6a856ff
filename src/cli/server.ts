import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AppConfig } from '../app-config.ts';
import { coverageLines, sourceCoverage } from '../detect/coverage.ts';
import { AisocError } from '../errors.ts';
import type { RunnerRole } from '../pipeline/runner.ts';
import { type RunningReceivers, startReceivers } from '../receivers/index.ts';
import { checkAdminKeyEnv, ensureAdminKey, openRuntime, type Runtime } from '../runtime.ts';
import { build } from '../server/app.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { writeServerInfo } from './server-info.ts';

export interface RunningServer {
  app: FastifyInstance;
  runtime: Runtime;
  /** Network receivers (syslog) enabled in config, with the addresses they listen on. */
  receivers: RunningReceivers;
  url: string;
  adminKey?: string;
  adminKeyCreated: boolean;
  /** The saved admin key has never been used: the caller says where it is saved. */
  adminKeyUnused: boolean;
  adminKeyFile: string;
  /** The part this process plays (`serve --role`). */
  role: RunnerRole;
  close(): Promise<void>;
}

/** Say at start which sources the detectors cover, and which nothing detects on. */
function logCoverage(runtime: Runtime, logger: Logger): void {
  for (const line of coverageLines(sourceCoverage(runtime.detectors, runtime.sources.describe())))
    logger[line.level](line.fields, line.msg);
}

/**
 * Refuse a role the configured runner cannot play: splitting the work needs
 * a runner whose stages other processes share (`pipeline.runner: nats`).
 */
export function checkRole(config: AppConfig, role: RunnerRole): void {
  if (role !== 'all' && config.pipeline.runner === 'embedded') {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `serve --role ${role} needs a runner that shares its work between processes: set pipeline.runner: nats (with AISOC_NATS_URL and AISOC_DATABASE_URL). The embedded runner is one process (--role all).`,
      { field: 'pipeline.runner', details: { role, runner: config.pipeline.runner } },
    );
  }
}

/** A worker starts no receiver. */
const NO_RECEIVERS: RunningReceivers = { receivers: [], addresses: () => [], stop: async () => {} };

/** The URL a listening server answers on (a wildcard address as the loopback one). */
function listeningUrl(app: FastifyInstance, config: AppConfig): string {
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.server.port;
  const host =
    config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A listen failure in plain words, with its own code and the setting to change. */
function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EADDRINUSE':
      return new AisocError(
        'AISOC_ERR_PORT_IN_USE',
        `Port ${port} on ${host} is already in use by another process. Stop that process, or choose another port with --port (0 picks a free one).`,
        { field: 'server.port', details: { host, port }, cause: err },
      );
    case 'EACCES':
      return new AisocError(
        'AISOC_ERR_LISTEN',
        `Not allowed to listen on ${host}:${port} (ports below 1024 need privileges); choose another port with --port.`,
        { field: 'server.port', details: { host, port }, cause: err },
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new AisocError(
        'AISOC_ERR_LISTEN',
        `Cannot listen on ${host}: it is not an address of this machine (${code}); choose another with --host.`,
        { field: 'server.host', details: { host, port }, cause: err },
      );
    default:
      return err;
  }
}

/**
 * Start the embedded runtime and the HTTP server (what `serve` and `demo`
 * share). The admin key is made only once the server listens, so a start
 * that fails creates no key nobody was shown; then `<data-dir>/server.json`
 * says where it serves, for the CLI. Closing removes that file, stops
 * accepting requests, drains the pipeline and closes the store, in that order.
 */
export async function startServer(
  config: AppConfig,
  options: { logDestination?: 1 | 2; role?: RunnerRole } = {},
): Promise<RunningServer> {
  const role = options.role ?? 'all';
  checkRole(config, role);
  // A weak AISOC_ADMIN_KEY is refused before anything is opened.
  checkAdminKeyEnv();
  const logger = createLogger({ level: config.log_level, destination: options.logDestination ?? 1 });
  const runtime = await openRuntime(config, {
    logger,
    metrics: createMetrics(),
    role,
    // Retention and input belong to the API processes; the stages and triage to the workers.
    retention: role !== 'worker',
    // The knowledge base loads in the background once the server listens (below): its index is tens of
    // megabytes to read and hash, which would only delay the first answer to /health.
    warmKnowledge: false,
    response: true,
    worker: role !== 'api',
  });
  if (role === 'worker') return startWorkerProbes(config, runtime, logger);
  let app: FastifyInstance | undefined;
  let removeInfo = () => {};
  let started: RunningReceivers | undefined;
  try {
    app = await build({ runtime, logRequests: config.log_level === 'debug' || config.log_level === 'trace' });
    try {
      await app.listen({ host: config.server.host, port: config.server.port });
    } catch (err) {
      throw listenError(err, config.server.host, config.server.port);
    }
    // Start-up held the event loop (database, rules, routes); that is not load, so admission starts afresh.
    runtime.pressure.reset();
    if (config.knowledge.load === 'background') runtime.knowledge.start();
    const url = listeningUrl(app, config);
    logger.info({ url, store: runtime.store.engine, data_dir: config.data_dir }, 'The server is listening.');
    logCoverage(runtime, logger);
    const receivers = await startReceivers(config.receivers, runtime);
    started = receivers;
    // Only now that everything listens: a start that failed would have created a key nobody saw.
    const admin = await ensureAdminKey(runtime.store, config.data_dir);
    removeInfo = writeServerInfo(config.data_dir, url);
    const listening = app;
    let closing: Promise<void> | undefined;
    return {
      app: listening,
      runtime,
      receivers,
      url,
      adminKey: admin.key,
      adminKeyCreated: admin.created,
      adminKeyUnused: admin.unused,
      adminKeyFile: admin.file,
      role,
      close() {
        closing ??= (async () => {
          // First, so no CLI command is sent to a server that is going away.
          removeInfo();
          await listening.close();
          // Receivers hand what they hold to the pipeline, which runtime.close then drains.
          await receivers.stop();
          await runtime.close();
          logger.info('The server stopped.');
          logger.flush();
        })();
        return closing;
      },
    };
  } catch (err) {
    removeInfo();
    await app?.close().catch(() => {});
    await started?.stop().catch(() => {});
    await runtime.close();
    throw err;
  }
}

/** Close the server on SIGINT/SIGTERM, draining the pipeline first. */
export function closeOnSignals(server: RunningServer): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.exit(130);
    }
    stopping = true;
    server.runtime.logger.info({ signal }, 'Shutting down: draining the pipeline.');
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/**
 * A worker's HTTP side: `/health`, `/ready` and `/metrics` only (no API, no
 * receivers, no admin key, no `server.json`: the CLI's commands go to an
 * API process). Its port is `server.port` like any server's.
 */
async function startWorkerProbes(
  config: AppConfig,
  runtime: Runtime,
  logger: Logger,
): Promise<RunningServer> {
  let app: FastifyInstance | undefined;
  try {
    app = await build({ runtime, routes: 'probes' });
    try {
      await app.listen({ host: config.server.host, port: config.server.port });
    } catch (err) {
      throw listenError(err, config.server.host, config.server.port);
    }
    runtime.pressure.reset();
    const url = listeningUrl(app, config);
    logger.info({ url, role: 'worker', store: runtime.store.engine }, 'The worker is running.');
    logCoverage(runtime, logger);
    const listening = app;
    let closing: Promise<void> | undefined;
    return {
      app: listening,
      runtime,
      receivers: NO_RECEIVERS,
      url,
      adminKeyCreated: false,
      adminKeyUnused: false,
      adminKeyFile: '',
      role: 'worker',
      close() {
        closing ??= (async () => {
          await listening.close();
          await runtime.close();
          logger.info('The worker stopped.');
          logger.flush();
        })();
        return closing;
      },
    };
  } catch (err) {
    await app?.close().catch(() => {});
    await runtime.close();
    throw err;
  }
}
