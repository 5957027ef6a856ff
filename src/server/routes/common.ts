import { z } from 'zod';
import { AisocError } from '../../errors.ts';

/** A comma-separated list in a query string, each value checked against `allowed`. */
export function csvEnum<T extends string>(allowed: readonly T[], what: string) {
  return z
    .string()
    .max(1000)
    .transform((s, ctx) => {
      const parts = s
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      for (const p of parts) {
        if (!(allowed as readonly string[]).includes(p)) {
          ctx.addIssue({
            code: 'custom',
            message: `${JSON.stringify(p)} is not a ${what} (${allowed.join(', ')})`,
          });
          return z.NEVER;
        }
      }
      return parts as T[];
    })
    .describe(`Comma-separated ${what}s: ${allowed.join(', ')}`);
}

/**
 * A boolean in a query string: `true`/`1` or `false`/`0` (any case), anything
 * else a 400 naming the parameter. (`z.coerce.boolean()` reads every
 * non-empty string, `"false"` included, as true.)
 *
 * @example querystring: z.object({ force: queryBoolean('Bypass the cache').default(false) })
 */
export function queryBoolean(description: string) {
  return z
    .stringbool({ truthy: ['true', '1'], falsy: ['false', '0'] })
    .describe(`${description} (true or false)`);
}

export const TimeRange = {
  from: z.iso.datetime({ offset: true }).optional().describe('Earliest time (ISO-8601), inclusive'),
  to: z.iso.datetime({ offset: true }).optional().describe('Latest time (ISO-8601), exclusive'),
};

export const Paging = {
  limit: z.coerce.number().int().min(1).max(1000).default(50).describe('Page size (1–1000)'),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0).describe('Rows to skip'),
};

export const IdParam = z.object({ id: z.uuid().describe('Record id') });

export const ErrorBody = z
  .object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
    error_id: z
      .string()
      .optional()
      .describe('Server-side failures only: the id of the log line that records it'),
  })
  .describe('An error: a stable code, a sentence, and the field at fault');

export function notFound(what: string, id: string): AisocError {
  return new AisocError('AISOC_ERR_NOT_FOUND', `No ${what} with id ${id}`, { field: 'id' });
}
