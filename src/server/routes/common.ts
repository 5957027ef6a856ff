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
  })
  .describe('An error: a stable code, a sentence, and the field at fault');

export function notFound(what: string, id: string): AisocError {
  return new AisocError('AISOC_ERR_NOT_FOUND', `No ${what} with id ${id}`, { field: 'id' });
}
