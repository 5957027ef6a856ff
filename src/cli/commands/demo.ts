import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CONTENT_DIR } from '../../content.ts';
import { AisocError } from '../../errors.ts';
import { action, commandConfig, say } from '../common.ts';
import { type ReceivedNotification, startDemoReceiver } from '../demo-receiver.ts';
import { remote, sendIngest } from '../remote.ts';
import { closeOnSignals, startServer } from '../server.ts';

export const DemoScenario = z.strictObject({
  title: z.string(),
  description: z.string(),
  steps: z
    .array(
      z.strictObject({
        source: z.string().describe('Source type the file is sent to'),
        file: z.string().describe('File under content/demo/'),
        say: z.string().describe('What this step shows'),
      }),
    )
    .min(1),
  look_at: z.array(z.string()).default([]).describe('Hints printed at the end'),
});
export type DemoScenario = z.infer<typeof DemoScenario>;

export function loadScenario(dir = join(CONTENT_DIR, 'demo')): DemoScenario {
  const file = join(dir, 'scenario.yaml');
  const parsed = DemoScenario.safeParse(parseYaml(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new AisocError(
      'AISOC_ERR_CONFIG',
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      { file },
    );
  }
  for (const s of parsed.data.steps) {
    if (!existsSync(join(dir, s.file)))
      throw new AisocError('AISOC_ERR_CONFIG', `${file}: step file ${s.file} does not exist`, { file });
  }
  return parsed.data;
}

export interface DemoResult {
  url: string;
  admin_key: string;
  events: number;
  alerts: number;
  incidents: number;
  alerts_above_threshold: number;
  alerts_with_checked_verdict: number;
  cases: number;
  steps: Array<{ source: string; file: string; stored: number; duplicates: number; dead_letters: number }>;
  walkthrough?: Walkthrough;
  probes?: DemoProbes;
}

/** What the demo asks of retrieval and the models, to show they answer on its data. */
export interface DemoProbes {
  retrieve: {
    query: string;
    total_results: number;
    top: Array<{ kind: string; id: string; name?: string; score: number }>;
    /** Why retrieval did not answer (no ATT&CK bundle loaded). */
    unavailable?: string;
  };
  /** /predict/event on one event of each source a default model describes. */
  predict_event: Array<{
    source: string;
    event_id: string;
    model: string;
    feature_set: string;
    prediction: string;
    confidence: number;
  }>;
  /** /predict with the feature vector /predict/event computed for the first of them: the same answer. */
  predict?: { model: string; prediction: string; confidence: number };
}

interface PredictResult {
  model_used: string;
  feature_set: string;
  prediction: string;
  confidence: number;
  features: number[];
}

/**
 * Ask the knowledge base about the top incident and the models about the
 * demo's own events, over the API, as an integration would.
 */
export async function probe(
  url: string,
  key: string,
  query: string,
  log: (s: string) => void,
): Promise<DemoProbes> {
  const out: DemoProbes = { retrieve: { query, total_results: 0, top: [] }, predict_event: [] };
  try {
    const r = await remote<{
      total_results: number;
      results: Array<{ metadata: Record<string, unknown>; similarity_score: number }>;
    }>({ url, key: key }, 'POST', '/retrieve', { query, collection: 'mitre_attack', top_k: 3 });
    out.retrieve.total_results = r.total_results;
    out.retrieve.top = r.results.map((x) => ({
      kind: String(x.metadata.kind ?? ''),
      id: String(x.metadata.technique_id ?? x.metadata.mitigation_id ?? x.metadata.tactic_id ?? ''),
      ...(typeof x.metadata.name === 'string' ? { name: x.metadata.name } : {}),
      score: x.similarity_score,
    }));
    log(
      `  → /retrieve "${query}": ${out.retrieve.top.map((t) => `${t.id} ${t.name ?? ''}`.trim()).join('; ')}`,
    );
  } catch (err) {
    // Without an ATT&CK bundle (no ../shared/data, never `aisoc kb load`), retrieval answers 503.
    out.retrieve.unavailable = (err as Error).message;
    log(`  → /retrieve is unavailable: ${out.retrieve.unavailable}`);
  }
  let first: PredictResult | undefined;
  for (const source of ['cloudtrail', 'suricata']) {
    const events = await remote<{ items: Array<Record<string, unknown> & { id: string }> }>(
      { url, key: key },
      'GET',
      `/events?source=${source}&limit=1`,
    );
    const event = events.items[0];
    if (!event) continue;
    let body: { results: PredictResult[] };
    try {
      body = await remote({ url, key: key }, 'POST', '/predict/event', { event });
    } catch (err) {
      // 422: no served model's feature set describes this kind of event.
      if (err instanceof AisocError && err.details?.status === 422) continue;
      throw err;
    }
    for (const p of body.results) {
      first ??= p;
      out.predict_event.push({
        source,
        event_id: event.id,
        model: p.model_used,
        feature_set: p.feature_set,
        prediction: p.prediction,
        confidence: p.confidence,
      });
      log(`  → /predict/event (${source}, ${p.model_used}): ${p.prediction} (${p.confidence.toFixed(2)})`);
    }
  }
  if (first) {
    const p = await remote<{ prediction: string; confidence: number; model_used: string }>(
      { url, key: key },
      'POST',
      '/predict',
      {
        features: first.features,
        model_name: first.model_used,
      },
    );
    out.predict = { model: p.model_used, prediction: p.prediction, confidence: p.confidence };
  }
  return out;
}

/**
 * Replay the scenario through the HTTP API of a running server, the way a
 * real integration would send it, then wait for the pipeline to finish.
 */
export async function replayScenario(
  url: string,
  key: string,
  scenario: DemoScenario,
  dir = join(CONTENT_DIR, 'demo'),
  log: (s: string) => void = say,
) {
  const steps: DemoResult['steps'] = [];
  for (const step of scenario.steps) {
    log(`  → ${step.say}`);
    const body = gzipSync(readFileSync(join(dir, step.file)));
    // A busy server answers 429 or 503 with Retry-After; the same body is sent again, as an integration would.
    const json = await sendIngest(url, key, step.source, body, { 'content-encoding': 'gzip' });
    steps.push({
      source: step.source,
      file: step.file,
      stored: Number(json.stored),
      duplicates: Number(json.duplicates),
      dead_letters: Number(json.dead_letters),
    });
  }
  return steps;
}

export interface Walkthrough {
  incident: {
    id: string;
    title: string;
    priority: number;
    case_id?: string;
    verdict?: { summary: string; analyst: string; checked: boolean };
  };
  notifications: { received: number; verified: number };
  action?: { id: string; type: string; statuses: string[]; summary?: string };
  audit: string[];
}

/**
 * Walk the top incident through the response flow the way a responder
 * would, over the API: read its verdict and case, approve the containment
 * waiting for approval (a key with the responder scope), see it run in
 * dry-run, roll it back, and read the audit trail.
 */
export async function walkthrough(
  url: string,
  adminKey: string,
  waitIdle: () => Promise<void>,
  notifications: ReceivedNotification[],
  log: (s: string) => void,
): Promise<Walkthrough | undefined> {
  const incidents = await remote<{
    items: Array<{ id: string; title: string; priority: number; case_id?: string }>;
  }>({ url, key: adminKey }, 'GET', '/incidents?limit=1');
  const top = incidents.items[0];
  if (!top) return undefined;
  const out: Walkthrough = {
    incident: { id: top.id, title: top.title, priority: top.priority },
    notifications: { received: 0, verified: 0 },
    audit: [],
  };
  const detail = await remote<{ case_id?: string }>({ url, key: adminKey }, 'GET', `/incidents/${top.id}`);
  if (detail.case_id) out.incident.case_id = detail.case_id;
  const responder = await remote<{ key: string }>({ url, key: adminKey }, 'POST', '/keys', {
    name: `demo-responder-${Date.now()}`,
    scopes: ['responder', 'read'],
  });
  const pending = await remote<{
    items: Array<{ id: string; type: string; incident_id?: string; status: string }>;
  }>({ url, key: adminKey }, 'GET', '/actions?status=pending_approval&limit=100');
  const waiting = pending.items.find((a) => a.incident_id === top.id) ?? pending.items[0];
  if (waiting) {
    const statuses = [waiting.status];
    log(`  → ${waiting.type} waits for approval; approving it with a responder key…`);
    const approved = await remote<{ status: string; result?: { summary: string } }>(
      { url, key: responder.key },
      'POST',
      `/actions/${waiting.id}/approve`,
      { comment: 'Demo: confirmed with the account owner' },
    );
    statuses.push(approved.status);
    log(`  → it ran: ${approved.result?.summary ?? approved.status}`);
    await waitIdle();
    const rolled = await remote<{ status: string; result?: { summary: string } }>(
      { url, key: responder.key },
      'POST',
      `/actions/${waiting.id}/rollback`,
      { comment: 'Demo: undo the containment' },
    );
    statuses.push(rolled.status);
    log(`  → rolled back: ${rolled.result?.summary ?? rolled.status}`);
    out.action = {
      id: waiting.id,
      type: waiting.type,
      statuses,
      ...(approved.result ? { summary: approved.result.summary } : {}),
    };
  }
  await waitIdle();
  const verdict = await remote<{ items: unknown[] }>(
    { url, key: adminKey },
    'GET',
    `/audit?target_id=${top.id}&action=verdict&limit=5`,
  );
  const v = verdict.items.at(-1) as
    | { actor?: string; reason?: string; details?: { checked?: boolean } }
    | undefined;
  if (v)
    out.incident.verdict = {
      summary: v.reason ?? '',
      analyst: (v.actor ?? '').replace('analyst:', ''),
      checked: Boolean(v.details?.checked),
    };
  const refreshed = await remote<{ case_id?: string }>({ url, key: adminKey }, 'GET', `/incidents/${top.id}`);
  if (refreshed.case_id) out.incident.case_id = refreshed.case_id;
  const trail: string[] = [];
  for (const target of [top.id, out.action?.id, out.incident.case_id].filter((x): x is string =>
    Boolean(x),
  )) {
    const a = await remote<{ items: Array<{ id: number; action: string }> }>(
      { url, key: adminKey },
      'GET',
      `/audit?target_id=${encodeURIComponent(target)}&limit=1000`,
    );
    for (const e of a.items) trail.push(`${e.id}:${e.action}`);
  }
  out.audit = trail
    .sort((x, y) => Number(x.split(':')[0]) - Number(y.split(':')[0]))
    .map((x) => x.slice(x.indexOf(':') + 1));
  out.notifications = {
    received: notifications.length,
    verified: notifications.filter((n) => n.verified).length,
  };
  return out;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'Start the embedded server, replay the demo scenario (content/demo/), walk its top incident through the response flow, and show what to look at',
    )
    .option('-p, --port <port>', 'HTTP port (0 picks a free one)', (v) => Number.parseInt(v, 10), 8080)
    .option('--keep', 'keep the demo data directory from the last run instead of starting fresh')
    .option('--exit', 'exit after the replay instead of serving (for scripts and tests)')
    .option('--no-walkthrough', 'do not approve and roll back the waiting action')
    .option('--json', 'print a JSON summary')
    .action(
      action(
        async (
          opts: { port: number; keep?: boolean; exit?: boolean; walkthrough: boolean; json?: boolean },
          cmd: Command,
        ) => {
          const g = cmd.optsWithGlobals() as { dataDir?: string };
          const dataDir = g.dataDir ?? './.aisoc-demo';
          if (!opts.keep) rmSync(dataDir, { recursive: true, force: true });
          const scenario = loadScenario();
          const log = opts.json ? () => {} : say;
          // A local receiver stands in for the on-call channel; notifications are signed and checked.
          const secret = randomBytes(32).toString('hex');
          const receiver = await startDemoReceiver(secret);
          process.env.AISOC_DEMO_WEBHOOK_URL = receiver.url;
          process.env.AISOC_DEMO_WEBHOOK_SECRET = secret;
          const overrides = (port: number) => ({
            data_dir: dataDir,
            server: { port },
            log_level: 'warn',
            analyst: {
              assets: {
                critical_hosts: ['bastion-01', '10.0.1.10'],
                privileged_users: ['root'],
                crown_jewel_accounts: ['111122223333'],
              },
            },
            respond: {
              dry_run: true,
              actions: {
                'notify.webhook': {
                  url_env: 'AISOC_DEMO_WEBHOOK_URL',
                  secret_env: 'AISOC_DEMO_WEBHOOK_SECRET',
                },
                'local.block_ip': {},
              },
            },
          });
          let config = commandConfig(cmd, overrides(opts.port));
          let running: Awaited<ReturnType<typeof startServer>>;
          try {
            running = await startServer(config, { logDestination: 2 });
          } catch (err) {
            if (!(err instanceof AisocError) || err.code !== 'AISOC_ERR_PORT_IN_USE') throw err;
            say(`Port ${opts.port} is taken; using a free port instead.`);
            config = commandConfig(cmd, overrides(0));
            running = await startServer(config, { logDestination: 2 });
          }
          const key = running.adminKey!;
          const { runtime } = running;
          log(`\n${scenario.title}\n${scenario.description.trim()}\n`);
          log('  → loading ATT&CK and the runbooks for retrieval…');
          await runtime.knowledge
            .ready()
            .catch((err) => say(`  (retrieval is unavailable: ${(err as Error).message})`));
          const steps = await replayScenario(running.url, key, scenario, undefined, log);
          await runtime.runner.drain(120_000);
          const waitIdle = () => runtime.response?.worker.idle(300_000) ?? Promise.resolve();
          await waitIdle();
          const walk = opts.walkthrough
            ? await walkthrough(running.url, key, waitIdle, receiver.received, log)
            : undefined;
          const { store } = runtime;
          const topIncident = (await store.incidents.list({ limit: 1 })).items[0];
          const alerts = (await store.alerts.list({ limit: 1000 })).items;
          // Ask about the top incident the way an analyst would: by the title of its highest-priority
          // alert that a rule (not a model) raised, which names the behaviour.
          const ruled = alerts
            .filter((a) => a.incident_id === topIncident?.id && a.detections.some((d) => d.engine !== 'ml'))
            .sort((a, b) => b.priority - a.priority)[0];
          const probes = await probe(running.url, key, ruled?.title ?? scenario.title, log);
          const above = alerts.filter((a) => a.priority >= config.respond.threshold);
          let checked = 0;
          for (const a of above) if ((await store.verdicts.latestFor(a.id))?.checked) checked++;
          const result: DemoResult = {
            url: running.url,
            admin_key: key,
            events: await store.events.count(),
            alerts: alerts.length,
            incidents: (await store.incidents.list({ limit: 1 })).total,
            alerts_above_threshold: above.length,
            alerts_with_checked_verdict: checked,
            cases: (await store.cases.list({ limit: 1 })).total,
            steps,
            ...(walk ? { walkthrough: walk } : {}),
            probes,
          };
          if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
          else {
            say(
              `\nThe demo is ready: ${result.events} events, ${result.alerts} alerts (${above.length} at or above priority ${config.respond.threshold}, ${checked} with a checked verdict), ${result.incidents} incidents, ${result.cases} case(s).`,
            );
            if (walk) {
              say(`Top incident: ${walk.incident.title} (priority ${walk.incident.priority})`);
              if (walk.incident.verdict)
                say(
                  `  verdict (${walk.incident.verdict.analyst}, evidence ${walk.incident.verdict.checked ? 'checked' : 'NOT checked'}): ${walk.incident.verdict.summary}`,
                );
              if (walk.incident.case_id) say(`  case: ${walk.incident.case_id}`);
              say(
                `  notifications to the local receiver: ${walk.notifications.received} (${walk.notifications.verified} with a valid signature)`,
              );
              if (walk.action) say(`  ${walk.action.type}: ${walk.action.statuses.join(' → ')}`);
              say(`  audit trail: ${walk.audit.join(', ')}`);
            }
            say(`\n  URL:        ${result.url}   (API docs at ${result.url}/docs)`);
            say(`  Admin key:  ${key}\n`);
            say('Look at:');
            say(`  curl -s -H "Authorization: Bearer ${key}" "${result.url}/incidents" | jq`);
            say(
              `  curl -s -H "Authorization: Bearer ${key}" "${result.url}/alerts?sort=priority&limit=10" | jq '.items[] | {priority, severity, title}'`,
            );
            for (const hint of scenario.look_at)
              say(`  ${hint.replaceAll('$URL', result.url).replaceAll('$KEY', key)}`);
            if (!opts.exit) say('\nPress Ctrl-C to stop.');
          }
          if (opts.exit) {
            await running.close();
            await receiver.close();
          } else closeOnSignals(running);
        },
      ),
    );
}
