import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IngestPermit } from '../pipeline/ingest.ts';
import { ingestMetrics } from '../pipeline/metrics.ts';
import type { Runtime } from '../runtime.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The ingest slot an ingestion request holds from admission to its response. */
    ingestPermit?: IngestPermit;
  }
}

/**
 * Overload control at the edge. Ingestion routes (scope `ingest`) are
 * admitted right after authentication and before their body is read: a full
 * pipeline answers 429 `AISOC_ERR_OVERLOADED`, a lagging event loop or high
 * memory 503 `AISOC_ERR_UNDER_PRESSURE`, each with `Retry-After`, having
 * cost no parsing. Admitted requests hold a slot until their response is
 * sent (or the client goes away), so the bodies in memory at once are
 * bounded by `pipeline.max_inflight_requests`. Other routes, `/health`
 * above all, never wait on this.
 *
 * @example
 * const admission = admissionHooks(runtime);
 * app.addHook('onRequest', admission.onRequest);
 */
export function admissionHooks(runtime: Runtime) {
  const metrics = ingestMetrics(runtime.metrics);
  const release = async (req: FastifyRequest) => {
    req.ingestPermit?.release();
  };
  return {
    onRequest: async (req: FastifyRequest, _reply: FastifyReply) => {
      if (req.routeOptions.config?.scope !== 'ingest') return;
      try {
        req.ingestPermit = runtime.ingest.admitRequest();
      } catch (err) {
        // Counted as the route itself counts the requests it answers (the handler is never reached).
        const named =
          req.routeOptions.url === '/webhook' ? 'wazuh' : (req.params as { source?: string }).source;
        const source = named && runtime.sources.has(named) ? named : 'unknown';
        metrics.ingestRequests.inc({
          source,
          status: String((err as { status?: number }).status ?? 500),
        });
        metrics.ingestRecords.inc({ source, outcome: 'refused_unparsed' });
        throw err;
      }
    },
    onResponse: release,
    onRequestAbort: release,
  };
}
