import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Runtime } from '../runtime.ts';
import { hashApiKey } from '../store/index.ts';
import { componentLogger } from '../telemetry/logger.ts';
import { VERSION } from '../version.ts';
import { admissionHooks } from './admission.ts';
import { AddressLimiter, apiKeyOf, authHook, KeyVerifier } from './auth.ts';
import type { ServerDeps } from './deps.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { httpMetrics, streamMetrics } from './metrics.ts';
import { alertRoutes } from './routes/alerts.ts';
import { analyzeRoutes } from './routes/analyze.ts';
import { auditRoutes } from './routes/audit.ts';
import { caseRoutes } from './routes/cases.ts';
import { consoleRoutes, DEFAULT_CONSOLE_DIR, loadConsole } from './routes/console.ts';
import { coverageRoutes } from './routes/coverage.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { incidentRoutes } from './routes/incidents.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { keyRoutes } from './routes/keys.ts';
import { knowledgeRoutes } from './routes/knowledge.ts';
import { pipelineRoutes } from './routes/pipeline.ts';
import { predictRoutes } from './routes/predict.ts';
import { respondRoutes } from './routes/respond.ts';
import { ruleRoutes } from './routes/rules.ts';
import { statsRoutes } from './routes/stats.ts';
import { streamRoutes } from './routes/stream.ts';
import { webhookRoutes } from './routes/webhook.ts';
import { StreamHub } from './stream.ts';

export interface RouteInfo {
  method: string;
  url: string;
  scope: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, with the scope it needs (the auth inventory test walks this). */
    routeInventory: RouteInfo[];
  }
}

/** Where Swagger UI is served (public, like /openapi.json and /health). */
const DOCS_PREFIX = '/docs';

/** The API server instance, typed with the zod provider. */
export type App = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface BuildOptions {
  runtime: Runtime;
  /** Log requests (servers do; tests keep quiet). */
  logRequests?: boolean;
  /**
   * Which routes to serve. `api` (the default) is the whole API. `probes` is
   * what a `serve --role worker` process opens: `/health` (public), and
   * `/ready` and `/metrics` (scope `read`, keys checked against the shared
   * store); nothing that ingests, reads records or acts.
   */
  routes?: 'api' | 'probes';
  /**
   * The built console served at `/` (default: `web/dist`, written by `npm run
   * build:web`); tests point it at a directory of their own. Read once, here.
   */
  consoleDir?: string;
}

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>;

/** Factories that give zod's compilers, so Fastify builds no default (Ajv) ones. */
const ZOD_COMPILERS: CompilersFactory = {
  // Fastify's types describe Ajv's factories; Fastify only asks them for a compiler, and zod's are what the routes use.
  buildValidator: (() => validatorCompiler) as unknown as CompilersFactory['buildValidator'],
  buildSerializer: (() => serializerCompiler) as unknown as CompilersFactory['buildSerializer'],
};

/**
 * Build the HTTP API without listening (tests call `app.inject()`).
 *
 * @example
 * const app = await build({ runtime });
 * await app.listen({ port: 8080 });
 */
export async function build(options: BuildOptions): Promise<App> {
  const { runtime } = options;
  const cfg = runtime.config.server;
  const logger = componentLogger(runtime.logger, 'http');
  const app = Fastify({
    loggerInstance: (options.logRequests ? logger : undefined) as FastifyBaseLogger | undefined,
    // The name the error log uses too (errors.ts), so one request's lines share one field.
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    bodyLimit: cfg.body_limit_bytes,
    trustProxy: cfg.trust_proxy,
    requestTimeout: cfg.request_timeout_ms,
    // Deep JSON cannot reach the handlers: the parser refuses prototype pollution and the routes validate shape.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    // The routes validate and serialise with zod (below). Without factories of its own, Fastify loads Ajv and
    // fast-json-stringify to build default compilers nothing uses: about a tenth of a second of every start.
    schemaController: { compilersFactory: ZOD_COMPILERS },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler(logger));
  app.setNotFoundHandler(notFoundHandler);

  const inventory: RouteInfo[] = [];
  app.decorate('routeInventory', inventory);
  app.addHook('onRoute', (route) => {
    // The interactive docs and their assets hold nothing secret, and a browser cannot send a key to load
    // them: they are public. Calls made from the page carry the key given to its Authorize button.
    if (route.url === DOCS_PREFIX || route.url.startsWith(`${DOCS_PREFIX}/`))
      route.config = { ...route.config, scope: 'public' };
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods)
      inventory.push({ method: m, url: route.url, scope: route.config?.scope ?? 'read' });
  });

  const keys = new KeyVerifier(runtime.store);
  const deps: ServerDeps = { runtime, keys, version: VERSION, startedAt: Date.now() };

  await app.register(fastifyHelmet, {
    // Swagger UI needs inline styles; everything else is same-origin only.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        scriptSrc: ["'self'"],
      },
    },
  });
  if (cfg.rate_limit_per_minute > 0) {
    await app.register(fastifyRateLimit, {
      max: cfg.rate_limit_per_minute,
      timeWindow: 60_000,
      keyGenerator: (req) => {
        // Two different keys in one request are refused by the auth hook; here they count by address.
        let t: string | undefined;
        try {
          t = apiKeyOf(req);
        } catch {
          t = undefined;
        }
        return t ? `key:${hashApiKey(t).slice(0, 16)}` : `ip:${req.ip}`;
      },
      allowList: (req) => req.url === '/health',
      errorResponseBuilder: (_req, ctx) => ({
        statusCode: 429,
        code: 'AISOC_ERR_RATE_LIMITED',
        message: `Rate limit of ${ctx.max} requests per minute exceeded; retry in ${Math.ceil(ctx.ttl / 1000)} s.`,
      }),
    });
  }
  const failures =
    cfg.unauthenticated_rate_limit_per_minute > 0
      ? new AddressLimiter(cfg.unauthenticated_rate_limit_per_minute)
      : undefined;
  app.addHook('onRequest', authHook(keys, failures));
  // After authentication: an unauthenticated request gets 401, and takes no ingest slot.
  const admission = admissionHooks(runtime);
  app.addHook('onRequest', admission.onRequest);
  app.addHook('onResponse', admission.onResponse);
  app.addHook('onRequestAbort', admission.onRequestAbort);
  const { httpDuration } = httpMetrics(runtime.metrics);
  // Listed on /metrics from the start, as dashboards expect, not from the first stream.
  if (options.routes !== 'probes') streamMetrics(runtime.metrics);
  app.addHook('onResponse', async (req, reply) => {
    httpDuration.observe(
      { route: req.routeOptions.url ?? 'unknown', method: req.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  const probesOnly = options.routes === 'probes';
  if (!probesOnly) {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'AI-SOC API',
          description:
            'Ingest telemetry, read alerts, incidents and events. Every route except /health, /docs and /openapi.json needs `Authorization: Bearer <key>` (in /docs: the Authorize button).',
          version: VERSION,
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
      transform: jsonSchemaTransform,
    });
    await app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX, staticCSP: false });
    app.get('/openapi.json', { config: { scope: 'public' }, schema: { hide: true } }, async () =>
      app.swagger(),
    );
  }

  await app.register(healthRoutes(deps));
  if (probesOnly) {
    await app.ready();
    return app;
  }
  await app.register(ingestRoutes(deps));
  await app.register(eventRoutes(deps));
  await app.register(alertRoutes(deps));
  await app.register(incidentRoutes(deps));
  await app.register(pipelineRoutes(deps));
  await app.register(keyRoutes(deps));
  await app.register(analyzeRoutes(deps));
  await app.register(respondRoutes(deps));
  await app.register(caseRoutes(deps));
  await app.register(auditRoutes(deps));
  await app.register(predictRoutes(deps));
  await app.register(webhookRoutes(deps));
  await app.register(knowledgeRoutes(deps));
  await app.register(statsRoutes(deps));
  await app.register(coverageRoutes(deps));
  await app.register(ruleRoutes(deps));
  const hub = new StreamHub({
    store: runtime.store,
    logger: componentLogger(runtime.logger, 'stream'),
    metrics: runtime.metrics,
    pollMs: cfg.stream_poll_ms,
    maxClients: cfg.stream_max_clients,
  });
  // Before the server stops listening: open streams would otherwise hold close() open for ever.
  app.addHook('preClose', async () => hub.close());
  await app.register(streamRoutes(hub));
  // The console's page and assets: public, API mode only (a worker's probes serve no console).
  await app.register(consoleRoutes(loadConsole(options.consoleDir ?? DEFAULT_CONSOLE_DIR, runtime.logger)));
  await app.ready();
  return app;
}
