import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { AisocError } from '../errors.ts';
import { uuidv7 } from '../ids.ts';

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
  // The static file server (the /docs assets) refuses a path that climbs out of its root with a 403:
  // to a client that is a file that does not exist, and nothing about the file system is confirmed.
  if (err.statusCode === 403 || err.statusCode === 404)
    return new AisocError('AISOC_ERR_NOT_FOUND', 'No such file.', { field: 'url' });
  return undefined;
}

/**
 * Answer a server-side failure: log it at error level (500) or warn (other
 * 5xx: an upstream or a dependency failed) with a fresh `error_id`, and give
 * the caller that id and nothing of the cause, so support can find the line.
 */
function serverFailure(
  logger: Logger,
  req: FastifyRequest,
  reply: FastifyReply,
  err: unknown,
  e: AisocError | undefined,
  message: string,
) {
  const errorId = uuidv7();
  const status = e?.status ?? 500;
  const line = { err, error_id: errorId, method: req.method, url: req.url, status, request_id: req.id };
  if (status === 500) logger.error(line, message);
  else logger.warn(line, message);
  const body = e
    ? { ...e.toJSON(), error_id: errorId }
    : {
        code: 'AISOC_ERR_INTERNAL',
        message: `An internal error occurred (error id ${errorId}).`,
        error_id: errorId,
      };
  return reply.code(status).send(body);
}

/**
 * Errors as JSON with a stable `code` and a message naming the bad field:
 * `{"code": "AISOC_ERR_VALIDATION", "message": "...", "field": "query.limit"}`.
 * Server-side failures (5xx) are logged through `logger` whatever the request
 * logging setting, and carry an `error_id` that is in the log line too.
 */
export function errorHandler(logger: Logger) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) =>
    handleError(logger, err, req, reply);
}

function handleError(logger: Logger, err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
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
  if (isResponseSerializationError(err))
    return serverFailure(logger, req, reply, err, undefined, 'A response did not match its schema.');
  const e = err instanceof AisocError ? err : fromFastify(err);
  // Client errors, and refusals by design that say when to retry (overload, knowledge loading, shutting
  // down), are answers, not failures: they are counted in the HTTP metrics, not logged one by one.
  if (e && (e.status < 500 || e.retryAfterSeconds !== undefined)) {
    if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
    return reply.code(e.status).send(e.toJSON());
  }
  return serverFailure(
    logger,
    req,
    reply,
    err,
    e,
    e ? 'A request failed.' : 'A request failed with an unexpected error.',
  );
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply) {
  return reply.code(404).send(
    new AisocError('AISOC_ERR_NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}`, {
      field: 'url',
    }).toJSON(),
  );
}
