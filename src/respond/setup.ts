import type { Logger } from 'pino';
import { type AssetContext, scorePriority } from '../analyst/priority.ts';
import type { AnalystService } from '../analyst/service.ts';
import { type CaseHooks, CaseService } from '../cases/service.ts';
import { incidentPriority, TRIAGE_TOPIC } from '../correlate/index.ts';
import { ipClass, ownAddresses, parseIp, unblockableReason } from '../net/ip.ts';
import type { TriageResponse } from '../schema/verdict.ts';
import type { Store } from '../store/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { disputedNotice, modelWritten } from './actions/notify/message.ts';
import { entitiesByType, type RunContext } from './context.ts';
import { type CoreHandlers, PlaybookEngine } from './engine.ts';
import { type ActionInfo, type LintIssue, loadPlaybooks } from './playbooks/load.ts';
import type { Playbook } from './playbooks/model.ts';
import type { ActionPort } from './port.ts';
import { ActionService } from './service.ts';
import { TriageWorker } from './worker.ts';

/** The analyse/respond half of the product, built once per runtime. */
export interface ResponseComponents {
  analyst: AnalystService;
  actions: ActionService;
  cases: CaseService;
  engine: PlaybookEngine;
  worker: TriageWorker;
  playbooks: Playbook[];
  /** Problems found loading playbooks (the bad playbooks are not loaded). */
  playbookIssues: LintIssue[];
}

export interface ResponseDeps {
  store: Store;
  logger: Logger;
  metrics: Metrics;
  analyst: AnalystService;
  port: ActionPort;
  assets: AssetContext;
  playbookDirs: string[];
  /** Every action the product knows (configured or not): playbooks are linted against these. */
  knownActions: Map<string, ActionInfo>;
  /** Priority at or above which the decision flow runs the analyst (the seed's threshold, 80). */
  threshold: number;
  dryRun: boolean;
  /** `respond.approvals.min_approvers`. */
  minApprovers?: number;
  /** `respond.suppressions.max_days`. */
  suppressionMaxDays?: number;
  workerConcurrency: number;
  /** `respond.worker_lease_ms`. */
  workerLeaseMs?: number;
  caseHooks?: CaseHooks;
}

/**
 * A verdict as playbook conditions and templates see it. Text a model wrote
 * (summary, analysis, impact, false-positive reason, recommendations) is
 * labelled as model-written and unverified, so no template can pass it on
 * as the product's own words (notifications, case notes). A disputed verdict
 * says so first: the built-in analyst's verdict stands, and the model's text
 * is not repeated (a person reads it in the API, under `dispute`).
 */
export function verdictView(
  response: TriageResponse,
  analyst: string,
  checked: boolean,
): NonNullable<RunContext['verdict']> {
  const view = { ...response, analyst, checked };
  if (response.disputed && response.dispute) {
    view.summary = `${disputedNotice(response, response.dispute)} Built-in analyst: ${response.summary}`;
  } else if (analyst !== 'builtin') {
    view.summary = modelWritten(response.summary, analyst);
    view.detailed_analysis = modelWritten(response.detailed_analysis, analyst, MODEL_TEXT_OTHER);
    view.potential_impact = modelWritten(response.potential_impact, analyst, MODEL_TEXT_OTHER);
    if (response.false_positive_reason)
      view.false_positive_reason = modelWritten(response.false_positive_reason, analyst, MODEL_TEXT_OTHER);
    view.recommendations = response.recommendations.map((r) => ({
      ...r,
      action: modelWritten(r.action, analyst, MODEL_TEXT_OTHER),
    }));
  }
  return view;
}

/** The label of model-written text other than the summary. */
const MODEL_TEXT_OTHER = 'Model-written text (unverified)';

/** What the linter needs to know about each action type. */
export function actionInfos(
  factories: ReadonlyArray<{
    type: string;
    effect: ActionInfo['effect'];
    inputSchema: ActionInfo['inputSchema'];
  }>,
): Map<string, ActionInfo> {
  return new Map(
    factories.map((f) => [f.type, { type: f.type, effect: f.effect, inputSchema: f.inputSchema }]),
  );
}

/**
 * Wire the response side: actions, cases, the playbook engine with its core
 * steps (score, analyse, case) and the triage worker that runs it.
 */
export function createResponse(d: ResponseDeps): ResponseComponents {
  const actions = new ActionService(d.store, d.port, d.logger, d.metrics, {
    dryRunCeiling: d.dryRun,
    ...(d.minApprovers === undefined ? {} : { minApprovers: d.minApprovers }),
  });
  const cases = new CaseService(d.store, d.logger, d.caseHooks, {
    ...(d.suppressionMaxDays === undefined ? {} : { suppressionMaxDays: d.suppressionMaxDays }),
    metrics: d.metrics,
  });
  // Lint against every known action: a step whose action is not configured here is skipped at run time, not an error.
  const loaded = loadPlaybooks(d.playbookDirs, d.knownActions);
  for (const issue of loaded.issues) d.logger.error(issue, 'A playbook could not be loaded.');

  const incidentSizeOf = async (ctx: RunContext) => ctx.incident?.alert_count ?? 1;

  /**
   * An alert's priority changed: recompute its incident's, and queue the
   * incident again so incident playbooks see it cross the threshold.
   */
  const refreshIncident = async (incidentId: string | undefined) => {
    if (!incidentId) return;
    const incident = await d.store.incidents.get(incidentId);
    if (!incident) return;
    const alerts = await d.store.alerts.getMany(incident.alert_ids);
    const priority = incidentPriority(alerts.map((a) => a.priority));
    if (priority === incident.priority) return;
    await d.store.transaction(async (tx) => {
      // In place: correlation may have added alerts to the incident since it was read.
      await tx.incidents.patch(incident.id, { priority }, new Date().toISOString());
      await tx.work.enqueue(TRIAGE_TOPIC, `incident:${incident.id}`, { type: 'incident', id: incident.id });
    });
  };

  /** Store an alert's new priority in place (correlation may have added events since it was read). */
  const setAlertPriority = async (
    ctx: RunContext,
    alert: NonNullable<RunContext['alert']>,
    priority: number,
  ) => {
    const updated =
      (await d.store.alerts.setPriority(alert.id, priority, new Date().toISOString())) ??
      ({ ...alert, priority } as typeof alert);
    ctx.alert = updated;
    await refreshIncident(updated.incident_id);
  };

  const core: CoreHandlers = {
    async 'core.score'(ctx) {
      if (ctx.subject.type === 'incident' || !ctx.alert)
        return { priority: ctx.priority, above_threshold: ctx.above_threshold };
      const r = scorePriority({
        alert: ctx.alert,
        assets: d.assets,
        incidentSize: await incidentSizeOf(ctx),
      });
      ctx.priority = r.score;
      ctx.detection_priority = r.score;
      ctx.above_threshold = r.score >= d.threshold;
      if (r.score !== ctx.alert.priority) await setAlertPriority(ctx, ctx.alert, r.score);
      return { priority: r.score, above_threshold: ctx.above_threshold, components: r.components };
    },
    async 'core.analyse'(ctx) {
      const outcome =
        ctx.subject.type === 'incident'
          ? await d.analyst.analyzeIncident(ctx.subject.id)
          : await d.analyst.analyzeAlert(ctx.subject.id);
      const v = outcome.response;
      ctx.verdict = verdictView(v, outcome.analyst, outcome.checked);
      if (ctx.alert) {
        // A disputed model verdict is stored with the built-in analyst's verdict standing (analyst "builtin"):
        // priority reads the built-in's judgement, so the model cannot lower it.
        const source = outcome.analyst === 'builtin' ? 'builtin' : 'llm';
        const r = scorePriority({
          alert: ctx.alert,
          assets: d.assets,
          incidentSize: await incidentSizeOf(ctx),
          verdict: { is_true_positive: v.is_true_positive, confidence: v.confidence, source },
        });
        ctx.priority = r.score;
        if (ctx.subject.type === 'alert' && r.score !== ctx.alert.priority)
          await setAlertPriority(ctx, ctx.alert, r.score);
      }
      return {
        verdict_id: outcome.stored?.id,
        analyst: outcome.analyst,
        is_true_positive: v.is_true_positive,
        severity: v.severity,
        confidence: v.confidence,
        checked: outcome.checked,
        disputed: v.disputed,
        // Labelled like ctx.verdict.summary: templates may read either.
        summary: ctx.verdict.summary,
        priority: ctx.priority,
      };
    },
    async 'case.create'(ctx, at) {
      const incidentId = ctx.incident?.id ?? ctx.alert?.incident_id;
      if (!incidentId) return { status: 'no_incident' };
      // One case per run and step: a second pass over this step finds the case it opened, even closed.
      const { case: c, created } = await cases.openForIncident(incidentId, `playbook:${ctx.playbook.id}`, {
        origin: `run:${at.run_id}:${at.step_id}`,
      });
      return { case_id: c.id, created, observables: c.observables.length };
    },
  };

  const engine = new PlaybookEngine({
    store: d.store,
    actions,
    core,
    playbooks: loaded.playbooks,
    logger: d.logger,
    dryRun: d.dryRun,
    loadContext: (subject, pb) =>
      loadRunContext(d.store, subject, pb, { assets: d.assets, threshold: d.threshold, dryRun: d.dryRun }),
  });
  const worker = new TriageWorker({
    store: d.store,
    engine,
    actions,
    logger: d.logger,
    metrics: d.metrics,
    concurrency: d.workerConcurrency,
    ...(d.workerLeaseMs === undefined ? {} : { leaseMs: d.workerLeaseMs }),
  });
  return {
    analyst: d.analyst,
    actions,
    cases,
    engine,
    worker,
    playbooks: loaded.playbooks,
    playbookIssues: loaded.issues,
  };
}

/** What {@link loadRunContext} reads: the store's repositories, or the AWS deployment's DynamoDB tables. */
export interface RunContextReader {
  incidents: Pick<Store['incidents'], 'get'>;
  alerts: Pick<Store['alerts'], 'get' | 'getMany'>;
  verdicts: Pick<Store['verdicts'], 'latestFor'>;
}

/**
 * The context a playbook runs in for a subject, read fresh: the alert (an
 * incident's top-priority one), the incident, the latest verdict, entities,
 * external addresses, and the priorities conditions and policies see. The
 * playbook engine and the AWS state machine's planning step both use it.
 */
export async function loadRunContext(
  store: RunContextReader,
  subject: RunContext['subject'],
  pb: Pick<Playbook, 'id' | 'name'>,
  o: { assets: AssetContext; threshold: number; dryRun: boolean },
): Promise<RunContext | undefined> {
  const incident = subject.type === 'incident' ? await store.incidents.get(subject.id) : undefined;
  const alert =
    subject.type === 'alert'
      ? await store.alerts.get(subject.id)
      : incident
        ? (await store.alerts.getMany(incident.alert_ids.slice(0, 100))).sort(
            (a, b) => b.priority - a.priority,
          )[0]
        : undefined;
  if (!alert) return undefined;
  const inc = incident ?? (alert.incident_id ? await store.incidents.get(alert.incident_id) : undefined);
  const verdict = await store.verdicts.latestFor(subject.id);
  const detection = scorePriority({ alert, assets: o.assets, incidentSize: inc?.alert_count ?? 1 }).score;
  const priority = subject.type === 'incident' ? (inc?.priority ?? alert.priority) : alert.priority;
  const entities = entitiesByType(
    inc?.entities.length ? [...inc.entities, ...alert.entities] : alert.entities,
  );
  const ctx: RunContext = {
    subject,
    alert,
    priority,
    detection_priority: Math.min(detection, priority),
    above_threshold: priority >= o.threshold,
    entities,
    external_ips: externalIps(entities.ip ?? []),
    steps: {},
    playbook: { id: pb.id, name: pb.name },
    config: { dry_run: o.dryRun, threshold: o.threshold },
  };
  if (inc) ctx.incident = inc;
  if (verdict) ctx.verdict = verdictView(verdict.response, verdict.analyst, verdict.checked);
  return ctx;
}

/**
 * The entity addresses outside the organisation, normalised (an IPv4-mapped
 * address becomes IPv4) and without this server's own addresses: what a
 * playbook may offer a block action.
 */
export function externalIps(values: readonly string[]): string[] {
  const own = ownAddresses();
  const out = new Set<string>();
  for (const v of values) {
    const ip = parseIp(v.trim());
    if (ip && ipClass(ip) === 'public' && !unblockableReason(ip, own)) out.add(ip.text);
  }
  return [...out];
}
