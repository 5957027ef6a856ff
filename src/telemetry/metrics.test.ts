import { readdirSync, readFileSync } from 'node:fs';
import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics, defineMetrics } from './metrics.ts';

const requests = { name: 'test_requests_total', help: 'Requests by status', labelNames: ['status'] as const };

describe('defineMetrics', () => {
  it('creates a set once per registry and hands back the same instances after that', () => {
    const set = defineMetrics('a', (m) => ({ requests: m.counter(requests) }));
    const one = createMetrics({ defaultMetrics: false });
    const two = createMetrics({ defaultMetrics: false });
    expect(set(one)).toBe(set(one));
    expect(set(one).requests).not.toBe(set(two).requests);
    set(one).requests.inc({ status: 'ok' });
    expect(one.registry.getSingleMetric('test_requests_total')).toBe(set(one).requests);
    expect(two.registry.getSingleMetric('test_requests_total')).toBe(set(two).requests);
  });

  it('gives two sets that define a metric alike the same instance', () => {
    const a = defineMetrics('a', (m) => ({ requests: m.counter(requests) }));
    const b = defineMetrics('b', (m) => ({ requests: m.counter({ ...requests }) }));
    const metrics = createMetrics({ defaultMetrics: false });
    expect(b(metrics).requests).toBe(a(metrics).requests);
  });

  it('refuses a metric defined differently, naming both components', () => {
    const a = defineMetrics('a', (m) => ({ requests: m.counter(requests) }));
    const b = defineMetrics('b', (m) => ({ requests: m.gauge(requests) }));
    const c = defineMetrics('c', (m) => ({
      requests: m.counter({ ...requests, labelNames: ['status', 'route'] as const }),
    }));
    const metrics = createMetrics({ defaultMetrics: false });
    a(metrics);
    expect(() => b(metrics)).toThrow(
      'The metric test_requests_total is defined twice, differently: by a and by b.',
    );
    expect(() => c(metrics)).toThrow(/by a and by c/);
    // On another registry each is fine on its own.
    expect(() => b(createMetrics({ defaultMetrics: false }))).not.toThrow();
  });

  it('refuses a name registered without the helper with its own error, not prom-client crash', () => {
    const metrics = createMetrics({ defaultMetrics: false });
    new Counter({ ...requests, registers: [metrics.registry] });
    const a = defineMetrics('a', (m) => ({ requests: m.counter(requests) }));
    expect(() => a(metrics)).toThrow('The metric test_requests_total of a is already registered');
  });

  it('passes buckets and labels through to prom-client', async () => {
    const set = defineMetrics('a', (m) => ({
      latency: m.histogram({
        name: 'test_latency_seconds',
        help: 'Latency',
        labelNames: ['route'],
        buckets: [0.1, 1],
      }),
      depth: m.gauge({ name: 'test_depth', help: 'Depth' }),
    }));
    const metrics = createMetrics({ defaultMetrics: false });
    set(metrics).latency.observe({ route: '/x' }, 0.5);
    set(metrics).depth.set(3);
    const text = await metrics.registry.metrics();
    expect(text).toContain('# TYPE test_latency_seconds histogram');
    expect(text).toContain('test_latency_seconds_bucket{le="0.1",route="/x"} 0');
    expect(text).toContain('test_latency_seconds_bucket{le="1",route="/x"} 1');
    expect(text).toContain('test_depth 3');
  });

  it('lists the default process metrics unless asked not to', async () => {
    expect(await createMetrics().registry.metrics()).toContain('process_cpu_seconds_total');
    expect(await createMetrics({ defaultMetrics: false }).registry.metrics()).not.toContain('process_');
  });
});

describe('src/telemetry', () => {
  it('imports no component: only packages and its own modules', () => {
    const outside: string[] = [];
    for (const file of readdirSync(import.meta.dirname).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(`${import.meta.dirname}/${file}`, 'utf8');
      for (const [, from] of text.matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm))
        if (from!.startsWith('..')) outside.push(`${file}: ${from}`);
    }
    expect(outside).toEqual([]);
  });
});
