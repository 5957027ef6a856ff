import { defineMetrics } from '../telemetry/metrics.ts';

/** The states of the knowledge base (`KnowledgeState` in kb.ts), one series each. */
export const KNOWLEDGE_STATES = ['idle', 'loading', 'ready', 'failed'] as const;

/**
 * The knowledge base's metrics.
 *
 * @example knowledgeMetrics(runtime.metrics).knowledgeIndexLoads.inc({ origin: 'cache' })
 */
export const knowledgeMetrics = defineMetrics('knowledge', (m) => {
  const set = {
    knowledgeIndexLoads: m.counter({
      name: 'aisoc_knowledge_index_loads_total',
      help: 'ATT&CK index loads by origin (worker: built on a worker thread; cache: read from <data_dir>/cache; inline: built on the main thread, tests)',
      labelNames: ['origin'] as const,
    }),
    knowledgeState: m.gauge({
      name: 'aisoc_knowledge_state',
      help: 'The knowledge base state: 1 for the current one of idle (loads on first use), loading, ready, failed; 0 for the others',
      labelNames: ['state'] as const,
    }),
  };
  for (const state of KNOWLEDGE_STATES) set.knowledgeState.set({ state }, state === 'idle' ? 1 : 0);
  return set;
});

/**
 * Show `state` as the knowledge base's current state.
 *
 * @example setKnowledgeState(knowledgeMetrics(metrics).knowledgeState, 'ready')
 */
export function setKnowledgeState(
  gauge: ReturnType<typeof knowledgeMetrics>['knowledgeState'],
  state: (typeof KNOWLEDGE_STATES)[number],
): void {
  for (const s of KNOWLEDGE_STATES) gauge.set({ state: s }, s === state ? 1 : 0);
}
