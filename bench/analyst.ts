/**
 * `npm run bench -- analyst`: the built-in analyst's time per alert (p50/p99,
 * retrieval from the full ATT&CK knowledge base included; target p99 ≤ 20 ms),
 * as a ratio to one `/retrieve`-style lookup measured in the same run; and the
 * LLM path's own overhead (prompt, spotlighting, validation, evidence check,
 * storage-free) with a model that answers instantly, so model time is zero.
 */
import { buildTriageDevSet } from '../scripts/eval/triage-devset.ts';
import { analystKnowledge } from '../src/analyst/knowledge-port.ts';
import type { LlmBackend } from '../src/analyst/llm/types.ts';
import { AnalystService } from '../src/analyst/service.ts';
import { loadConfig } from '../src/app-config.ts';
import { openRuntime } from '../src/runtime.ts';
import type { SecurityAlert } from '../src/schema/verdict.ts';
import { SourceRegistry } from '../src/sources/index.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { SHARED_DATA } from '../test/helpers/data.ts';
import { percentile, report } from './_util.ts';

const N = Number(process.env.BENCH_ALERTS ?? 400);
const config = loadConfig({ env: {}, overrides: { log_level: 'silent' } });
const rt = await openRuntime(config, { inMemory: true });
const t0 = performance.now();
await rt.knowledge.ready();
const kbMs = performance.now() - t0;
const status = rt.knowledge.status();
if (!status.attack)
  console.log(
    `Note: ATT&CK is not loaded (${status.attack_error ?? 'no bundle'}); retrieval covers runbooks only.`,
  );

let alerts: SecurityAlert[] = buildTriageDevSet(
  SHARED_DATA,
  new SourceRegistry({}, silentLogger()),
  rt.detectors.filter((d) => d.name !== 'upstream'),
).map((c) => c.alert);
if (alerts.length === 0) {
  alerts = Array.from({ length: N }, (_, i) => ({
    alert_id: `synthetic-${i}`,
    timestamp: '2026-11-19T08:00:00Z',
    rule_id: String(5700 + (i % 20)),
    rule_description: [
      'sshd: brute force trying to get access to the system',
      'Administrator policy attached to an IAM user',
      'ET SCAN Potential SSH Scan',
    ][i % 3]!,
    rule_level: 3 + (i % 12),
    source_ip: `203.0.113.${i % 250}`,
    user: `user${i % 7}`,
  }));
}
// Spread the sample over the whole set (Wazuh, CloudTrail and Suricata alerts).
const step = Math.max(1, Math.floor(alerts.length / N));
const sample = alerts.filter((_, i) => i % step === 0).slice(0, N);

const knowledge = analystKnowledge(rt.knowledge, silentLogger());
const builtin = new AnalystService({
  store: rt.store,
  knowledge,
  llm: null,
  assets: config.analyst.assets,
  metrics: rt.metrics,
  logger: silentLogger(),
  cacheTtlMs: 0,
});

// Baseline: one retrieval over the same knowledge base, same queries.
const retrieveMs: number[] = [];
for (const a of sample) {
  const s = performance.now();
  await knowledge.retrieve(a.rule_description, 'mitre_attack', 3);
  retrieveMs.push(performance.now() - s);
}

async function timeAll(service: AnalystService): Promise<number[]> {
  for (const a of sample.slice(0, 20)) await service.analyzeSecurityAlert(a, { store: false }); // warm-up
  const out: number[] = [];
  for (const a of sample) {
    const s = performance.now();
    await service.analyzeSecurityAlert(a, { store: false });
    out.push(performance.now() - s);
  }
  return out;
}
const builtinMs = await timeAll(builtin);

// The LLM path with a model that answers at once: what the product adds around a model.
const instant: LlmBackend = {
  name: 'instant',
  model: 'instant',
  local: true,
  async complete() {
    const json = {
      severity: 'high',
      category: 'credential_access',
      confidence: 0.8,
      summary: 'Brute force against the host.',
      detailed_analysis: 'Repeated failures from one source.',
      potential_impact: 'Account takeover.',
      is_true_positive: true,
      false_positive_reason: null,
      iocs: [],
      mitre_techniques: ['T1110'],
      recommendations: [{ action: 'Block the source', priority: 2, rationale: 'It attacks.' }],
      investigation_priority: 2,
      evidence: [{ claim: 'The rule fired.', event_ids: ['R1'], fields: ['rule_description'] }],
    };
    return {
      json,
      raw: JSON.stringify(json),
      usage: { input_tokens: 0, output_tokens: 0 },
      model: 'instant',
      latency_ms: 0,
      attempts: 1,
      cost_usd: 0,
    };
  },
};
const llmService = new AnalystService({
  store: rt.store,
  knowledge,
  llm: instant,
  assets: config.analyst.assets,
  metrics: rt.metrics,
  logger: silentLogger(),
  cacheTtlMs: 0,
});
const llmMs = await timeAll(llmService);
await rt.close();

const p50 = percentile(builtinMs, 50);
const p99 = percentile(builtinMs, 99);
report(
  `Analyst on ${sample.length} alerts (${alerts.length > N ? 'spread over the triage dev set' : 'synthetic'}), knowledge base ready in ${Math.round(kbMs)} ms`,
  {
    'built-in p50 ms': p50,
    'built-in p99 ms': p99,
    'target p99 ms': 20,
    'p99 / target': p99 / 20,
    'one retrieval p50 ms (baseline)': percentile(retrieveMs, 50),
    'built-in p50 / retrieval p50': p50 / percentile(retrieveMs, 50),
    'LLM path p50 ms (model answers at once)': percentile(llmMs, 50),
    'LLM path p99 ms': percentile(llmMs, 99),
    'LLM overhead over built-in p50': percentile(llmMs, 50) / p50,
  },
);
