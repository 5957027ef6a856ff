import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import { analystKnowledge } from '../analyst/knowledge-port.ts';
import { createLlmBackend } from '../analyst/llm/index.ts';
import type { LlmClock } from '../analyst/llm/types.ts';
import type { AssetContext } from '../analyst/priority.ts';
import { AnalystService } from '../analyst/service.ts';
import type { AppConfig } from '../app-config.ts';
import { CONTENT_DIR, PRODUCT_ROOT } from '../content.ts';
import { KnowledgeBase } from '../knowledge/kb.ts';
import { ACTION_FACTORIES } from '../respond/actions/index.ts';
import { policyFor } from '../respond/engine.ts';
import { evaluate } from '../respond/playbooks/conditions.ts';
import { loadPlaybooks } from '../respond/playbooks/load.ts';
import { CORE_STEPS, type Playbook } from '../respond/playbooks/model.ts';
import { render } from '../respond/playbooks/template.ts';
import { actionInfos, loadRunContext } from '../respond/setup.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { awsEnv, functionConfig } from './env.ts';
import { DynamoRecords } from './records.ts';
import { parseInput, TriageInput } from './subject.ts';

/**
 * Analyse: the product's analyst (`AnalystService`: retrieval from the
 * knowledge index packaged in the content layer, the configured LLM backend
 * — Bedrock's Converse API in this deployment — checked against the
 * evidence, with the built-in analyst beside it) on the whole incident,
 * then the plan: the action steps of the incident playbooks (the same
 * `content/playbooks` the container runs) whose conditions hold, their
 * inputs rendered from the context. The state machine's policy Choice
 * decides, per planned action, between running it and asking a person.
 */

/** One action the playbooks would take, for the state machine's Map over the plan. */
export interface PlannedAction {
  playbook: string;
  step: string;
  type: string;
  input: Record<string, unknown>;
  /** The step's approval setting: `required` always waits for a person. */
  approval: 'auto' | 'required';
  /** The playbook policy that allows it without a person, when one holds (the state machine's allow-list decides). */
  policy?: string;
}

export interface AnalyseResult {
  verdict: {
    id?: string;
    analyst: string;
    severity: string;
    category: string;
    is_true_positive: boolean;
    confidence: number;
    checked: boolean;
    disputed: boolean;
    summary: string;
    /** Why the configured LLM's verdict did not stand and the built-in analyst's does (Bedrock failed, or failed the evidence check twice). */
    fallback_reason?: string;
  };
  plan: PlannedAction[];
  /** Steps not planned, and why (a condition that does not hold, an action this deployment does not run). */
  skipped: Array<{ playbook: string; step: string; reason: string }>;
}

export interface AnalyseDeps {
  records: DynamoRecords;
  analyst: AnalystService;
  playbooks: Playbook[];
  /** Action types this deployment runs (`respond.actions` of the configuration). */
  configured: readonly string[];
  assets: AssetContext;
  threshold: number;
  dryRun: boolean;
  logger: Logger;
}

export function createAnalyseHandler(deps: AnalyseDeps) {
  return async (input: unknown): Promise<AnalyseResult> => {
    const { subject } = parseInput(TriageInput, input);
    const outcome = await deps.analyst.analyzeIncident(subject.id);
    const v = outcome.response;
    const plan: PlannedAction[] = [];
    const skipped: AnalyseResult['skipped'] = [];
    for (const pb of deps.playbooks) {
      if (!pb.enabled || pb.trigger.on !== 'incident') continue;
      const ctx = await loadRunContext(deps.records, subject, pb, {
        assets: deps.assets,
        threshold: deps.threshold,
        dryRun: deps.dryRun,
      });
      if (!ctx || !evaluate(pb.trigger.when, ctx)) continue;
      for (const step of pb.steps) {
        if (step.uses in CORE_STEPS) continue;
        if (!deps.configured.includes(step.uses)) {
          skipped.push({ playbook: pb.id, step: step.id, reason: `action ${step.uses} is not configured` });
          continue;
        }
        if (!evaluate(step.if, ctx)) {
          skipped.push({ playbook: pb.id, step: step.id, reason: 'condition does not hold' });
          continue;
        }
        const policy = policyFor(pb, step, ctx);
        plan.push({
          playbook: pb.id,
          step: step.id,
          type: step.uses,
          input: render(step.with, ctx) as Record<string, unknown>,
          approval: step.approval,
          ...(policy ? { policy: policy.reason } : {}),
        });
      }
    }
    deps.logger.info(
      { incident: subject.id, planned: plan.length, analyst: outcome.analyst },
      'Analysed an incident.',
    );
    return {
      verdict: {
        ...(outcome.stored ? { id: outcome.stored.id } : {}),
        analyst: outcome.analyst,
        severity: v.severity,
        category: v.category,
        is_true_positive: v.is_true_positive,
        confidence: v.confidence,
        checked: outcome.checked,
        disputed: v.disputed ?? false,
        summary: v.summary,
        ...(outcome.fallback_reason ? { fallback_reason: outcome.fallback_reason } : {}),
      },
      plan,
      skipped,
    };
  };
}

/** Where the CDK app puts the prebuilt ATT&CK index in the content layer. */
export const KNOWLEDGE_INDEX_FILE = 'knowledge/knowledge-index.bin';

/** What {@link analyseDeps} needs beside the configuration. */
export interface AnalyseSetup {
  records: DynamoRecords;
  /** The knowledge index packaged in the content layer ({@link KNOWLEDGE_INDEX_FILE}). */
  knowledgeIndex: Uint8Array;
  logger: Logger;
  metrics: Metrics;
  /** The LLM backend's clock (its back-off sleeps); default the system's. */
  clock?: LlmClock;
}

/**
 * The analyse function's parts from the product configuration, as its
 * entry point builds them: the knowledge base over the packaged index, the
 * configured LLM backend (Bedrock Converse in this deployment) with the
 * built-in analyst beside it, and the playbooks.
 */
export async function analyseDeps(config: AppConfig, setup: AnalyseSetup): Promise<AnalyseDeps> {
  const { records, logger, metrics } = setup;
  const kb = new KnowledgeBase({
    config: { ...config.knowledge, load: 'lazy', cache_index: false, persist: false },
    snapshot: setup.knowledgeIndex,
    logger,
    metrics,
  });
  await kb.ready();
  const actions = ACTION_FACTORIES.filter((f) => Object.hasOwn(config.respond.actions, f.type));
  return {
    records,
    analyst: new AnalystService({
      store: records,
      knowledge: analystKnowledge(kb, logger),
      llm: createLlmBackend(config.analyst, {
        logger,
        metrics,
        ...(setup.clock ? { clock: setup.clock } : {}),
      }),
      assets: config.analyst.assets,
      metrics,
      logger,
      cacheTtlMs: config.analyst.cache_ttl_ms,
    }),
    playbooks: loadPlaybooks(
      [
        ...(config.respond.builtin_playbooks ? [join(CONTENT_DIR, 'playbooks')] : []),
        ...config.respond.playbook_dirs,
      ],
      actionInfos(ACTION_FACTORIES),
    ).playbooks,
    configured: actions.map((f) => f.type),
    assets: config.analyst.assets,
    threshold: config.respond.threshold,
    dryRun: config.respond.dry_run,
    logger,
  };
}

let built: Promise<ReturnType<typeof createAnalyseHandler>> | undefined;

async function build(): Promise<ReturnType<typeof createAnalyseHandler>> {
  const config = functionConfig();
  const env = awsEnv(['records_table', 'events_ttl_days']);
  const records = new DynamoRecords({
    db: new DynamoDBClient({}),
    table: env.records_table,
    eventsTtlDays: env.events_ttl_days,
  });
  return createAnalyseHandler(
    await analyseDeps(config, {
      records,
      knowledgeIndex: new Uint8Array(readFileSync(join(PRODUCT_ROOT, KNOWLEDGE_INDEX_FILE))),
      logger: createLogger({ level: config.log_level }),
      metrics: createMetrics({ defaultMetrics: false }),
    }),
  );
}

/** The Lambda entry point (Orchestration stack, the Analyse state). */
export async function handler(input: unknown): Promise<AnalyseResult> {
  built ??= build();
  built.catch(() => {
    built = undefined;
  });
  return (await built)(input);
}
