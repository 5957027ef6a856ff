/**
 * The seed's HTTP contract, written from `DESIGN.md` §2 ("Contracts kept
 * from the system being replaced") and nothing else: no import of the
 * product's own schemas, so a change to them cannot change what the
 * contract tests hold the routes to.
 *
 * Where §2 (and issue 17, which checked the seed) says what the seed does,
 * the table below says so: required and optional fields, defaults, ranges
 * and enums. Every response schema demands every field the seed returns
 * (a field the seed returns as null must be present, as null); a response
 * may carry more fields than the seed's (ours add `evidence[]` and
 * others), never fewer.
 */
import { z } from 'zod';

/** `severity` of a TriageResponse. */
export const SEED_SEVERITIES = ['critical', 'high', 'medium', 'low', 'informational'] as const;

/** `category` of a TriageResponse: §2's list, with `persistence` and `anomaly` (issue 17: the seed has them). */
export const SEED_CATEGORIES = [
  'malware',
  'intrusion_attempt',
  'data_exfiltration',
  'privilege_escalation',
  'lateral_movement',
  'command_and_control',
  'reconnaissance',
  'denial_of_service',
  'policy_violation',
  'credential_access',
  'persistence',
  'anomaly',
  'other',
] as const;

/** An ISO-8601 instant as the seed writes it. */
const Instant = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO-8601 time');

/**
 * `SecurityAlert`, what `POST /analyze` takes: `alert_id`, `rule_id`,
 * `rule_description` and `rule_level` (0–15) are what every Wazuh alert
 * carries; `timestamp` is optional and defaults to the time of the request
 * (issue 17); the rest are optional.
 */
export const SeedSecurityAlert = z.object({
  alert_id: z.string(),
  timestamp: z.string().optional(),
  rule_id: z.string(),
  rule_description: z.string(),
  rule_level: z.number().int().min(0).max(15),
  source_ip: z.string().optional(),
  dest_ip: z.string().optional(),
  source_port: z.number().int().optional(),
  dest_port: z.number().int().optional(),
  source_hostname: z.string().optional(),
  dest_hostname: z.string().optional(),
  user: z.string().optional(),
  process: z.string().optional(),
  command: z.string().optional(),
  file_path: z.string().optional(),
  raw_log: z.string().optional(),
  full_log: z.record(z.string(), z.unknown()).optional(),
  mitre_technique: z.array(z.string()).optional(),
});

/** `TriageResponse`, what `POST /analyze` answers (every field present; the optional ones may be null). */
export const SeedTriageResponse = z.object({
  alert_id: z.string(),
  analysis_timestamp: Instant,
  severity: z.enum(SEED_SEVERITIES),
  category: z.enum(SEED_CATEGORIES),
  confidence: z.number().min(0).max(1),
  summary: z.string(),
  detailed_analysis: z.string(),
  potential_impact: z.string(),
  is_true_positive: z.boolean(),
  false_positive_reason: z.string().nullable(),
  iocs: z.array(z.object({ ioc_type: z.string(), value: z.string(), confidence: z.number().min(0).max(1) })),
  mitre_techniques: z.array(z.string()),
  mitre_tactics: z.array(z.string()),
  recommendations: z.array(
    z.object({ action: z.string(), priority: z.number().int().min(1).max(5), rationale: z.string() }),
  ),
  investigation_priority: z.number().int().min(1).max(5),
  model_used: z.string(),
  processing_time_ms: z.number().min(0),
  ml_prediction: z.string().nullable(),
  ml_confidence: z.number().min(0).max(1).nullable(),
  knowledge_base_references: z.array(z.string()),
});

/** `POST /batch`: an array of at most 100 SecurityAlerts. */
export const SEED_BATCH_MAX = 100;
export const SeedBatchResponse = z.object({
  total: z.number().int().min(0),
  successful: z.number().int().min(0),
  failed: z.number().int().min(0),
  processing_time_seconds: z.number().min(0),
  results: z.array(SeedTriageResponse),
  errors: z.array(z.object({ alert_id: z.string(), error: z.string() })),
});

/** `POST /retrieve`: `{query, collection = "mitre_attack", top_k 1–10 = 3, min_similarity}`. */
export const SEED_RETRIEVE_DEFAULTS = { collection: 'mitre_attack', top_k: 3 } as const;
export const SEED_RETRIEVE_TOP_K = { min: 1, max: 10 } as const;
export const SeedRetrieveRequest = z.object({
  query: z.string(),
  collection: z.string().optional(),
  top_k: z.number().int().min(SEED_RETRIEVE_TOP_K.min).max(SEED_RETRIEVE_TOP_K.max).optional(),
  min_similarity: z.number().optional(),
});
export const SeedRetrieveResponse = z.object({
  query: z.string(),
  results: z.array(
    z.object({
      document: z.string(),
      metadata: z.record(z.string(), z.unknown()),
      similarity_score: z.number(),
    }),
  ),
  total_results: z.number().int().min(0),
});

/** `POST /predict`: `{features: number[], model_name}`; `POST /predict/batch` takes at most 1,000 vectors. */
export const SEED_PREDICT_BATCH_MAX = 1000;
export const SeedPredictResponse = z.object({
  prediction: z.union([z.string(), z.number()]),
  confidence: z.number().min(0).max(1),
  probabilities: z.record(z.string(), z.number()),
  model_used: z.string(),
  inference_time_ms: z.number().min(0),
  timestamp: Instant,
});

/** The seed's Prometheus metric names (§2), with the labels it gives them. */
export const SEED_METRICS: ReadonlyArray<{ name: string; type: string; labels: readonly string[] }> = [
  { name: 'triage_requests_total', type: 'counter', labels: ['status'] },
  { name: 'triage_request_duration_seconds', type: 'histogram', labels: [] },
  { name: 'triage_confidence_score', type: 'histogram', labels: [] },
  { name: 'ml_inference_latency_seconds', type: 'histogram', labels: [] },
  { name: 'ml_predictions_total', type: 'counter', labels: ['model'] },
  { name: 'wazuh_alerts_total', type: 'counter', labels: ['severity'] },
  { name: 'wazuh_events_processed_total', type: 'counter', labels: [] },
];

/**
 * The seed's routes, one line each: method, path, the request and response
 * shapes above, and what §2 says of them. The contract test walks this
 * table, so a route added to §2 is a line here and a test there.
 */
export const SEED_ROUTES = [
  { method: 'POST', path: '/analyze', request: 'SeedSecurityAlert', response: 'SeedTriageResponse' },
  {
    method: 'POST',
    path: '/batch',
    request: `SeedSecurityAlert[] (≤ ${SEED_BATCH_MAX})`,
    response: 'SeedBatchResponse',
  },
  { method: 'POST', path: '/retrieve', request: 'SeedRetrieveRequest', response: 'SeedRetrieveResponse' },
  {
    method: 'POST',
    path: '/predict',
    request: '{features: number[], model_name}',
    response: 'SeedPredictResponse',
  },
  {
    method: 'POST',
    path: '/predict/batch',
    request: `{features: number[][] (≤ ${SEED_PREDICT_BATCH_MAX}), model_name}`,
    response: 'predictions[]',
  },
  { method: 'GET', path: '/models', request: '', response: 'the models served' },
  { method: 'POST', path: '/webhook', request: 'a raw Wazuh alert', response: 'accepted' },
  { method: 'GET', path: '/health', request: '', response: 'liveness, no authentication' },
  { method: 'GET', path: '/metrics', request: '', response: 'Prometheus text with SEED_METRICS' },
] as const;

/** The seed's examples: what its clients (Wazuh's integration, Shuffle workflows, scripts) send. */
export const SEED_EXAMPLES = {
  /** The fields every Wazuh alert has, nothing more: no timestamp. */
  minimalAlert: {
    alert_id: '1700000000.12345',
    rule_id: '5712',
    rule_description: 'sshd: brute force trying to get access to the system.',
    rule_level: 10,
  },
  /** Every field of a SecurityAlert, with Wazuh's own timestamp format (`+0000`, no colon). */
  fullAlert: {
    alert_id: '1700000001.22',
    timestamp: '2024-01-15T10:30:00.000+0000',
    rule_id: '5715',
    rule_description: 'sshd: authentication success.',
    rule_level: 3,
    source_ip: '203.0.113.7',
    dest_ip: '10.0.0.4',
    source_port: 50022,
    dest_port: 22,
    source_hostname: 'scanner.example',
    dest_hostname: 'web-01',
    user: 'deploy',
    process: 'sshd',
    command: '/usr/sbin/sshd -D',
    file_path: '/var/log/auth.log',
    raw_log:
      'Jan 15 10:30:00 web-01 sshd[811]: Accepted password for deploy from 203.0.113.7 port 50022 ssh2',
    full_log: { decoder: { name: 'sshd' }, location: '/var/log/auth.log' },
    mitre_technique: ['T1078'],
  },
  retrieve: { query: 'credential dumping from LSASS memory' },
} as const;
