import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { traceIdOf } from '../telemetry/http.js';

/**
 * One log line per request, written when the response is done: request id
 * (as `requestId`, the same field the worker's job lines carry, so one grep
 * finds a request and the job it started), method, route as declared, path,
 * status, duration and the API key id (never the key). Fastify's separate
 * "incoming request" line is dropped.
 */
export class RequestLog extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'requestId' });
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? null,
      path: request.url.split('?')[0],
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
      ...(request.caller ? { keyId: request.caller.keyId } : {}),
    };
    const traceId = traceIdOf(request);
    if (traceId) Object.assign(line, { traceId });
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}
