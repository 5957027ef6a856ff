import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client';

/**
 * The runtime's metrics: one prom-client registry per runtime (tests build
 * several runtimes in one process), the one `/metrics` serves. Components
 * declare their own metrics with {@link defineMetrics} and register them on
 * it; this module knows none of them. The default process and Node metrics
 * keep their standard names (`process_cpu_seconds_total`,
 * `nodejs_heap_size_used_bytes`, …) so stock Node.js dashboards work; ours
 * start with `aisoc_`, beside the seed's names (`triage_*`, `ml_*`,
 * `wazuh_*`), which dashboards and alert rules already use.
 */
export interface Metrics {
  readonly registry: Registry;
}

/**
 * A new, empty registry, with the default process and Node metrics unless
 * `defaultMetrics` is false (tests, one-shot commands).
 *
 * @example const metrics = createMetrics(); await openRuntime(config, { metrics });
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return { registry };
}

/** A metric as a component declares it: prom-client's options without `registers`. */
export interface MetricDefinition<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

/** A histogram's definition: buckets are upper bounds, in the metric's unit. */
export interface HistogramDefinition<L extends string> extends MetricDefinition<L> {
  buckets?: readonly number[];
}

/** Makes metrics on one registry; given to the builder of {@link defineMetrics}. */
export interface MetricFactory {
  counter<L extends string = string>(definition: MetricDefinition<L>): Counter<L>;
  gauge<L extends string = string>(definition: MetricDefinition<L>): Gauge<L>;
  histogram<L extends string = string>(definition: HistogramDefinition<L>): Histogram<L>;
}

interface Registered {
  /** The component that defined it first, for the error when another defines it differently. */
  component: string;
  /** Kind, help, labels and buckets: two definitions that agree on these share one metric. */
  signature: string;
  metric: Metric;
}

/** Per registry, every metric made through a factory (a WeakMap: a closed runtime's registry can be collected). */
const registered = new WeakMap<Registry, Map<string, Registered>>();

function factoryFor(registry: Registry, component: string): MetricFactory {
  const known = registered.get(registry) ?? new Map<string, Registered>();
  registered.set(registry, known);
  const make = <M extends Metric>(
    kind: string,
    definition: HistogramDefinition<string>,
    create: (labelNames: string[]) => M,
  ): M => {
    const labelNames = [...(definition.labelNames ?? [])];
    const signature = JSON.stringify([kind, definition.help, labelNames, definition.buckets ?? null]);
    const seen = known.get(definition.name);
    if (seen) {
      if (seen.signature !== signature)
        throw new Error(
          `The metric ${definition.name} is defined twice, differently: by ${seen.component} and by ${component}. Define it once and share the set that holds it.`,
        );
      return seen.metric as M;
    }
    // prom-client's own "already registered" error would not say which component asked.
    if (registry.getSingleMetric(definition.name))
      throw new Error(
        `The metric ${definition.name} of ${component} is already registered on this registry by code that does not use defineMetrics.`,
      );
    const metric = create(labelNames);
    known.set(definition.name, { component, signature, metric });
    return metric;
  };
  const base = <L extends string>(d: MetricDefinition<L>, labelNames: string[]) => ({
    name: d.name,
    help: d.help,
    labelNames: labelNames as L[],
    registers: [registry],
  });
  return {
    counter: <L extends string>(d: MetricDefinition<L>) =>
      make('counter', d, (labelNames) => new Counter<L>(base(d, labelNames))),
    gauge: <L extends string>(d: MetricDefinition<L>) =>
      make('gauge', d, (labelNames) => new Gauge<L>(base(d, labelNames))),
    histogram: <L extends string>(d: HistogramDefinition<L>) =>
      make(
        'histogram',
        d,
        (labelNames) =>
          new Histogram<L>({ ...base(d, labelNames), ...(d.buckets ? { buckets: [...d.buckets] } : {}) }),
      ),
  };
}

/**
 * Declare a component's metrics. Returns an accessor that creates them on a
 * runtime's registry the first time it is asked for that registry and hands
 * back the same instances after that (tests run several runtimes, each with
 * its own registry, in one process). Two sets that define the same metric
 * alike share one instance; defined differently, or already registered by
 * code that bypasses this helper, it is a clear error naming both, never
 * prom-client's "already registered" crash.
 *
 * @param component who owns the set, named in errors (`'analyst'`, `'pipeline'`)
 * @param build makes the set's metrics with the factory it is given
 * @example
 * // src/analyst/metrics.ts
 * export const analystMetrics = defineMetrics('analyst', (m) => ({
 *   triageRequests: m.counter({ name: 'triage_requests_total', help: 'Triage requests by outcome', labelNames: ['status'] as const }),
 * }));
 * // in the component
 * analystMetrics(deps.metrics).triageRequests.inc({ status: 'success' });
 */
export function defineMetrics<T>(
  component: string,
  build: (factory: MetricFactory) => T,
): (metrics: Metrics) => T {
  const sets = new WeakMap<Registry, T>();
  return (metrics) => {
    let set = sets.get(metrics.registry);
    if (set === undefined) {
      set = build(factoryFor(metrics.registry, component));
      sets.set(metrics.registry, set);
    }
    return set;
  };
}
