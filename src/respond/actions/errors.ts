import type { z } from 'zod';
import { AisocError, type ErrorCode } from '../../errors.ts';

/** A zod issue path as a field name: `rule.from_port`, `agent_ids[1]`. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/**
 * Turn a failed zod parse into a typed error naming the first bad field
 * (all issues are in `details.issues`).
 *
 * @example throw zodError('AISOC_ERR_VALIDATION', 'input of aws.wafv2.block_ip', result.error);
 */
export function zodError(code: ErrorCode, what: string, error: z.ZodError, prefix?: string): AisocError {
  const issues = error.issues.map((i) => {
    // An unknown key is named by the key itself, not by the object holding it.
    const keys = i.code === 'unrecognized_keys' ? i.keys : [];
    const path = fieldPath(keys.length > 0 ? [...i.path, keys[0]!] : i.path);
    const field = prefix ? (path ? `${prefix}.${path}` : prefix) : path || 'input';
    return { field, message: i.message };
  });
  const first = issues[0] ?? { field: prefix ?? 'input', message: 'is invalid' };
  return new AisocError(code, `Invalid ${what}: ${first.field}: ${first.message}`, {
    field: first.field,
    details: { issues },
  });
}

/** Parse with a schema or throw a typed error naming the field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: ErrorCode,
  what: string,
  prefix?: string,
): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw zodError(code, what, r.error, prefix);
  return r.data;
}

/** Shorthand for the errors actions throw. */
export function actionError(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
  field?: string,
): AisocError {
  return new AisocError(code, message, { details, field });
}
