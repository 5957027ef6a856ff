/**
 * Debian's Prometheus tools for the monitoring tests (`.ci/run` installs the
 * `prometheus` and `prometheus-alertmanager` packages), the expressions of
 * `deploy/prometheus/rules.yml` and of the Grafana dashboards, and a real
 * Prometheus started for one test.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { IN_CI } from './data.ts';
import { REPO } from './process.ts';

export const DEPLOY = join(REPO, 'deploy');
export const PROMTOOL = process.env.AISOC_PROMTOOL ?? '/usr/bin/promtool';
export const PROMETHEUS = process.env.AISOC_PROMETHEUS ?? '/usr/bin/prometheus';
export const AMTOOL = process.env.AISOC_AMTOOL ?? '/usr/bin/amtool';

/**
 * Whether a tool is installed. Outside CI a missing one skips the tests that
 * need it, saying which package to install; in CI it fails them.
 *
 * @example describe.skipIf(!toolAvailable(PROMTOOL, 'prometheus'))('the rules', () => { … });
 */
export function toolAvailable(bin: string, debianPackage: string): boolean {
  if (existsSync(bin)) return true;
  const why = `${bin} is missing: install Debian's ${debianPackage} package (.ci/run does)`;
  if (IN_CI) throw new Error(`${why}; it is required in CI.`);
  console.warn(`Skipping the tests that run it: ${why}.`);
  return false;
}

/** Run a tool to completion; its exit status and what it printed. */
export function run(bin: string, args: string[], cwd = REPO): { status: number; output: string } {
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export interface RuleDoc {
  groups: Array<{
    name: string;
    rules: Array<{
      alert?: string;
      record?: string;
      expr: string;
      for?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    }>;
  }>;
}

/** deploy/prometheus/rules.yml, parsed. */
export function loadRules(): RuleDoc {
  return parseYaml(readFileSync(join(DEPLOY, 'prometheus', 'rules.yml'), 'utf8')) as RuleDoc;
}

export interface GrafanaTarget {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
  [k: string]: unknown;
}

export interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: GrafanaTarget[];
  panels?: GrafanaPanel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: GrafanaPanel[];
  templating?: { list: Array<{ name: string; type: string; datasource?: { type?: string; uid?: string } }> };
}

/** Every dashboard under deploy/grafana/dashboards/, by file name. */
export function loadDashboards(): Array<{ file: string; dashboard: Dashboard }> {
  const dir = join(DEPLOY, 'grafana', 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Dashboard }));
}

/** A dashboard's panels, those inside rows included. */
export function allPanels(d: Dashboard): GrafanaPanel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** One expression a dashboard or a rule uses, and where. */
export interface UsedExpression {
  where: string;
  expr: string;
  /** The data source's type (`prometheus`, `loki`). */
  language: string;
}

/** Every expression of rules.yml and of the dashboards' targets. */
export function usedExpressions(): UsedExpression[] {
  const out: UsedExpression[] = [];
  for (const g of loadRules().groups)
    for (const r of g.rules)
      out.push({ where: `rules.yml ${r.alert ?? r.record}`, expr: r.expr, language: 'prometheus' });
  for (const { file, dashboard } of loadDashboards())
    for (const p of allPanels(dashboard))
      for (const t of p.targets ?? [])
        if (t.expr)
          out.push({
            where: `${file} "${p.title}" ${t.refId ?? ''}`.trim(),
            expr: t.expr,
            language: t.datasource?.type ?? p.datasource?.type ?? 'prometheus',
          });
  return out;
}

/**
 * An expression as Grafana sends it: its built-in variables with the values
 * they take for a short range, and the dashboard's own variables (used only
 * in `=~` matchers) as "all" (`.*`).
 */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '5m')
    .replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, '.*');
}

const COMPARISON = ['==', '!=', '>=', '<=', '>', '<'];
const SET_OPERATORS = ['and', 'or', 'unless'];

/**
 * The parts of an expression that select data: it is cut at its top-level
 * comparisons and set operators (`x > 0.5`, `a and b`), numbers are dropped,
 * and `absent(x)` is read as `x`. An alert's expression returns nothing while
 * it does not fire; these parts must return series whenever the metrics exist.
 *
 * @example queryableParts('sum(rate(x[5m])) / sum(rate(y[5m])) > 0.05') // ['sum(rate(x[5m])) / sum(rate(y[5m]))']
 */
export function queryableParts(expr: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  const cut = (end: number, skip: number) => {
    parts.push(expr.slice(start, end));
    start = end + skip;
  };
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if ('({['.includes(c)) depth++;
    else if (')}]'.includes(c)) depth--;
    else if (depth === 0) {
      const op = COMPARISON.find((o) => expr.startsWith(o, i));
      if (op && !(op === '!=' && expr[i + 2] === '~')) {
        cut(i, op.length);
        i += op.length - 1;
        continue;
      }
      const word = SET_OPERATORS.find(
        (w) =>
          expr.startsWith(w, i) && !/\w/.test(expr[i - 1] ?? ' ') && !/\w/.test(expr[i + w.length] ?? ' '),
      );
      if (word) {
        cut(i, word.length);
        i += word.length - 1;
      }
    }
  }
  parts.push(expr.slice(start));
  return parts
    .map((p) =>
      p
        .trim()
        // Vector-matching modifiers that follow an operator belong to it, not to the operand.
        .replace(/^bool\s+/, '')
        .replace(/^(on|ignoring)\s*\([^)]*\)\s*/, '')
        .replace(/^(group_left|group_right)\s*(\([^)]*\))?\s*/, '')
        .trim(),
    )
    .filter((p) => p !== '' && !/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(p))
    .map((p) => {
      const absent = /^absent\(([\s\S]*)\)$/.exec(p);
      return absent ? absent[1]!.trim() : p;
    });
}

/** The stream selector labels of a LogQL query (`{job="aisoc", level=~"warn"}`). */
export function logqlSelectorLabels(expr: string): string[] {
  const selector = /\{([^}]*)\}/.exec(expr);
  if (!selector) return [];
  return [...selector[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((m) => m[1]!);
}

/** A TCP port nothing listens on now (the kernel's choice for port 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface PrometheusServer {
  url: string;
  /** GET an API path; the `data` of a success, or an error naming the answer. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Start Debian's Prometheus with `configFile`, its storage under `dir`, on
 * a free port, and resolve once `/-/ready` answers 200.
 */
export async function startPrometheus(configFile: string, dir: string): Promise<PrometheusServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.console.templates=/nonexistent',
      '--web.console.libraries=/nonexistent',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (d: Buffer) => {
    log += d;
  });
  child.stderr!.on('data', (d: Buffer) => {
    log += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const server: PrometheusServer = {
    url,
    async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
      const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
      const body = (await res.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error}`);
      return body.data;
    },
    output: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
  // Ready when it says so; an exit before that is an error with its log.
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`prometheus exited with ${code}:\n${log}`))),
  );
  let waiting = true;
  const ready = (async () => {
    while (waiting) {
      try {
        if ((await fetch(`${url}/-/ready`)).status === 200) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await Promise.race([ready, exited]);
  } catch (err) {
    await server.stop();
    throw err;
  } finally {
    waiting = false;
  }
  exited.catch(() => undefined);
  return server;
}
