import type { Logger } from 'pino';
import { AisocError, describeError } from '../errors.ts';
import { uuidv7 } from '../ids.ts';
import type { Alert } from '../schema/alert.ts';
import type { Incident } from '../schema/incident.ts';
import type { ModelAnswer, SecurityAlert, StoredVerdict, TriageResponse } from '../schema/verdict.ts';
import type { Store } from '../store/index.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { builtinVerdict, retrieveContext } from './builtin.ts';
import { analysisCacheKey } from './cache-key.ts';
import { type CheckFinding, checkVerdict } from './checker.ts';
import { disputedVerdict, disputeReason } from './dispute.ts';
import { evidenceContext, gatherFacts } from './facts.ts';
import { type Spotlight, unmarkPath } from './guards/spotlight.ts';
import type { LlmBackend, LlmMessage } from './llm/types.ts';
import { analystMetrics } from './metrics.ts';
import type { AssetContext } from './priority.ts';
import { buildPrompt, VERDICT_SCHEMA } from './prompt.ts';
import { inputFromAlert, inputFromSecurityAlert } from './subject.ts';
import type { AnalysisInput, AnalystKnowledge, RetrievedContext } from './types.ts';

/**
 * What the analyst reads and writes: the store's repositories, or the AWS
 * deployment's DynamoDB tables (`src/aws/records.ts`).
 */
export interface AnalystStore {
  alerts: Pick<Store['alerts'], 'get' | 'getMany'>;
  incidents: Pick<Store['incidents'], 'get'>;
  events: Pick<Store['events'], 'getMany'>;
  verdicts: Pick<Store['verdicts'], 'latestByCacheKey' | 'insert'>;
  audit: Pick<Store['audit'], 'append'>;
}

export interface AnalystOptions {
  store: AnalystStore;
  knowledge?: AnalystKnowledge;
  /** The LLM backend; null or absent means the built-in analyst only. */
  llm?: LlmBackend | null;
  assets: AssetContext;
  metrics: Metrics;
  logger: Logger;
  /** Reuse a verdict for the same analysis input (docs/analyst.md: cache key) younger than this (0 disables). */
  cacheTtlMs?: number;
  /** Events read per alert. */
  maxEvents?: number;
}

export interface VerdictOutcome {
  response: TriageResponse;
  /** Who wrote the verdict that stands: `builtin` (also when a model verdict was disputed or failed) or `backend:model`. */
  analyst: string;
  checked: boolean;
  repaired: boolean;
  fallback_reason?: string;
  cached: boolean;
  stored?: StoredVerdict;
}

/**
 * The analyst: retrieval first, then the configured LLM (with spotlighted
 * data, pseudonymised for remote endpoints by the backend wrapper) or the
 * built-in analyst. Every verdict goes through the evidence checker; an LLM
 * verdict that fails is repaired once with the checker's findings, and
 * replaced by the built-in verdict if it still fails or the LLM fails at all —
 * and the record says which. The built-in analyst runs beside every LLM
 * verdict: a model verdict weaker than the built-in's is stored as disputed
 * and the built-in's verdict stands. Verdicts are stored with their subject
 * and cached by a hash of the whole input, the analyst and the knowledge
 * version. The analyst never changes an alert's status.
 */
export class AnalystService {
  constructor(private readonly opts: AnalystOptions) {}

  /** The LLM backend, or null for the built-in analyst (report mapping asks it to choose among candidates). */
  get llm(): LlmBackend | null {
    return this.opts.llm ?? null;
  }

  get backendName(): string {
    return this.opts.llm ? `${this.opts.llm.name}:${this.opts.llm.model}` : 'builtin';
  }

  /** `POST /analyze`: a submitted SecurityAlert. */
  async analyzeSecurityAlert(sa: SecurityAlert, options: { store?: boolean } = {}): Promise<VerdictOutcome> {
    const input = inputFromSecurityAlert(sa, this.opts.assets);
    return this.analyse(input, { store: options.store ?? true });
  }

  /** A stored alert, with its events and incident. */
  async analyzeAlert(alertId: string, options: { force?: boolean } = {}): Promise<VerdictOutcome> {
    const { store } = this.opts;
    const alert = await store.alerts.get(alertId);
    if (!alert) throw new AisocError('AISOC_ERR_NOT_FOUND', `No alert ${alertId}`, { field: 'id' });
    const incident = alert.incident_id ? await store.incidents.get(alert.incident_id) : undefined;
    const events = await store.events.getMany(alert.event_ids.slice(0, this.opts.maxEvents ?? 50));
    return this.analyse(inputFromAlert(alert, events, incident, this.opts.assets), {
      store: true,
      force: options.force,
    });
  }

  /** An incident: its alerts' detections and events, analysed as one. */
  async analyzeIncident(incidentId: string, options: { force?: boolean } = {}): Promise<VerdictOutcome> {
    const { store } = this.opts;
    const incident = await store.incidents.get(incidentId);
    if (!incident) throw new AisocError('AISOC_ERR_NOT_FOUND', `No incident ${incidentId}`, { field: 'id' });
    const alerts = await store.alerts.getMany(incident.alert_ids.slice(0, 100));
    if (alerts.length === 0)
      throw new AisocError('AISOC_ERR_CONFLICT', `Incident ${incidentId} has no alerts`, { field: 'id' });
    const combined = combineAlerts(incident, alerts);
    const eventIds = [...new Set(alerts.flatMap((a) => a.event_ids))].slice(0, this.opts.maxEvents ?? 50);
    const input = inputFromAlert(combined, await store.events.getMany(eventIds), incident, this.opts.assets);
    input.subject_id = incident.id;
    input.subject_type = 'incident';
    return this.analyse(input, { store: true, force: options.force });
  }

  /** The verdict cache key of an input: its whole content, who analyses it and with which knowledge. */
  cacheKey(input: AnalysisInput): string {
    return analysisCacheKey(input, {
      analyst: this.backendName,
      knowledge: this.opts.knowledge?.version() ?? 'none',
    });
  }

  private async analyse(
    input: AnalysisInput,
    o: { store: boolean; force?: boolean },
  ): Promise<VerdictOutcome> {
    const { store } = this.opts;
    const metrics = analystMetrics(this.opts.metrics);
    const started = performance.now();
    const ttl = this.opts.cacheTtlMs ?? 3_600_000;
    const cacheKey = o.store ? this.cacheKey(input) : undefined;
    // Only stored verdicts are cached: an evaluation run (store: false) always analyses afresh.
    if (cacheKey && !o.force && ttl > 0) {
      const cached = await store.verdicts.latestByCacheKey(cacheKey);
      if (cached && Date.now() - Date.parse(cached.created_at) < ttl) {
        metrics.triageRequests.inc({ status: 'cached' });
        return {
          response: cached.response,
          analyst: cached.analyst,
          checked: cached.checked,
          repaired: cached.repaired,
          ...(cached.fallback_reason ? { fallback_reason: cached.fallback_reason } : {}),
          cached: true,
          stored: cached,
        };
      }
    }
    let outcome: Omit<VerdictOutcome, 'cached' | 'stored'>;
    try {
      const retrieved = await retrieveContext(input, this.opts.knowledge);
      outcome = this.opts.llm
        ? await this.withLlm(input, retrieved, this.opts.llm, started)
        : this.withBuiltin(input, retrieved, started);
    } catch (err) {
      metrics.triageRequests.inc({ status: 'error' });
      throw err;
    }
    outcome.response.processing_time_ms = Math.round((performance.now() - started) * 100) / 100;
    metrics.triageRequests.inc({ status: outcome.fallback_reason ? 'fallback' : 'success' });
    if (outcome.response.disputed) metrics.triageDisputed.inc();
    metrics.triageDuration.observe((performance.now() - started) / 1000);
    metrics.triageConfidence.observe(outcome.response.confidence);
    let stored: StoredVerdict | undefined;
    if (o.store) {
      stored = {
        id: uuidv7(),
        alert_id: input.subject_id,
        subject_type: input.subject_type,
        fingerprint: input.alert.fingerprint,
        ...(cacheKey ? { cache_key: cacheKey } : {}),
        analyst: outcome.analyst,
        checked: outcome.checked,
        repaired: outcome.repaired,
        ...(outcome.fallback_reason ? { fallback_reason: outcome.fallback_reason } : {}),
        response: outcome.response,
        created_at: new Date().toISOString(),
      };
      await store.verdicts.insert(stored);
      await store.audit.append({
        actor: `analyst:${outcome.analyst}`,
        action: 'verdict',
        target_type: input.subject_type,
        target_id: input.subject_id,
        reason: outcome.response.summary.slice(0, 500),
        details: {
          verdict_id: stored.id,
          is_true_positive: outcome.response.is_true_positive,
          severity: outcome.response.severity,
          confidence: outcome.response.confidence,
          checked: outcome.checked,
          repaired: outcome.repaired,
          ...(outcome.fallback_reason ? { fallback_reason: outcome.fallback_reason } : {}),
          ...(outcome.response.dispute
            ? {
                disputed: true,
                dispute_reason: outcome.response.dispute.reason,
                disputed_model: outcome.response.dispute.model,
                model_is_true_positive: outcome.response.dispute.claims.is_true_positive,
                model_severity: outcome.response.dispute.claims.severity,
              }
            : {}),
        },
      });
    }
    return { ...outcome, cached: false, ...(stored ? { stored } : {}) };
  }

  private withBuiltin(
    input: AnalysisInput,
    retrieved: RetrievedContext,
    started: number,
  ): Omit<VerdictOutcome, 'cached' | 'stored'> {
    const response = builtinVerdict(input, retrieved, started);
    const check = checkVerdict(response, evidenceContext(input, gatherFacts(input.records)));
    if (!check.ok)
      this.opts.logger.error(
        { findings: check.findings },
        'The built-in analyst produced evidence its checker refused.',
      );
    return { response, analyst: 'builtin', checked: check.ok, repaired: false };
  }

  private async withLlm(
    input: AnalysisInput,
    retrieved: RetrievedContext,
    llm: LlmBackend,
    started: number,
  ): Promise<Omit<VerdictOutcome, 'cached' | 'stored'>> {
    const facts = gatherFacts(input.records);
    const prompt = buildPrompt(input, retrieved);
    const ctx = evidenceContext(input, facts);
    const messages: LlmMessage[] = [{ role: 'user', content: prompt.user }];
    const fallback = (reason: string) => {
      const builtin = this.withBuiltin(input, retrieved, started);
      builtin.response.model_used = `builtin (fallback from ${llm.name}:${llm.model}: ${reason.slice(0, 200)})`;
      this.opts.logger.warn(
        { backend: llm.name, reason },
        'The LLM analyst failed; the built-in verdict stands in.',
      );
      return { ...builtin, fallback_reason: reason };
    };
    let findings: CheckFinding[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      let answer: ModelAnswer;
      let raw: string;
      try {
        const r = await llm.complete({
          system: prompt.system,
          messages,
          schema: VERDICT_SCHEMA,
          schemaName: 'triage_verdict',
          entities: prompt.entities,
        });
        answer = r.json as ModelAnswer;
        raw = r.raw;
      } catch (err) {
        return fallback(describeError(err));
      }
      const response = this.fromAnswer(answer, input, retrieved, prompt.ids, prompt.spotlight, llm, started);
      const check = checkVerdict(response, ctx);
      if (check.ok) {
        // The built-in analyst is cheap and deterministic: it runs beside every model verdict it could be disputed by.
        const builtin = this.withBuiltin(input, retrieved, started);
        const reason = disputeReason(response, builtin.response);
        if (reason) {
          this.opts.logger.warn(
            { backend: llm.name, subject: input.subject_id, reason },
            "The model's verdict is weaker than the built-in analyst's; it is stored as disputed and the built-in verdict stands.",
          );
          return {
            ...builtin,
            response: disputedVerdict(builtin.response, response, reason, `${llm.name}:${llm.model}`),
            repaired: attempt > 0,
          };
        }
        return { response, analyst: `${llm.name}:${llm.model}`, checked: true, repaired: attempt > 0 };
      }
      findings = check.findings;
      messages.push({ role: 'assistant', content: raw });
      messages.push({
        role: 'user',
        content: `The evidence checker refused this verdict:\n${findings.map((f) => `- ${f.path}: ${f.problem}`).join('\n')}\nReturn a corrected JSON verdict that cites only records (A, R1, R2, …) and field paths shown above and states only numbers found in the data.`,
      });
    }
    return fallback(
      `evidence check failed after one repair: ${findings.map((f) => `${f.path} ${f.problem}`).join('; ')}`,
    );
  }

  private fromAnswer(
    a: ModelAnswer,
    input: AnalysisInput,
    retrieved: RetrievedContext,
    ids: Map<string, string>,
    spotlight: Spotlight,
    llm: LlmBackend,
    started: number,
  ): TriageResponse {
    const ml = input.alert.detections.filter((d) => d.engine === 'ml' && d.confidence !== undefined);
    const known = new Set(retrieved.techniques.map((t) => t.id));
    const techniques = [...new Set(a.mitre_techniques)];
    const tactics = [
      ...new Set([
        ...input.alert.mitre_tactics,
        ...retrieved.techniques.filter((t) => techniques.includes(t.id)).flatMap((t) => t.tactics),
      ]),
    ];
    return {
      alert_id: input.subject_id,
      analysis_timestamp: new Date().toISOString(),
      severity: a.severity,
      category: a.category,
      confidence: a.confidence,
      summary: a.summary,
      detailed_analysis: a.detailed_analysis,
      potential_impact: a.potential_impact,
      is_true_positive: a.is_true_positive,
      false_positive_reason: a.is_true_positive ? null : a.false_positive_reason,
      iocs: a.iocs,
      mitre_techniques: techniques,
      mitre_tactics: tactics,
      recommendations: a.recommendations,
      investigation_priority: a.investigation_priority,
      model_used: `${llm.name}:${llm.model}`,
      processing_time_ms: Math.round((performance.now() - started) * 100) / 100,
      ml_prediction: ml.length ? ml[0]!.rule_title : null,
      ml_confidence: ml.length ? Math.max(...ml.map((d) => d.confidence!)) : null,
      knowledge_base_references: [
        ...retrieved.techniques.filter((t) => known.has(t.id)).map((t) => t.url || t.id),
        ...retrieved.runbooks.map((p) => `${p.collection}:${p.id}`),
      ],
      // The prompt names records R1, R2… and A; map them back to the real ids before checking.
      // Field names that came from the data were marked in the prompt; a path cited with its markers maps back.
      evidence: a.evidence.map((e) => ({
        ...e,
        event_ids: e.event_ids.map((id) => citedId(id, ids)),
        fields: e.fields.map((f) => unmarkPath(f, spotlight)),
      })),
      disputed: false,
    };
  }
}

/**
 * A record id as the model cited it: prompt ids (R1, A) map back to real ids;
 * a real id copied out of spotlighted data loses its markers.
 */
export function citedId(raw: string, ids: Map<string, string>): string {
  const clean = raw.replace(/⟦\/?DATA [a-z]{16}⟧/g, '').trim();
  return ids.get(clean) ?? clean;
}

/** An incident seen as one alert: every detection, entity and technique of its alerts. */
export function combineAlerts(incident: Incident, alerts: Alert[]): Alert {
  const top = [...alerts].sort((a, b) => b.priority - a.priority)[0]!;
  return {
    ...top,
    id: incident.id,
    title: incident.title,
    detections: alerts.flatMap((a) => a.detections).slice(0, 50),
    event_ids: [...new Set(alerts.flatMap((a) => a.event_ids))],
    entities: incident.entities,
    mitre_techniques: [...new Set(alerts.flatMap((a) => a.mitre_techniques))],
    mitre_tactics: [...new Set(alerts.flatMap((a) => a.mitre_tactics))],
    count: alerts.reduce((n, a) => n + a.count, 0),
    first_seen: incident.first_seen,
    last_seen: incident.last_seen,
  };
}
