import { createHash, type Hash } from 'node:crypto';
import type { AnalysisInput } from './types.ts';

/** The recipe's version: bump it when what goes into the key changes, so old keys never match. */
export const CACHE_KEY_VERSION = 2;

/**
 * Bookkeeping fields of stored alerts and incidents that change without the
 * analysed content changing (a person acknowledging the alert, a re-save).
 * Nothing the analyst reads: neither the prompt nor the built-in analyst
 * looks at them.
 */
const BOOKKEEPING = new Set(['created_at', 'updated_at', 'status', 'case_id']);

function withoutBookkeeping<T extends object>(record: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => !BOOKKEEPING.has(k)));
}

/**
 * Feed a value to a hash as canonical JSON: object keys sorted, `undefined`
 * members left out (as `JSON.stringify` does), non-finite numbers as null.
 * Two inputs that differ only in key order hash alike; any other difference
 * changes the hash. Written to the hash piece by piece, so a large input is
 * never copied into one string.
 */
export function hashCanonical(hash: Hash, value: unknown): void {
  if (value === null || value === undefined) {
    hash.update('null');
  } else if (typeof value === 'string') {
    hash.update(JSON.stringify(value));
  } else if (typeof value === 'number') {
    hash.update(Number.isFinite(value) ? JSON.stringify(value) : 'null');
  } else if (typeof value === 'boolean') {
    hash.update(value ? 'true' : 'false');
  } else if (Array.isArray(value)) {
    hash.update('[');
    value.forEach((v, i) => {
      if (i) hash.update(',');
      hashCanonical(hash, v === undefined || typeof v === 'function' ? null : v);
    });
    hash.update(']');
  } else if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && typeof v !== 'function')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    hash.update('{');
    entries.forEach(([k, v], i) => {
      hash.update(`${i ? ',' : ''}${JSON.stringify(k)}:`);
      hashCanonical(hash, v);
    });
    hash.update('}');
  } else {
    // bigint, symbol: not JSON; written as their text so they still count.
    hash.update(JSON.stringify(String(value)));
  }
}

/** sha256 (hex) of a value's canonical JSON. */
export function canonicalHash(value: unknown): string {
  const h = createHash('sha256');
  hashCanonical(h, value);
  return h.digest('hex');
}

/**
 * The verdict cache key: sha256 of the whole analysis input, canonicalised,
 * plus who analyses it (`builtin` or `backend:model`) and the knowledge
 * version. For `POST /analyze` the input is the submitted SecurityAlert as it
 * came (every field: rule_level, command, process, raw_log, full_log,
 * mitre_technique, dest_ip…); for a stored alert or incident it is the alert
 * (or the incident's combined alert), the incident, every record read and
 * the incident size — without bookkeeping timestamps and workflow status.
 * Asset context is part of it: a host that becomes critical changes the
 * verdict.
 *
 * @example
 * analysisCacheKey(input, { analyst: 'ollama:llama3.1:8b', knowledge: kb.version() }) // '3f1c…' (64 hex)
 */
export function analysisCacheKey(
  input: AnalysisInput,
  context: { analyst: string; knowledge: string },
): string {
  const subject =
    input.subject_type === 'adhoc' && input.submitted
      ? { submitted: input.submitted }
      : {
          alert: withoutBookkeeping(input.alert),
          incident: input.incident ? withoutBookkeeping(input.incident) : null,
          records: input.records.map((r) => ({ id: r.id, record: r.record, roles: r.roles })),
        };
  return canonicalHash({
    v: CACHE_KEY_VERSION,
    subject_type: input.subject_type,
    subject_id: input.subject_id,
    incident_size: input.incident_size,
    assets: input.assets,
    ...subject,
    analyst: context.analyst,
    knowledge: context.knowledge,
  });
}
