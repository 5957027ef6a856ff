import { readFileSync } from 'node:fs';
import type { Histogram } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, testServer } from '../../test/helpers/runtime.ts';

interface MetricShape {
  name: string;
  type: string;
  help: string;
  labelNames: string[];
  buckets?: number[];
}

/**
 * Every metric a server exports, as the code on `main` exported them before
 * components declared their own (issue 12). Dashboards and alert rules use
 * these names, labels and buckets: a change here breaks them, so it must be
 * deliberate (edit the fixture in the same commit, and say so).
 */
const EXPECTED: MetricShape[] = JSON.parse(
  readFileSync(new URL('./fixtures/metric-names.json', import.meta.url), 'utf8'),
);

describe('/metrics', () => {
  let t: TestServer;
  beforeAll(async () => {
    // Default config and options: metrics of components that are not built (no analyst, no LLM) are listed all the same.
    t = await testServer();
  });
  afterAll(() => t.close());

  it('lists every metric with its name, type, help, labels and buckets, in the same order', async () => {
    const key = await t.key(['read']);
    const res = await t.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.statusCode).toBe(200);
    const help = new Map<string, string>();
    const listed: Array<{ name: string; type: string }> = [];
    for (const line of res.body.split('\n')) {
      const h = /^# HELP (\S+) (.*)$/.exec(line);
      if (h) help.set(h[1]!, h[2]!);
      const ty = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (ty) listed.push({ name: ty[1]!, type: ty[2]! });
    }
    const registry = t.runtime.metrics.registry;
    const actual: MetricShape[] = listed.map(({ name, type }) => {
      const metric = registry.getSingleMetric(name) as unknown as { labelNames: string[] };
      return {
        name,
        type,
        help: help.get(name) ?? '',
        labelNames: [...metric.labelNames],
        // upperBounds is prom-client's own field for the buckets; it has no public getter.
        ...(type === 'histogram'
          ? { buckets: [...(metric as unknown as Histogram & { upperBounds: number[] }).upperBounds] }
          : {}),
      };
    });
    expect(actual).toEqual(EXPECTED);
  });
});
