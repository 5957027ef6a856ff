import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../config/schema.ts';
import { type RunningReceivers, startReceivers } from '../receivers/index.ts';
import { ensureAdminKey, openRuntime, type Runtime } from '../runtime.ts';
import { build } from '../server/app.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';

export interface RunningServer {
  app: FastifyInstance;
  runtime: Runtime;
  /** Network receivers (syslog) enabled in config, with the addresses they listen on. */
  receivers: RunningReceivers;
  url: string;
  adminKey?: string;
  adminKeyCreated: boolean;
  adminKeyFile: string;
  close(): Promise<void>;
}

/**
 * Start the embedded runtime and the HTTP server (what `serve` and `demo`
 * share). Closing stops accepting requests, drains the pipeline and closes
 * the store, in that order.
 */
export async function startServer(
  config: AppConfig,
  options: { logDestination?: 1 | 2 } = {},
): Promise<RunningServer> {
  const logger = createLogger({ level: config.log_level, destination: options.logDestination ?? 1 });
  const runtime = await openRuntime(config, {
    logger,
    metrics: createMetrics(),
    retention: true,
    response: true,
    worker: true,
  });
  let app: FastifyInstance;
  try {
    const admin = await ensureAdminKey(runtime.store, config.data_dir);
    app = await build({ runtime, logRequests: config.log_level === 'debug' || config.log_level === 'trace' });
    await app.listen({ host: config.server.host, port: config.server.port });
    // Start-up held the event loop (database, rules, routes); that is not load, so admission starts afresh.
    runtime.pressure.reset();
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.server.port;
    const host =
      config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    logger.info({ url, store: runtime.store.engine, data_dir: config.data_dir }, 'The server is listening.');
    let receivers: RunningReceivers;
    try {
      receivers = await startReceivers(config.receivers, runtime);
    } catch (err) {
      await app.close();
      throw err;
    }
    let closing: Promise<void> | undefined;
    return {
      app,
      runtime,
      receivers,
      url,
      adminKey: admin.key,
      adminKeyCreated: admin.created,
      adminKeyFile: admin.file,
      close() {
        closing ??= (async () => {
          await app.close();
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
