import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LLM_BACKENDS } from '../src/analyst/llm/index.ts';
import { describeLlmBackendConformance } from '../src/analyst/llm/testing/conformance.ts';
import type { FakeLlmServer } from '../src/analyst/llm/testing/servers/base.ts';
import { loadConfig } from '../src/app-config.ts';
import { sectionsOf } from '../src/config/sections.ts';
import { detectConfigOf } from '../src/detect/config.ts';
import { buildDetectors, DETECTOR_FACTORIES } from '../src/detect/index.ts';
import { describeDetectorConformance } from '../src/detect/testing/conformance.ts';
import { AisocError } from '../src/errors.ts';
import { pipelineConfigOf } from '../src/pipeline/config.ts';
import { RUNNERS } from '../src/pipeline/runners.ts';
import { describeRunnerConformance } from '../src/pipeline/testing/runner-conformance.ts';
import { ACTION_FACTORIES } from '../src/respond/actions/index.ts';
import { FAST_RETRY } from '../src/respond/actions/testing/aws.ts';
import { describeActionConformance } from '../src/respond/actions/testing/conformance.ts';
import { type Receiver, startReceiver } from '../src/respond/actions/testing/servers.ts';
import { ActionCatalogue } from '../src/respond/catalogue.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { SOURCE_FACTORIES, SourceRegistry } from '../src/sources/index.ts';
import { describeSourceConformance } from '../src/sources/testing/conformance.ts';
import type { SourceFactory } from '../src/sources/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { createMetrics } from '../src/telemetry/metrics.ts';
import { makeEvent } from './helpers/builders.ts';
import { tempDir } from './helpers/runtime.ts';
import { edgeFwBlockIpFactory } from './recipes/action/block-ip.ts';
import { loginBurstDetector } from './recipes/detector/index.ts';
import { LlamaCppConfig } from './recipes/llm/config.ts';
import { llamacppBackend } from './recipes/llm/index.ts';
import { startFakeLlamaCpp } from './recipes/llm/server.ts';
import { serialRunnerFactory } from './recipes/runner/index.ts';
import { authlog } from './recipes/source/index.ts';

/*
 * Each "How to add a …" recipe of docs/ARCHITECTURE.md, followed once: the
 * components under test/recipes/ are written as the recipes say, pass their
 * kind's conformance suite, are plugged in through the extension point their
 * registry line uses (a registry extended with them), and run end to end:
 * sign-in records in through the new source, an alert from the new detector,
 * a verdict from the new LLM backend, the new action run in dry-run by a
 * playbook, all on the new runner.
 */

const REGISTRIES = {
  // Cast as SOURCE_FACTORIES casts its own list: it holds factories of every config type.
  sources: [...SOURCE_FACTORIES, authlog] as unknown as SourceFactory<never>[],
  detectors: { ...DETECTOR_FACTORIES, login_burst: loginBurstDetector },
  actions: [...ACTION_FACTORIES, edgeFwBlockIpFactory],
  runners: { ...RUNNERS, serial: serialRunnerFactory },
  llmBackends: { ...LLM_BACKENDS, llamacpp: llamacppBackend },
};

/** A failed sign-in of the example source's format. */
const signin = (n: number, ip = '203.0.113.45', outcome = 'failure') => ({
  id: `si-${n}`,
  time: `2026-03-02T08:00:${String(n % 60).padStart(2, '0')}Z`,
  host: 'bastion-1',
  user: 'deploy',
  ip,
  outcome,
});

/** The error a call throws (fails the test when it does not). */
async function thrown(fn: () => unknown): Promise<AisocError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AisocError);
    return err as AisocError;
  }
  throw new Error('expected the call to fail');
}

// ---------------------------------------------------------------- a source

describeSourceConformance({
  factory: authlog,
  fixturesDir: join(import.meta.dirname, 'recipes/source/fixtures'),
  sampleRecord: signin(1),
});

// -------------------------------------------------------------- a detector

describeDetectorConformance({
  factory: loginBurstDetector,
  fires: () =>
    Array.from({ length: 5 }, () =>
      makeEvent({
        class_uid: 3002,
        class_name: 'Authentication',
        category_uid: 3,
        category_name: 'Identity & Access Management',
        status: 'failure',
      }),
    ),
});

// -------------------------------------------------------------- an action

/** A local edge firewall API: block lists of addresses behind a bearer token. */
const FW_TOKEN = 'edgefw-token-7c1d9e4b2a6f';
const firewall = { blocked: new Set<string>(), failing: false };
const firewallApi: Receiver = await startReceiver((req, res) => {
  if (firewall.failing) {
    res.writeHead(502);
    return void res.end(`upstream failed (authorization: ${String(req.headers.authorization)})`);
  }
  if (req.headers.authorization !== `Bearer ${FW_TOKEN}`) {
    res.writeHead(401);
    return void res.end('bad token');
  }
  const m = /^\/api\/v1\/lists\/([^/]+)\/entries\/([^/]+)$/.exec(req.path);
  if (!m) {
    res.writeHead(404);
    return void res.end();
  }
  const key = `${m[1]}/${decodeURIComponent(m[2]!)}`;
  const had = firewall.blocked.has(key);
  if (req.method === 'PUT') firewall.blocked.add(key);
  if (req.method === 'DELETE') firewall.blocked.delete(key);
  res.writeHead(req.method === 'GET' && !had ? 404 : had || req.method === 'PUT' ? 200 : 404);
  res.end();
});
afterAll(() => firewallApi.close());

describeActionConformance({
  factory: edgeFwBlockIpFactory,
  config: { url: firewallApi.url, retry: FAST_RETRY },
  async harness() {
    firewall.blocked.clear();
    firewall.failing = false;
    firewallApi.received.length = 0;
    return {
      ctx: { env: { AISOC_EDGEFW_TOKEN: FW_TOKEN } },
      mutations: () =>
        firewallApi.received.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`),
      calls: () => firewallApi.received.length,
      state: () => [...firewall.blocked].sort(),
      fail: () => {
        firewall.failing = true;
      },
      close: async () => {},
    };
  },
  validInput: { ip: '203.0.113.7' },
  equivalentInput: { ip: '::ffff:203.0.113.7' },
  otherInput: { ip: '198.51.100.9' },
  badInputs: [
    { input: { ip: '127.0.0.1' }, field: 'ip' },
    { input: { ip: '203.0.113.7', port: 22 }, field: 'port' },
  ],
  secrets: [FW_TOKEN],
  repeatSkips: true,
});

// ---------------------------------------------------------- an LLM backend

const LLM_KEY = 'llamacpp-key-3f9a0c1e5b7d';

describeLlmBackendConformance({
  type: 'llamacpp',
  start: startFakeLlamaCpp,
  create: (url, settings, ctx) =>
    llamacppBackend.create(LlamaCppConfig.parse({ url, api_key_env: 'TEST_LLAMACPP_KEY', ...settings }), {
      ...ctx,
      env: { TEST_LLAMACPP_KEY: LLM_KEY },
    }),
  secrets: [LLM_KEY],
});

// -------------------------------------------------------- a pipeline runner

describeRunnerConformance({ type: 'serial', runners: REGISTRIES.runners, ordered: true });

// ------------------------------------------ their sections, from the registries

describe('the new components bring their config sections with their registry lines', () => {
  it('detect.<type> is assembled from the detector registry: defaults, and an unknown key named', async () => {
    const Detect = detectConfigOf(REGISTRIES.detectors);
    expect(Detect.parse({}).login_burst).toEqual({ min_failures: 5, level: 'high' });
    const bad = Detect.safeParse({ login_burst: { min_failures: 3, no_such_setting: 1 } });
    expect(bad.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'login_burst: Unrecognized key: "no_such_setting"',
    ]);
    // The registry parses each section again when it builds, so a bad section fails there too.
    const ctx = { logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }) };
    const err = await thrown(() =>
      buildDetectors(
        { upstream_min_severity: 'medium', login_burst: { min_failures: 1 } },
        { ...ctx, detect: { upstream_min_severity: 'medium', level_overrides: {} } },
        REGISTRIES.detectors,
      ),
    );
    expect(err.field).toBe('detect.login_burst.min_failures');
  });

  it('pipeline.runner and pipeline.<type> are assembled from the runner registry', () => {
    const Pipeline = pipelineConfigOf(REGISTRIES.runners);
    expect(Pipeline.shape.runner.unwrap().options).toEqual([...Object.keys(RUNNERS), 'serial']);
    expect(Pipeline.shape.runner.description).toContain('serial (one loop over the events table');
    expect(Pipeline.parse({ runner: 'serial' })).toMatchObject({ runner: 'serial', serial: { pause_ms: 0 } });
    const bad = Pipeline.safeParse({ serial: { pause: 5 } });
    expect(bad.error?.issues[0]).toMatchObject({ path: ['serial'], message: 'Unrecognized key: "pause"' });
  });

  it('sources.<type> is checked by the extended source registry, naming the field', async () => {
    const err = await thrown(
      () => new SourceRegistry({ authlog: { failure_outcome: ['x'] } }, silentLogger(), REGISTRIES.sources),
    );
    expect(err.code).toBe('AISOC_ERR_CONFIG');
    expect(err.message).toContain('sources.authlog');
    expect(err.message).toContain('failure_outcome');
  });

  it('respond.actions.<type> is checked when the extended catalogue builds the action, naming the field', async () => {
    const err = await thrown(
      () =>
        new ActionCatalogue(
          REGISTRIES.actions,
          { 'edgefw.block_ip': { lists: 'x' } },
          { logger: silentLogger(), env: { AISOC_EDGEFW_TOKEN: FW_TOKEN } },
        ),
    );
    expect(err.code).toBe('AISOC_ERR_CONFIG');
    expect(err.field).toBe('lists');
  });

  it('analyst.<type> comes from LLM_BACKENDS: the application schema knows only the static registry', () => {
    // What AnalystConfig does with the registry, here over the registry with the new backend's line.
    const Analyst = z.strictObject(sectionsOf({ ...LLM_BACKENDS, llamacpp: llamacppBackend }));
    expect(Analyst.parse({}).llamacpp).toEqual(LlamaCppConfig.parse({}));
    const bad = Analyst.safeParse({ llamacpp: { urll: 'http://127.0.0.1:8080' } });
    expect(bad.error?.issues[0]).toMatchObject({ path: ['llamacpp'], message: 'Unrecognized key: "urll"' });
    // Without its line in LLM_BACKENDS, the application's configuration refuses the section.
    expect(() => loadConfig({ env: {}, overrides: { analyst: { llamacpp: {} } } })).toThrow(/llamacpp/);
  });
});

// ------------------------------------------------------------- end to end

describe('the new components, end to end in one runtime', () => {
  const tmp = tempDir('aisoc-recipes-');
  let llm: FakeLlmServer;
  let runtime: Runtime;

  beforeAll(async () => {
    llm = await startFakeLlamaCpp();
    const playbooks = join(tmp.dir, 'playbooks');
    (await import('node:fs')).mkdirSync(playbooks);
    writeFileSync(
      join(playbooks, 'login-burst.yaml'),
      [
        'id: login-burst',
        'name: Login burst',
        'description: A burst of failed sign-ins gets a verdict, and its address a block (dry-run).',
        'order: 5',
        'trigger:',
        '  on: alert',
        '  when: { alert.detections.rule_id: login_burst }',
        'steps:',
        '  - id: analyse',
        '    uses: core.analyse',
        '  - id: block',
        '    if: { external_ips: { exists: true } }',
        '    uses: edgefw.block_ip',
        '    with: { ip: "{{ external_ips | first }}" }',
        '',
      ].join('\n'),
    );
    const config = loadConfig({
      env: {},
      overrides: {
        ml: { enabled: false },
        knowledge: { load: 'lazy' },
        pipeline: { max_event_loop_delay_ms: 0, max_rss_bytes: 0 },
        detect: { sigma: { enabled: false } },
        respond: { builtin_playbooks: false, playbook_dirs: [playbooks] },
      },
    });
    // The configuration is assembled from the product's registries: components added to a registry
    // in a test are chosen after loading (with their line in the registry, the file would say it).
    config.pipeline.runner = 'serial' as typeof config.pipeline.runner;
    config.respond.actions['edgefw.block_ip'] = { url: firewallApi.url };
    config.analyst.backend = 'llamacpp' as typeof config.analyst.backend;
    (config.analyst as Record<string, unknown>).llamacpp = { url: llm.url };
    process.env.AISOC_EDGEFW_TOKEN = FW_TOKEN;
    runtime = await openRuntime(config, {
      inMemory: true,
      response: true,
      worker: true,
      registries: REGISTRIES,
    });
  });
  afterAll(async () => {
    await runtime?.close();
    await llm?.close();
    delete process.env.AISOC_EDGEFW_TOKEN;
    tmp.cleanup();
  });

  it('records in, an alert from the new detector, a verdict from the new backend, the new action in dry-run', async () => {
    expect(runtime.runner.kind).toBe('serial');
    expect(runtime.detectors.map((d) => d.name)).toContain('login_burst');
    // The model answers with a verdict that cites the alert (record A) and states no number the data lacks.
    llm.script({
      reply: {
        text: JSON.stringify({
          severity: 'high',
          category: 'credential_access',
          confidence: 0.9,
          summary:
            'Repeated failed sign-ins for deploy from one external address: a password-guessing attempt.',
          detailed_analysis: 'The failures share the source address and the account.',
          potential_impact: 'Account takeover of deploy on the bastion.',
          is_true_positive: true,
          false_positive_reason: null,
          iocs: [{ ioc_type: 'ip', value: '203.0.113.45', confidence: 0.9 }],
          mitre_techniques: ['T1110'],
          recommendations: [{ action: 'Block the address', priority: 1, rationale: 'It keeps guessing.' }],
          investigation_priority: 2,
          evidence: [{ claim: 'The sign-ins failed from one address.', event_ids: ['A'], fields: [] }],
        }),
      },
    });
    const body = Buffer.from(
      [...Array.from({ length: 6 }, (_, i) => signin(i + 1)), signin(7, '10.0.4.7', 'success')]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const outcome = await runtime.ingest.ingestBody('authlog', body);
    expect(outcome).toMatchObject({ stored: 7, dead_letters: 0 });
    await runtime.runner.drain(60_000);

    const { items: alerts } = await runtime.store.alerts.list({});
    const burst = alerts.find((a) => a.detections.some((d) => d.rule_id === 'login_burst'));
    expect(burst, 'the login burst alert').toBeDefined();
    expect(burst!.detections[0]).toMatchObject({ engine: 'correlation', level: 'high' });
    expect(burst!.event_ids).toHaveLength(6);

    // The triage worker runs the playbook: a verdict from the new backend, then the new action, dry-run.
    const deadline = Date.now() + 120_000;
    let requests = await runtime.store.actions.list({});
    while (requests.items.every((r) => r.status !== 'dry_run') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      requests = await runtime.store.actions.list({});
    }
    const block = requests.items.find((r) => r.type === 'edgefw.block_ip');
    expect(block).toMatchObject({ status: 'dry_run', dry_run: true, input: { ip: '203.0.113.45' } });
    expect(block!.result?.summary).toBe('Would block 203.0.113.45 on the edge firewall (list aisoc).');
    expect(firewallApi.received.filter((r) => r.method !== 'GET')).toEqual([]);

    const verdict = await runtime.store.verdicts.latestFor(burst!.id);
    expect(verdict?.analyst).toBe('llamacpp:llama.cpp');
    expect(verdict?.response).toMatchObject({ severity: 'high', category: 'credential_access' });
    expect(llm.requests).toHaveLength(1);

    // The new detector's own metric, on the runtime's registry.
    const metric = await runtime.metrics.registry.getSingleMetricAsString('aisoc_example_login_bursts_total');
    expect(metric).toContain('aisoc_example_login_bursts_total 1');
  });
});
