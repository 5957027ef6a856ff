import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SOURCE_FACTORIES } from '../src/sources/index.ts';
import { REPO } from './helpers/process.ts';
import {
  AMTOOL,
  allPanels,
  DEPLOY,
  loadDashboards,
  loadRules,
  logqlSelectorLabels,
  PROMTOOL,
  queryableParts,
  run,
  toolAvailable,
  usedExpressions,
} from './helpers/prometheus.ts';

/**
 * The monitoring stack's files (deploy/prometheus, alertmanager, grafana,
 * promtail, loki), checked by the real tools where Debian has them
 * (promtool, amtool) and by their structure otherwise. The live check of
 * every expression against a real Prometheus is test/monitoring-live.test.ts.
 */

const PROM_DIR = join(DEPLOY, 'prometheus');
const rules = loadRules();
const alerts = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert));
const monitoringDoc = readFileSync(join(REPO, 'docs', 'monitoring.md'), 'utf8');

/** The GitHub anchor of each Markdown heading of a document. */
function anchors(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\w\- ]/g, '')
        .replace(/ /g, '-'),
    ),
  );
}

describe('the alert rules', () => {
  it('hold the seed’s four alerts as the seed states them', () => {
    const byName = new Map(alerts.map((a) => [a.alert!, a]));
    const latency = byName.get('MLInferenceHighLatency')!;
    expect(latency.expr).toMatch(/histogram_quantile\(0\.95,/);
    expect(latency.expr).toMatch(/ml_inference_latency_seconds_bucket/);
    expect(latency.expr).toMatch(/> 0\.5\s*$/);
    expect(latency.for).toBe('5m');
    const none = byName.get('NoEventsProcessed')!;
    expect(none.expr).toMatch(/\[5m\]\)\) == 0$/);
    expect(none.labels?.severity).toBe('critical');
    expect(byName.get('HighAlertRate')!.expr).toMatch(/\* 60 > 1000$/);
    const down = byName.get('ServiceDown')!;
    expect(down.expr).toBe('up == 0');
    expect(down.for).toBe('2m');
  });

  it('hold ours: backlog, dead letters, 429s, fallbacks, disputes, LLM errors, actions, knowledge, event loop', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'PipelineBacklogGrowing',
        'DeadLetterRate',
        'IngestRefusedWith429',
        'TriageFallbackRate',
        'TriageDisputedRate',
        'LlmErrors',
        'ActionFailures',
        'KnowledgeBaseNotLoaded',
        'EventLoopLag',
      ]),
    );
  });

  it('give every alert a severity, a summary, a description and a runbook section in docs/monitoring.md', () => {
    const headings = anchors(monitoringDoc);
    for (const a of alerts) {
      expect(['critical', 'warning'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description, a.alert).toBeTruthy();
      const runbook = a.annotations?.runbook_url ?? '';
      expect(runbook, a.alert).toBe(`docs/monitoring.md#${a.alert!.toLowerCase()}`);
      expect(headings, `docs/monitoring.md has no section "### ${a.alert}"`).toContain(
        a.alert!.toLowerCase(),
      );
    }
  });

  it('are unit-tested, each alert both firing and not', () => {
    const doc = parseYaml(readFileSync(join(PROM_DIR, 'tests.yml'), 'utf8')) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
    };
    const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${a.alert} has no case where it fires`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${a.alert} has no case where it must not fire`,
      ).toBe(true);
    }
  });

  it('cut into parts that select data, for the live check', () => {
    expect(queryableParts('up == 0')).toEqual(['up']);
    expect(queryableParts('a > 1000 and deriv(a[10m]) > 0')).toEqual(['a', 'deriv(a[10m])']);
    expect(queryableParts('sum(x{a!="b", c=~"d|e"}) / sum(y) > 0.05')).toEqual([
      'sum(x{a!="b", c=~"d|e"}) / sum(y)',
    ]);
    expect(queryableParts('absent(up{job="aisoc"})')).toEqual(['up{job="aisoc"}']);
    expect(queryableParts('x > bool 1 or on(job) y')).toEqual(['x', 'y']);
    expect(queryableParts('sum(rate(x[5m])) * 60 > 1e3')).toEqual(['sum(rate(x[5m])) * 60']);
  });
});

describe.skipIf(!toolAvailable(PROMTOOL, 'prometheus'))('promtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aisoc-promtool-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('checks the rules', () => {
    const r = run(PROMTOOL, ['check', 'rules', join(PROM_DIR, 'rules.yml')]);
    expect(r.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(r.status, r.output).toBe(0);
  });

  it('passes the rules’ unit tests', () => {
    const r = run(PROMTOOL, ['test', 'rules', join(PROM_DIR, 'tests.yml')]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('fails a unit test when a rule changes, so the tests are really run', () => {
    // The same tests against rules whose ServiceDown waits 5 minutes instead of 2.
    cpSync(join(PROM_DIR, 'tests.yml'), join(dir, 'tests.yml'));
    const changed = readFileSync(join(PROM_DIR, 'rules.yml'), 'utf8').replace(
      /(expr: up == 0\n\s+for: )2m/,
      '$15m',
    );
    expect(changed).not.toBe(readFileSync(join(PROM_DIR, 'rules.yml'), 'utf8'));
    writeFileSync(join(dir, 'rules.yml'), changed);
    const r = run(PROMTOOL, ['test', 'rules', join(dir, 'tests.yml')], dir);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('alertname: ServiceDown');
  });

  it('checks the scrape configuration, syntax alone and with its files present', () => {
    const syntax = run(PROMTOOL, ['check', 'config', '--syntax-only', join(PROM_DIR, 'prometheus.yml')]);
    expect(syntax.status, syntax.output).toBe(0);
    // promtool also opens every file the configuration names: the secrets become files of the temp directory.
    const text = readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8').replaceAll(
      '/run/secrets/',
      `${dir}/`,
    );
    for (const m of text.matchAll(new RegExp(`${dir}/([\\w.-]+)`, 'g')))
      writeFileSync(join(dir, m[1]!), 'a-read-key\n');
    writeFileSync(join(dir, 'prometheus.yml'), text);
    cpSync(join(PROM_DIR, 'rules.yml'), join(dir, 'rules.yml'));
    const full = run(PROMTOOL, ['check', 'config', join(dir, 'prometheus.yml')]);
    expect(full.status, full.output).toBe(0);
    expect(full.output).toContain(`SUCCESS: ${alerts.length} rules found`);
  });
});

describe('the scrape configuration', () => {
  const config = parseYaml(readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8')) as {
    global: { scrape_interval: string };
    rule_files: string[];
    scrape_configs: Array<{
      job_name: string;
      metrics_path?: string;
      authorization?: { type: string; credentials?: string; credentials_file?: string };
    }>;
  };

  it('scrapes every 15 s the AI-SOC API and workers, Alertmanager and itself, and loads the rules', () => {
    expect(config.global.scrape_interval).toBe('15s');
    expect(config.scrape_configs.map((s) => s.job_name)).toEqual([
      'aisoc',
      'aisoc-worker',
      'alertmanager',
      'prometheus',
    ]);
    expect(config.rule_files).toEqual(['rules.yml']);
  });

  it('sends AI-SOC a key read from a file, never written in the configuration', () => {
    for (const job of config.scrape_configs.filter((s) => s.job_name.startsWith('aisoc'))) {
      expect(job.metrics_path).toBe('/metrics');
      expect(job.authorization?.type).toBe('Bearer');
      expect(job.authorization?.credentials_file).toMatch(/^\/run\/secrets\//);
      expect(job.authorization?.credentials).toBeUndefined();
    }
  });
});

describe('Alertmanager', () => {
  const file = join(DEPLOY, 'alertmanager', 'alertmanager.yml');
  const text = readFileSync(file, 'utf8');
  const config = parseYaml(text) as {
    global: Record<string, unknown>;
    receivers: Array<{
      name: string;
      webhook_configs?: Array<{
        url: string;
        http_config?: { authorization?: { credentials_file?: string; credentials?: string } };
      }>;
    }>;
  };

  it.skipIf(!toolAvailable(AMTOOL, 'prometheus-alertmanager'))('passes amtool check-config', () => {
    const r = run(AMTOOL, ['check-config', file]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
    expect(r.output).toContain('4 receivers');
  });

  it.skipIf(!toolAvailable(AMTOOL, 'prometheus-alertmanager'))(
    'routes critical to PagerDuty, warning to e-mail, both to Slack and AI-SOC',
    () => {
      const route = (labels: string[]) =>
        run(AMTOOL, ['config', 'routes', 'test', `--config.file=${file}`, ...labels]).output.split('\n')[0];
      expect(route(['severity=critical', 'alertname=ServiceDown'])).toBe('aisoc,pagerduty,slack');
      expect(route(['severity=warning', 'alertname=DeadLetterRate'])).toBe('aisoc,slack,email');
      expect(route(['severity=info', 'alertname=Other'])).toBe('slack');
    },
  );

  it('reads every secret from a file', () => {
    for (const literal of [
      'slack_api_url:',
      'api_url:',
      'smtp_auth_password:',
      'auth_password:',
      'routing_key:',
      'service_key:',
      'credentials:',
    ])
      expect(text, literal).not.toMatch(new RegExp(`^\\s*${literal}`, 'm'));
    for (const fromFile of [
      'slack_api_url_file',
      'smtp_auth_password_file',
      'routing_key_file',
      'credentials_file',
    ])
      expect(text, fromFile).toMatch(new RegExp(`${fromFile}: /run/secrets/`));
  });

  it('sends alerts back into AI-SOC’s alertmanager source, with an ingest key from a file', () => {
    const hook = config.receivers.find((r) => r.name === 'aisoc')!.webhook_configs![0]!;
    expect(new URL(hook.url).pathname).toBe('/ingest/alertmanager');
    expect(SOURCE_FACTORIES.map((f) => f.type)).toContain('alertmanager');
    expect(hook.http_config?.authorization?.credentials_file).toBe('/run/secrets/aisoc_ingest_key');
  });
});

describe('the Grafana dashboards', () => {
  const provisioned = parseYaml(
    readFileSync(join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'datasources.yml'), 'utf8'),
  ) as { datasources: Array<{ uid: string; type: string }> };
  const datasources = new Map(provisioned.datasources.map((d) => [d.uid, d.type]));
  const dashboards = loadDashboards();

  it('are the four the deployment promises, each with its own uid', () => {
    expect(dashboards.map((d) => d.file)).toEqual([
      'ai-services.json',
      'pipeline-health.json',
      'platform.json',
      'soc-overview.json',
    ]);
    expect(new Set(dashboards.map((d) => d.dashboard.uid)).size).toBe(dashboards.length);
  });

  it('are loaded by the provisioning from the directory the files are mounted at', () => {
    const providers = parseYaml(
      readFileSync(join(DEPLOY, 'grafana', 'provisioning', 'dashboards', 'aisoc.yml'), 'utf8'),
    ) as { providers: Array<{ type: string; options: { path: string } }> };
    expect(providers.providers[0]).toMatchObject({
      type: 'file',
      options: { path: '/var/lib/grafana/dashboards' },
    });
  });

  for (const { file, dashboard } of dashboards) {
    describe(file, () => {
      const panels = allPanels(dashboard);

      it('has a current schema version and a title', () => {
        expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
        expect(dashboard.title).toMatch(/^AI-SOC \/ /);
      });

      it('gives every panel its own id', () => {
        const ids = panels.map((p) => p.id);
        expect(ids.every((id) => Number.isInteger(id))).toBe(true);
        expect(new Set(ids).size).toBe(ids.length);
      });

      it('refers only to provisioned data sources, by uid and type', () => {
        const refs = [
          ...panels.flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]),
          ...(dashboard.templating?.list ?? []).map((v) => v.datasource),
        ].filter((r) => r !== undefined);
        expect(refs.length).toBeGreaterThan(0);
        for (const r of refs) {
          expect(datasources.has(r!.uid!), `data source uid ${r!.uid}`).toBe(true);
          expect(r!.type).toBe(datasources.get(r!.uid!));
        }
      });

      it('gives every panel queries with an expression', () => {
        for (const p of panels.filter((p) => p.type !== 'row')) {
          expect(p.targets?.length, p.title).toBeGreaterThan(0);
          for (const t of p.targets!) expect(t.expr?.trim(), `${p.title} ${t.refId}`).toBeTruthy();
        }
      });
    });
  }

  it('ask Loki only for the labels Promtail makes', () => {
    const promtail = parseYaml(
      readFileSync(join(DEPLOY, 'promtail', 'promtail.yml'), 'utf8'),
    ) as PromtailConfig;
    const made = promtailLabels(promtail);
    const logql = usedExpressions().filter((e) => e.language === 'loki');
    expect(logql.length).toBeGreaterThan(0);
    for (const e of logql)
      for (const label of logqlSelectorLabels(e.expr)) expect(made, `${e.where}: ${label}`).toContain(label);
  });
});

interface PromtailConfig {
  clients: Array<{ url: string }>;
  scrape_configs: Array<{
    job_name: string;
    relabel_configs: Array<{ target_label?: string; action?: string }>;
    pipeline_stages: Array<
      Record<string, { expressions?: Record<string, string> } & Record<string, unknown>>
    >;
  }>;
}

/** The labels a Promtail job puts on its streams: its relabelling targets and its labels stage. */
function promtailLabels(config: PromtailConfig): string[] {
  return config.scrape_configs.flatMap((s) => [
    ...s.relabel_configs.flatMap((r) => (r.target_label ? [r.target_label] : [])),
    ...s.pipeline_stages.flatMap((stage) => (stage.labels ? Object.keys(stage.labels) : [])),
  ]);
}

describe('logs', () => {
  const promtail = parseYaml(
    readFileSync(join(DEPLOY, 'promtail', 'promtail.yml'), 'utf8'),
  ) as PromtailConfig;

  it('Promtail parses AI-SOC’s JSON lines, and makes level and component labels but not the request id', () => {
    const job = promtail.scrape_configs.find((s) => s.job_name === 'aisoc')!;
    const json = job.pipeline_stages.find((s) => s.json)!.json!;
    expect(json.expressions).toMatchObject({
      level: 'level',
      component: 'component',
      request_id: 'request_id',
    });
    const labels = job.pipeline_stages.find((s) => s.labels)!.labels!;
    expect(Object.keys(labels).sort()).toEqual(['component', 'level']);
    expect(promtailLabels(promtail)).not.toContain('request_id');
    expect(promtail.clients[0]!.url).toBe('http://loki:3100/loki/api/v1/push');
  });

  it('Loki runs as one process with its data on the file system', () => {
    const loki = parseYaml(readFileSync(join(DEPLOY, 'loki', 'loki.yml'), 'utf8')) as {
      auth_enabled: boolean;
      server: { http_listen_port: number };
      common: { storage: { filesystem: { chunks_directory: string } }; ring: { kvstore: { store: string } } };
      schema_config: { configs: Array<{ store: string; object_store: string; schema: string }> };
    };
    expect(loki.auth_enabled).toBe(false);
    expect(loki.server.http_listen_port).toBe(3100);
    expect(loki.common.ring.kvstore.store).toBe('inmemory');
    expect(loki.common.storage.filesystem.chunks_directory).toMatch(/^\/loki\//);
    expect(loki.schema_config.configs.at(-1)).toMatchObject({
      store: 'tsdb',
      object_store: 'filesystem',
      schema: 'v13',
    });
  });

  it('AI-SOC writes what Promtail reads: level names, a component, a request id', async () => {
    const { createLogger } = await import('../src/telemetry/logger.ts');
    const { Writable } = await import('node:stream');
    const lines: string[] = [];
    const logger = createLogger({
      stream: new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    });
    logger.child({ component: 'http', request_id: 'req-1' }).warn('A request failed.');
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    const json = promtail.scrape_configs[0]!.pipeline_stages.find((s) => s.json)!.json!;
    for (const [, path] of Object.entries(json.expressions!)) expect(line, path).toHaveProperty(path);
    expect(line).toMatchObject({ level: 'warn', component: 'http', request_id: 'req-1' });
    // The timestamp stage reads RFC 3339.
    expect(Number.isNaN(Date.parse(String(line.time)))).toBe(false);
    expect(String(line.time)).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });
});
