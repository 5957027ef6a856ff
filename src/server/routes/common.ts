import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { AisocError } from '../../errors.ts';
import { yieldToEventLoop } from '../../loop.ts';

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

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters (NUL included) are what is refused.
const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether text holds control characters (NUL included) or lone surrogates: refused in query text. */
export function isUnsafeText(s: string): boolean {
  return CONTROL.test(s) || LONE_SURROGATE.test(s);
}

/** A text value in the query string: at most `max` characters, no control characters, valid Unicode. */
export function queryText(max: number, description: string) {
  return z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters')
    .refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode text')
    .describe(description);
}

/**
 * A comma-separated list in a query string, each value matching `pattern`
 * (at most `maxItems`), the message naming the value at fault.
 *
 * @example technique: csvOf(/^T\d{4}(\.\d{3})?$/i, 'ATT&CK technique id', 50)
 */
export function csvOf(pattern: RegExp, what: string, maxItems: number) {
  return z
    .string()
    .max(2000)
    .transform((s, ctx) => {
      const parts = [
        ...new Set(
          s
            .split(',')
            .map((p) => p.trim())
            .filter(Boolean),
        ),
      ];
      if (parts.length > maxItems) {
        ctx.addIssue({ code: 'custom', message: `at most ${maxItems} ${what}s` });
        return z.NEVER;
      }
      for (const p of parts) {
        if (!pattern.test(p)) {
          ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p.slice(0, 80))} is not a ${what}` });
          return z.NEVER;
        }
      }
      return parts;
    });
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

/** Above this size (UTF-16 units) an answer is streamed a part at a time rather than sent as one string. */
const STREAM_ABOVE_CHARS = 256 * 1024;

/**
 * Send JSON text, given as parts to be concatenated, as it is. Stored
 * events come from the store as JSON text (`store.events.*Text`); parsing
 * them to send them, checking them against the response schema and
 * serialising them again cost as much as the whole read and held up the
 * event loop for large events. A large answer is streamed, one part encoded
 * at a time, so it is never one long block either. The route's response
 * schema still documents the shape.
 */
export function sendJsonText(reply: FastifyReply, parts: string | string[]): FastifyReply {
  reply.type('application/json; charset=utf-8');
  const list = typeof parts === 'string' ? [parts] : parts;
  let chars = 0;
  for (const p of list) chars += p.length;
  if (chars <= STREAM_ABOVE_CHARS) return reply.send(list.join(''));
  return reply.send(Readable.from(encodeParts(list), { objectMode: false }));
}

/**
 * The parts as bytes, one part per turn of the event loop: the HTTP response
 * corks its writes within a turn, so parts pushed in one turn leave in one
 * long write of the whole answer.
 */
async function* encodeParts(parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) {
    if (p.length === 0) continue;
    yield Buffer.from(p, 'utf8');
    await yieldToEventLoop();
  }
}

/**
 * `value` as JSON parts with `texts` (JSON texts, e.g. stored events) as an
 * array under `key`, without parsing them; for {@link sendJsonText}.
 *
 * @example jsonWithArray({ total: 2 }, 'items', ['{"a": 1}', '{"b": 2}']).join('') // '{"total":2,"items":[{"a": 1},{"b": 2}]}'
 */
export function jsonWithArray(value: Record<string, unknown>, key: string, texts: string[]): string[] {
  const head = JSON.stringify(value);
  const parts = [
    head === '{}' ? `{${JSON.stringify(key)}:[` : `${head.slice(0, -1)},${JSON.stringify(key)}:[`,
  ];
  for (let i = 0; i < texts.length; i++) {
    if (i > 0) parts.push(',');
    parts.push(texts[i]!);
  }
  parts.push(']}');
  return parts;
}
