import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { AisocError } from '../errors.ts';

/** Map Fastify's own error codes onto the product's catalogue. */
function fromFastify(err: FastifyError): AisocError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AisocError('AISOC_ERR_BODY_TOO_LARGE', 'The body is larger than the configured limit.', {
        field: 'body',
      });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AisocError(
        'AISOC_ERR_UNSUPPORTED_MEDIA_TYPE',
        `Content type ${err.message.split(':').pop()?.trim() ?? ''} is not supported here.`,
        {
          field: 'content-type',
        },
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AisocError('AISOC_ERR_VALIDATION', 'The JSON body is empty.', { field: 'body' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AisocError('AISOC_ERR_VALIDATION', 'Content-Length does not match the body.', {
        field: 'content-length',
      });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AisocError('AISOC_ERR_BAD_JSON', `The body is not valid JSON: ${err.message}`, {
        field: 'body',
      });
    default:
      break;
  }
  if (err instanceof SyntaxError || err.statusCode === 400) {
    return new AisocError(
      err instanceof SyntaxError ? 'AISOC_ERR_BAD_JSON' : 'AISOC_ERR_VALIDATION',
      err.message,
      { field: 'body' },
    );
  }
  if (err.statusCode === 429)
    return new AisocError('AISOC_ERR_RATE_LIMITED', err.message, { retryAfterSeconds: 60 });
  return undefined;
}

/**
 * Errors as JSON with a stable `code` and a message naming the bad field:
 * `{"code": "AISOC_ERR_VALIDATION", "message": "...", "field": "query.limit"}`.
 */
export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = err.validation.map((v) => {
      const path = (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.');
      const where = err.validationContext ?? 'body';
      return { field: path ? `${where}.${path}` : where, message: v.message ?? 'is invalid' };
    });
    const first = issues[0];
    const e = new AisocError(
      'AISOC_ERR_VALIDATION',
      issues.map((i) => `${i.field}: ${i.message}`).join('; '),
      {
        field: first?.field,
        details: { issues },
      },
    );
    return reply.code(400).send(e.toJSON());
  }
  if (isResponseSerializationError(err)) {
    req.log.error({ err, url: req.url }, 'A response did not match its schema.');
    return reply
      .code(500)
      .send({ code: 'AISOC_ERR_INTERNAL', message: 'The response did not match its schema.' });
  }
  const e = err instanceof AisocError ? err : fromFastify(err);
  if (e) {
    if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
    // Shedding load is the server working as designed: counted (aisoc_admission_refusals_total), not logged per request.
    if (e.status >= 500 && e.code !== 'AISOC_ERR_UNDER_PRESSURE' && e.code !== 'AISOC_ERR_SHUTTING_DOWN')
      req.log.error({ err }, 'A request failed.');
    return reply.code(e.status).send(e.toJSON());
  }
  req.log.error({ err }, 'A request failed with an unexpected error.');
  return reply.code(500).send({ code: 'AISOC_ERR_INTERNAL', message: 'An internal error occurred.' });
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply) {
  return reply.code(404).send(
    new AisocError('AISOC_ERR_NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}`, {
      field: 'url',
    }).toJSON(),
  );
}
