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
 * never copied into one string, and with an explicit stack, so no nesting
 * depth a request can carry overflows the call stack.
 */
export function hashCanonical(hash: Hash, value: unknown): void {
  // Work items: a value to write, or literal text (separators, closing brackets).
  const stack: Array<{ value: unknown } | string> = [{ value }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === 'string') {
      hash.update(item);
      continue;
    }
    const v = item.value;
    if (v === null || v === undefined || typeof v === 'function') hash.update('null');
    else if (typeof v === 'string') hash.update(JSON.stringify(v));
    else if (typeof v === 'number') hash.update(Number.isFinite(v) ? JSON.stringify(v) : 'null');
    else if (typeof v === 'boolean') hash.update(v ? 'true' : 'false');
    else if (Array.isArray(v)) {
      hash.update('[');
      stack.push(']');
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ value: v[i] });
        if (i) stack.push(',');
      }
    } else if (typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined && typeof x !== 'function')
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      hash.update('{');
      stack.push('}');
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, x] = entries[i]!;
        stack.push({ value: x });
        stack.push(`${i ? ',' : ''}${JSON.stringify(k)}:`);
      }
    } else {
      // bigint, symbol: not JSON; written as their text so they still count.
      hash.update(JSON.stringify(String(v)));
    }
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
