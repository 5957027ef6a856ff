import { z } from 'zod';
import { Alert } from '../schema/alert.ts';
import { NormalisedEvent } from '../schema/event.ts';
import { Incident } from '../schema/incident.ts';
import { ModelAnswer, SecurityAlert } from '../schema/verdict.ts';
import { createSpotlight, type Spotlight, uniqueKey } from './guards/spotlight.ts';
import { modelOutputSchema } from './llm/json-schema.ts';
import type { JsonSchema } from './llm/types.ts';
import type { AnalysisInput, RetrievedContext } from './types.ts';

/** Fields of our own records that carry no attacker-controlled text. */
const TRUSTED_EVENT_FIELDS = new Set([
  'id',
  'source',
  'time',
  'ingested_at',
  'class_uid',
  'class_name',
  'category_uid',
  'category_name',
  'severity_id',
  'status',
]);

/** Every property name a JSON schema declares, at any depth. */
function propertyNames(schema: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(schema)) for (const s of schema) propertyNames(s, out);
  else if (schema && typeof schema === 'object') {
    const o = schema as Record<string, unknown>;
    if (o.properties && typeof o.properties === 'object')
      for (const k of Object.keys(o.properties)) out.add(k);
    for (const v of Object.values(o)) propertyNames(v, out);
  }
  return out;
}

/**
 * Object keys that are ours: the field names of our own record schemas
 * (events, alerts, incidents, the submitted SecurityAlert). A key in a prompt
 * is left bare only when it is one of these fixed names; every other key came
 * from the data (a raw record, `full_log`, `unmapped`, hashes) and is
 * spotlighted like a value, since a key can carry an instruction as well as a
 * value can.
 */
export const OWN_KEYS: ReadonlySet<string> = (() => {
  const out = new Set<string>();
  for (const schema of [NormalisedEvent, Alert, Incident, SecurityAlert])
    propertyNames(z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }), out);
  return out;
})();

/**
 * The answer shape the model must produce (what the model decides; the rest
 * is filled in by code), derived from the {@link ModelAnswer} zod schema.
 */
export const VERDICT_SCHEMA: JsonSchema = modelOutputSchema(ModelAnswer);

export interface BuiltPrompt {
  system: string;
  user: string;
  spotlight: Spotlight;
  /** Prompt record ids (R1, R2…) → real record ids. */
  ids: Map<string, string>;
  /** Identifying values, for pseudonymisation of remote backends. */
  entities: Array<{ kind: 'ip' | 'user' | 'host' | 'account' | 'access_key'; value: string }>;
}

function strip(value: unknown, depth = 0): unknown {
  // Drop bulky or empty parts; keep what an analyst reads.
  if (depth > 6) return '[…]';
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => strip(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) continue;
      if (k === 'observables') continue;
      out[k] = strip(v, depth + 1);
    }
    return out;
  }
  if (typeof value === 'string' && value.length > 2000) return `${value.slice(0, 2000)}…`;
  return value;
}

function markAll(value: unknown, spotlight: Spotlight, path: string[] = []): unknown {
  if (typeof value === 'string')
    return path.length === 1 && TRUSTED_EVENT_FIELDS.has(path[0]!) ? value : spotlight.mark(value);
  if (Array.isArray(value)) return value.map((v) => markAll(v, spotlight, path));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[OWN_KEYS.has(k) ? k : uniqueKey(out, spotlight.markKey(k))] = markAll(v, spotlight, [...path, k]);
    return out;
  }
  return value;
}

const RULES = `You are a senior SOC analyst. Decide whether the alert below is a true positive, how severe it is, which ATT&CK techniques it shows, and what to do.
Rules:
- Answer with one JSON object that matches the required schema, and nothing else.
- Every claim in "evidence" cites the record ids (R1, R2, … or A for the alert) it rests on and the exact field paths in those records (for example "src_endpoint.ip" or "raw.eventName"). Cite only records and fields that appear below. State only numbers that appear in the data.
- Use the ATT&CK and runbook passages given as context; cite technique ids that exist.
- You only advise. You cannot close, suppress or remediate anything: people and detection-backed policies decide that.`;

/**
 * Build the triage prompt: the alert, its related events (untrusted text
 * spotlighted), ML scores, correlation, and the retrieved ATT&CK and runbook
 * passages — retrieval reaches the prompt before the model answers.
 */
export function buildPrompt(
  input: AnalysisInput,
  retrieved: RetrievedContext,
  spotlight: Spotlight = createSpotlight(),
): BuiltPrompt {
  const ids = new Map<string, string>();
  ids.set('A', input.alert.id);
  const records = input.records.slice(0, 25).map((r, i) => {
    const pid = `R${i + 1}`;
    ids.set(pid, r.id);
    return { id: pid, record: markAll(strip(r.record), spotlight) };
  });
  const a = input.alert;
  const alertView = markAll(
    strip({
      title: a.title,
      description: a.description,
      severity: a.severity,
      priority: a.priority,
      count: a.count,
      first_seen: a.first_seen,
      last_seen: a.last_seen,
      detections: a.detections.map((d) => ({
        engine: d.engine,
        rule_id: d.rule_id,
        rule_title: d.rule_title,
        level: d.level,
        tags: d.tags,
        confidence: d.confidence,
      })),
      entities: a.entities,
      mitre_techniques: a.mitre_techniques,
    }),
    spotlight,
  );
  const ml = a.detections.filter((d) => d.engine === 'ml');
  const sections = [
    '## Alert (record A)',
    JSON.stringify(alertView, null, 1),
    ml.length
      ? `## ML scores\n${ml.map((d) => `- ${d.rule_id}: ${d.confidence ?? 'n/a'}`).join('\n')}`
      : '## ML scores\nnone',
    `## Correlation\nThe alert is one of ${input.incident_size} alert(s) in its incident.`,
    `## Records (${records.length} of ${input.records.length})`,
    ...records.map((r) => `### ${r.id}\n${JSON.stringify(r.record, null, 1)}`),
    '## ATT&CK context (retrieved)',
    retrieved.techniques.length
      ? retrieved.techniques
          .map(
            (t) =>
              `- ${t.id} ${t.name} (tactics: ${t.tactics.join(', ') || 'n/a'})${t.source === 'mapper' ? ' — inferred from the alert text' : ''}`,
          )
          .join('\n')
      : '- no technique identified',
    ...retrieved.attack.map((p) => `- [${p.id}] ${p.title}: ${p.text.slice(0, 600)}`),
    '## Mitigations',
    retrieved.mitigations.length
      ? retrieved.mitigations
          .map((m) => `- ${m.id} ${m.name} (${m.technique}): ${m.text.slice(0, 300)}`)
          .join('\n')
      : '- none',
    '## Runbooks (retrieved)',
    retrieved.runbooks.length
      ? retrieved.runbooks.map((p) => `- [${p.id}] ${p.title}: ${p.text.slice(0, 600)}`).join('\n')
      : '- none',
    '## Task',
    'Return the JSON verdict now.',
  ];
  const entities: BuiltPrompt['entities'] = [];
  for (const e of a.entities) {
    if (
      e.type === 'ip' ||
      e.type === 'user' ||
      e.type === 'host' ||
      e.type === 'account' ||
      e.type === 'access_key'
    )
      entities.push({ kind: e.type, value: e.value });
  }
  return {
    system: `${RULES}\n\n${spotlight.systemPrompt}`,
    user: sections.join('\n\n'),
    spotlight,
    ids,
    entities,
  };
}
