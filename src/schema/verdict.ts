import { z } from 'zod';
import { SeverityName, TechniqueId, Timestamp } from './common.ts';

/**
 * The seed's `SecurityAlert`: what `POST /analyze` and `POST /batch` accept.
 * Field names are a public contract (Wazuh integrations and Shuffle workflows
 * send them); do not rename.
 */
const ALERT_TIME =
  /^(\d{4}-\d{2}-\d{2})(?:[Tt _](\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * The instant a submitted alert's `timestamp` names, in the forms the seed
 * reads (its clients send what they have): ISO 8601 with `Z`, `+hh:mm`,
 * `+hhmm` (Wazuh writes `2024-01-15T10:30:00.000+0000`) or `+hh`; without a
 * zone (read as UTC); a space instead of the `T`; a date alone (midnight
 * UTC); or Unix time as a number or a string of digits, in seconds, or in
 * milliseconds beyond 2×10¹⁰ (as pydantic reads it). Undefined for anything
 * else.
 *
 * @example
 * readAlertTime('2024-01-15T10:30:00.000+0000') // '2024-01-15T10:30:00.000Z'
 * readAlertTime(1705314600) // '2024-01-15T10:30:00.000Z'
 */
export function readAlertTime(value: string | number): string | undefined {
  let ms: number;
  const text = typeof value === 'string' ? value.trim() : undefined;
  if (typeof value === 'number' || /^-?\d+(\.\d+)?$/.test(text ?? '')) {
    const n = Number(value);
    ms = Math.abs(n) > 2e10 ? n : n * 1000;
  } else {
    const m = ALERT_TIME.exec(text ?? '');
    if (!m) return undefined;
    const [, date = '', time = '00:00:00', zone] = m;
    const hms = time.length === 5 ? `${time}:00` : time.replace(',', '.');
    let offset = 'Z';
    if (zone && zone.toUpperCase() !== 'Z') {
      const digits = zone.slice(1).replace(':', '');
      offset = `${zone[0]}${digits.slice(0, 2)}:${digits.slice(2, 4) || '00'}`;
    }
    // Date.parse reads at most milliseconds; a finer fraction is cut, not refused.
    ms = Date.parse(`${date}T${hms.replace(/(\.\d{3})\d+/, '$1')}${offset}`);
    // Date.parse rolls 2024-02-30 over to March 1st: the calendar date must exist.
    const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
    const day = new Date(Date.UTC(y, mo - 1, d));
    if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return undefined;
  }
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return undefined;
  return new Date(ms).toISOString();
}

/** A submitted alert's time: one of the forms {@link readAlertTime} reads, as an ISO-8601 UTC instant. */
export const AlertTime = z.union([z.string().max(64), z.number()]).transform((v, ctx) => {
  const iso = readAlertTime(v);
  if (iso === undefined) {
    ctx.addIssue({
      code: 'custom',
      message:
        'must be an ISO-8601 time (2024-01-15T10:30:00Z, +hh:mm, +hhmm, or no zone for UTC) or Unix seconds',
    });
    return z.NEVER;
  }
  return iso;
});

export const SecurityAlert = z
  .object({
    alert_id: z.string().min(1).max(256).describe('Caller-chosen alert id'),
    timestamp: AlertTime.optional().describe(
      'When the alert happened (optional, as in the seed: the time of the request when absent); ISO 8601 with or without a zone (UTC), or Unix seconds',
    ),
    rule_id: z.string().max(256).optional(),
    rule_description: z.string().max(4096).describe('Rule or alert description'),
    rule_level: z.number().int().min(0).max(15).describe('Wazuh-style level 0–15'),
    source_ip: z.string().max(64).optional(),
    dest_ip: z.string().max(64).optional(),
    source_port: z.number().int().min(0).max(65535).optional(),
    dest_port: z.number().int().min(0).max(65535).optional(),
    source_hostname: z.string().max(512).optional(),
    dest_hostname: z.string().max(512).optional(),
    user: z.string().max(512).optional(),
    process: z.string().max(4096).optional(),
    command: z.string().max(32768).optional(),
    file_path: z.string().max(4096).optional(),
    raw_log: z.string().max(65536).optional(),
    full_log: z.record(z.string(), z.unknown()).optional(),
    mitre_technique: z.array(z.string()).max(100).optional(),
  })
  .describe('An alert submitted for triage (the seed API contract)');
export type SecurityAlert = z.infer<typeof SecurityAlert>;

export const AlertCategory = z
  .enum([
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
  ])
  .describe(
    "The seed's triage categories: malware, intrusion_attempt, data_exfiltration, privilege_escalation, lateral_movement, command_and_control, reconnaissance, denial_of_service, policy_violation, credential_access, persistence, anomaly, other",
  );
export type AlertCategory = z.infer<typeof AlertCategory>;

export const Ioc = z.object({
  ioc_type: z.string().describe('ip, domain, url, hash, user, email, file, process, access_key, …'),
  value: z.string(),
  confidence: z.number().min(0).max(1),
});

export const Recommendation = z.object({
  action: z.string(),
  priority: z.number().int().min(1).max(5).describe('1 (do first) … 5'),
  rationale: z.string(),
});

/** A claim in a verdict, citing the data that supports it. */
export const Evidence = z
  .object({
    claim: z.string(),
    event_ids: z.array(z.string()).default([]).describe('Events (or the alert id) the claim rests on'),
    fields: z.array(z.string()).default([]).describe('Field paths in those events, e.g. cloud.operation'),
  })
  .describe('A claim with the event ids and field names that support it');
export type Evidence = z.infer<typeof Evidence>;

/** The seed's `TriageResponse` fields plus `evidence[]`: what an analyst (built-in or model) writes. */
const VerdictFields = z.object({
  alert_id: z.string(),
  analysis_timestamp: Timestamp,
  severity: SeverityName,
  category: AlertCategory,
  confidence: z.number().min(0).max(1),
  summary: z.string(),
  detailed_analysis: z.string(),
  potential_impact: z.string(),
  is_true_positive: z.boolean(),
  false_positive_reason: z.string().nullable().optional(),
  iocs: z.array(Ioc).default([]),
  mitre_techniques: z.array(z.string()).default([]),
  mitre_tactics: z.array(z.string()).default([]),
  recommendations: z.array(Recommendation).default([]),
  investigation_priority: z.number().int().min(1).max(5),
  model_used: z.string(),
  processing_time_ms: z.number().nonnegative(),
  ml_prediction: z.string().nullable().optional(),
  ml_confidence: z.number().min(0).max(1).nullable().optional(),
  knowledge_base_references: z.array(z.string()).default([]),
  evidence: z.array(Evidence).default([]),
});

/** What a model claimed in a verdict that was disputed: its judgement and its text, unverified. */
export const ModelClaims = VerdictFields.pick({
  severity: true,
  category: true,
  confidence: true,
  is_true_positive: true,
  false_positive_reason: true,
  summary: true,
  detailed_analysis: true,
  potential_impact: true,
  iocs: true,
  mitre_techniques: true,
  recommendations: true,
  investigation_priority: true,
  evidence: true,
}).describe('The disputed model verdict as the model wrote it (model-written, unverified)');
export type ModelClaims = z.infer<typeof ModelClaims>;

/**
 * What a model writes when it triages: the verdict fields it decides (code
 * fills in the rest of the TriageResponse). Backends are sent the JSON
 * Schema derived from it, so it is in the strict form every backend takes:
 * every field present (`false_positive_reason` is null when the alert is
 * not a false positive) and technique ids well formed. The field order is
 * the order a model writes them in (structured output follows it): the
 * analysis before the judgement of true or false positive.
 */
export const ModelAnswer = VerdictFields.pick({
  severity: true,
  category: true,
  confidence: true,
  summary: true,
  detailed_analysis: true,
  potential_impact: true,
  is_true_positive: true,
  false_positive_reason: true,
  iocs: true,
  mitre_techniques: true,
  recommendations: true,
  investigation_priority: true,
  evidence: true,
}).extend({
  false_positive_reason: z.string().nullable(),
  mitre_techniques: z.array(TechniqueId),
});
export type ModelAnswer = z.infer<typeof ModelAnswer>;

/** Why a model verdict was not accepted, and what it said. */
export const Dispute = z
  .object({
    reason: z
      .string()
      .describe(
        "How the model's verdict is weaker than the built-in analyst's (a true positive called false, or severity two or more levels lower)",
      ),
    model: z.string().describe('The LLM backend and model that wrote the disputed verdict (backend:model)'),
    claims: ModelClaims,
  })
  .describe(
    "A model verdict weaker than the built-in analyst's: kept for a person to review; it never lowers priority, closes, suppresses or acts",
  );
export type Dispute = z.infer<typeof Dispute>;

/**
 * The seed's `TriageResponse` plus `evidence[]`, and `disputed`: when a
 * model's verdict is weaker than the built-in analyst's, the verdict fields
 * are the built-in analyst's, `disputed` is true and `dispute` holds the
 * model's claims and why they were not accepted.
 */
export const TriageResponse = VerdictFields.extend({
  disputed: z
    .boolean()
    .default(false)
    .describe(
      "True when the model's verdict was weaker than the built-in analyst's: the fields above are then the built-in analyst's, and `dispute` holds what the model said",
    ),
  dispute: Dispute.optional(),
}).describe('A triage verdict (the seed API contract plus evidence)');
export type TriageResponse = z.infer<typeof TriageResponse>;

/** A verdict as the store keeps it: the response plus provenance. */
export const StoredVerdict = z.object({
  id: z.uuid(),
  alert_id: z.string().describe('The alert (or incident) the verdict is about'),
  subject_type: z.enum(['alert', 'incident', 'adhoc']),
  fingerprint: z.string().optional().describe('Fingerprint of the alert analysed (for reference)'),
  cache_key: z
    .string()
    .optional()
    .describe(
      'sha256 of the whole canonicalised analysis input, the analyst (backend and model) and the knowledge version: the verdict cache key',
    ),
  analyst: z
    .string()
    .describe(
      'Who wrote the verdict that stands: builtin, or backend:model (builtin when a model verdict was disputed or failed)',
    ),
  checked: z.boolean().describe('Whether the evidence checker accepted the verdict'),
  repaired: z.boolean().default(false),
  fallback_reason: z.string().optional(),
  response: TriageResponse,
  created_at: Timestamp,
});
export type StoredVerdict = z.infer<typeof StoredVerdict>;
