import { defineMetrics } from '../telemetry/metrics.ts';

/**
 * The knowledge base's metrics.
 *
 * @example knowledgeMetrics(runtime.metrics).knowledgeIndexLoads.inc({ origin: 'cache' })
 */
export const knowledgeMetrics = defineMetrics('knowledge', (m) => ({
  knowledgeIndexLoads: m.counter({
    name: 'aisoc_knowledge_index_loads_total',
    help: 'ATT&CK index loads by origin (worker: built on a worker thread; cache: read from <data_dir>/cache; inline: built on the main thread, tests)',
    labelNames: ['origin'] as const,
  }),
}));
