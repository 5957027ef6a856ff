import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { FakeLlmServer } from '../src/analyst/llm/testing/servers/base.ts';
import { startFakeOpenAi } from '../src/analyst/llm/testing/servers/openai.ts';
import { call, type DemoServer, startDemoServer } from './e2e/demo-server.ts';
import { INDEX_CACHE_ENV } from './helpers/global-setup.ts';
import {
  DEPLOY,
  PROMETHEUS,
  type PrometheusServer,
  queryableParts,
  startPrometheus,
  substituteGrafanaVariables,
  toolAvailable,
  usedExpressions,
} from './helpers/prometheus.ts';

/**
 * The live check of every expression: a real `aisoc demo` (the demo
 * scenario replayed through its HTTP API, triage on an LLM backend that
 * fails, an Alertmanager notification with a bad alert, a case closed) and
 * Debian's Prometheus scraping it every second with deploy/prometheus's
 * scrape job and rules. Every expression of rules.yml and of every
 * dashboard (the parts that select data: an alert's expression is empty
 * until it fires) must return at least one series through Prometheus's HTTP
 * API, so no rule watches and no panel shows a metric that is not there.
 */

interface Vector {
  resultType: string;
  result: unknown[];
}

/** A notification as Alertmanager posts it: one platform alert, and one without its alertname. */
const NOTIFICATION = {
  version: '4',
  status: 'firing',
  receiver: 'aisoc',
  groupKey: '{}:{alertname="KnowledgeBaseNotLoaded"}',
  groupLabels: { alertname: 'KnowledgeBaseNotLoaded' },
  commonLabels: { severity: 'warning' },
  commonAnnotations: {},
  externalURL: 'http://alertmanager:9093',
  alerts: [
    {
      status: 'firing',
      labels: {
        alertname: 'KnowledgeBaseNotLoaded',
        instance: 'aisoc:8080',
        state: 'loading',
        severity: 'warning',
      },
      annotations: { summary: 'The knowledge base of aisoc:8080 is loading after 10 minutes' },
      startsAt: '2026-11-19T08:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph',
      fingerprint: '1d2c3b4a59687766',
    },
    { status: 'firing', labels: { severity: 'warning' }, startsAt: '2026-11-19T08:00:00Z' },
  ],
};

describe.skipIf(!toolAvailable(PROMETHEUS, 'prometheus'))('monitoring, live', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-monitoring-'));
  let llm: FakeLlmServer;
  let demo: DemoServer;
  let prom: PrometheusServer;

  beforeAll(async () => {
    llm = await startFakeOpenAi();
    // Two answers that are not verdicts (their tokens and cost are counted), then the fake answers 500:
    // retries, errors, an open circuit, verdicts from the fallback.
    const notAVerdict = { reply: { text: 'I cannot help with that.', usage: { input: 900, output: 12 } } };
    llm.script(notAVerdict, notAVerdict);
    const configFile = join(dir, 'aisoc.yaml');
    writeFileSync(
      configFile,
      stringifyYaml({
        analyst: {
          backend: 'openai',
          openai: {
            url: `${llm.url}/v1`,
            model: 'fake-triage',
            max_attempts: 2,
            backoff_initial_ms: 10,
            backoff_max_ms: 50,
            timeout_ms: 10_000,
            price_input_per_1k_usd: 0.5,
            price_output_per_1k_usd: 1.5,
          },
        },
        // The ATT&CK index the test run built once (test/helpers/global-setup.ts).
        ...(process.env[INDEX_CACHE_ENV]
          ? { knowledge: { index_cache_dir: process.env[INDEX_CACHE_ENV] } }
          : {}),
      }),
    );
    demo = await startDemoServer(join(dir, 'data'), { config: configFile });
    const admin = demo.adminKey;
    const read = await call<{ key: string }>(demo, admin, 'POST', '/keys', {
      name: 'prometheus',
      scopes: ['read'],
    });
    const keyFile = join(dir, 'metrics.key');
    writeFileSync(keyFile, `${read.key}\n`);

    // A platform alert through the alertmanager source, and a bad one: a dead letter.
    const ingest = await call<{ key: string }>(demo, admin, 'POST', '/keys', {
      name: 'alertmanager',
      scopes: ['ingest'],
    });
    const posted = await call<{ stored: number; dead_letters: number }>(
      demo,
      ingest.key,
      'POST',
      '/ingest/alertmanager',
      NOTIFICATION,
    );
    expect(posted).toMatchObject({ stored: 1, dead_letters: 1 });

    // One triage through the LLM backend whatever the demo's playbooks asked of it.
    const analyst = await call<{ key: string }>(demo, admin, 'POST', '/keys', {
      name: 'analyst',
      scopes: ['analyst', 'read'],
    });
    await call(demo, analyst.key, 'POST', '/analyze', {
      alert_id: 'monitoring-live-1',
      timestamp: '2026-11-19T08:00:00Z',
      rule_id: '5712',
      rule_description: 'sshd: brute force trying to get access to the system',
      rule_level: 12,
      source_ip: '203.0.113.45',
      dest_ip: '10.0.1.10',
    });

    // A case closed: the time to close it.
    const incidents = await call<{ items: Array<{ id: string }> }>(demo, admin, 'GET', '/incidents?limit=1');
    const opened = await call<{ id: string }>(demo, analyst.key, 'POST', '/cases', {
      incident_id: incidents.items[0]!.id,
    });
    await call(demo, analyst.key, 'PATCH', `/cases/${opened.id}`, {
      status: 'closed',
      resolution: 'true_positive',
    });

    // deploy/prometheus/prometheus.yml's job for the API process, pointed at the demo, every second.
    const deployed = parseYaml(readFileSync(join(DEPLOY, 'prometheus', 'prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{
        job_name: string;
        authorization: { credentials_file: string };
        static_configs: Array<{ targets: string[]; labels?: Record<string, string> }>;
      }>;
    };
    const job = deployed.scrape_configs.find((j) => j.job_name === 'aisoc')!;
    const target = new URL(demo.url);
    job.authorization.credentials_file = keyFile;
    job.static_configs = [{ ...job.static_configs[0]!, targets: [target.host] }];
    const promConfig = join(dir, 'prometheus.yml');
    writeFileSync(
      promConfig,
      stringifyYaml({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        rule_files: [join(DEPLOY, 'prometheus', 'rules.yml')],
        scrape_configs: [{ ...job, scheme: target.protocol.replace(':', '') }],
      }),
    );
    prom = await startPrometheus(promConfig, dir);
  });

  afterAll(async () => {
    await prom?.stop();
    await demo?.stop();
    await llm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Poll until `check` returns true or the time is up (a hang guard, not a pace). */
  async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return true;
      await new Promise((r) => setTimeout(r, 500));
    }
    return check();
  }

  it('scrapes /metrics of the demo with the key from its file', async () => {
    const up = await until(async () => {
      const { activeTargets } = await prom.api<{ activeTargets: Array<{ health: string }> }>(
        '/api/v1/targets',
      );
      return activeTargets.length === 1 && activeTargets[0]!.health === 'up';
    }, 60_000);
    const targets = await prom.api<{ activeTargets: unknown[] }>('/api/v1/targets');
    expect(up, `${JSON.stringify(targets)}\n${prom.output()}`).toBe(true);
  });

  it('returns at least one series for every expression of the rules and the dashboards', async () => {
    const queries = usedExpressions()
      .filter((e) => e.language === 'prometheus')
      .flatMap((e) =>
        queryableParts(substituteGrafanaVariables(e.expr)).map((query) => ({ where: e.where, query })),
      );
    // Every rule and every dashboard is in: 13 rules and four dashboards' panels.
    expect(new Set(queries.map((q) => q.where.split(' ')[0])).size).toBe(5);
    let missing = queries;
    await until(async () => {
      const still: typeof missing = [];
      for (const q of missing) {
        const v = await prom.api<Vector>('/api/v1/query', { query: q.query });
        if (v.result.length === 0) still.push(q);
      }
      missing = still;
      return missing.length === 0;
    }, 120_000);
    expect(missing.map((m) => `${m.where}: ${m.query}`)).toEqual([]);
    console.log(`${queries.length} queries from rules.yml and the dashboards each returned a series.`);
  });

  it('evaluates every rule without an error', async () => {
    type Rules = { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
    const rules = async () => (await prom.api<Rules>('/api/v1/rules')).groups.flatMap((g) => g.rules);
    await until(async () => (await rules()).every((r) => r.health !== 'unknown'), 60_000);
    const all = await rules();
    expect(all.length).toBe(13);
    expect(
      all.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`),
    ).toEqual([]);
  });
});
