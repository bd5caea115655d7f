import type { Span } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { serverSpan, tracingOn } from './tracing.js';

/**
 * One server span per HTTP request (`POST /v1/generate`), active for everything the request runs
 * (admission, the enqueue, whose trace context the job carries to its worker), its log lines
 * carrying its trace id (the logger's mixin reads the active span). Registered only when tracing is on: off, it costs no hook at all.
 */
const spans = new WeakMap<object, Span>();

/** The trace id of a request's span (tracing on), for its log line. */
export const traceIdOf = (request: object): string | undefined => spans.get(request)?.spanContext().traceId;

export const httpTracing = fp(async (app: FastifyInstance) => {
  if (!tracingOn()) return;
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    serverSpan(`${request.method} ${route}`, { 'http.request.method': request.method, 'http.route': route, 'promptlab.request_id': request.id }, (span) => {
      // Log lines written from here on carry the trace id through the logger's mixin (the span is active).
      if (span) spans.set(request, span);
      done();
    });
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = spans.get(request);
    if (!span) return;
    span.setAttributes({ 'http.response.status_code': reply.statusCode, ...(request.caller ? { 'promptlab.key_id': request.caller.keyId, 'promptlab.project': request.caller.projectId ?? 'default' } : {}) });
    if (reply.statusCode >= 500) span.setStatus({ code: 2 });
    span.end();
  });
}, { name: 'http-tracing' });
