import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from './app-error.js';
import { isConnectivityError, UNAVAILABLE_RETRY_AFTER_S } from './connectivity.js';

/**
 * Maps Fastify's own errors onto the catalogue, and a backing service that
 * cannot be reached (Postgres down) onto 503 `service_unavailable`; anything
 * else unknown is a 500 without details.
 */
export function toAppError(err: FastifyError | Error): AppError {
  if (err instanceof AppError) return err;
  const e = err as FastifyError;
  if (e.validation) {
    const where = e.validationContext ?? 'request';
    const issues = e.validation.map((v) => {
      // Ajv says "must be equal to one of the allowed values" without naming them.
      const allowed = v.keyword === 'enum' ? (v.params as { allowedValues?: unknown[] }).allowedValues : undefined;
      return {
        path: `${where}${v.instancePath || ''}`,
        message: allowed ? `must be one of: ${allowed.map((a) => JSON.stringify(a)).join(', ')}` : (v.message ?? 'is invalid'),
        ...(allowed ? { allowed } : {}),
        ...(v.keyword === 'additionalProperties' ? { field: (v.params as { additionalProperty?: string }).additionalProperty } : {}),
      };
    });
    const first = issues[0];
    const msg = first ? `${first.path}${first.field ? `/${first.field}` : ''} ${first.message}` : 'The request is not valid.';
    return new AppError('bad_request', msg, { issues });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid_json', 'The body is empty but Content-Type is application/json.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('invalid_json');
  }
  if (err instanceof SyntaxError || e.statusCode === 400) return new AppError('invalid_json');
  if (e.statusCode === 413) return new AppError('payload_too_large');
  if (e.statusCode === 429) return new AppError('rate_limited');
  if (isConnectivityError(err)) return new AppError('service_unavailable');
  return new AppError('internal_error');
}

/**
 * An error handler that answers every error with its status, its headers and `body(err)`: the
 * standard body here, a wire format's in the adapters (src/adapters/<format>/routes.ts), which
 * set it on their own encapsulated plugin. An outage is one warning line, never a stack trace.
 */
export function errorReply(body: (err: AppError) => unknown) {
  return (err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const appErr = toAppError(err);
    if (appErr.headers) reply.headers(appErr.headers);
    if (appErr.statusCode === 503) {
      request.log.warn({ code: appErr.code, cause: String(err.cause ?? err) }, 'backing service unavailable');
      if (!reply.hasHeader('retry-after')) reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER_S));
    } else if (appErr.statusCode >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ code: appErr.code }, 'request rejected');
    return reply.code(appErr.statusCode).send(body(appErr));
  };
}

/** The standard error body for every error and unknown route. */
export const errorHandler = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler(errorReply((e) => e.toBody()));
    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send(new AppError('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`).toBody()),
    );
  },
  { name: 'error-handler' },
);
