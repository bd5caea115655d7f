import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { registry } from '../metrics/registry.js';

export default async function metricsRoutes(app: FastifyInstance) {
  app.get('/metrics', {
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics of this API process (text exposition format)',
      description: 'Worker processes serve theirs on WORKER_METRICS_PORT; docs/operations.md lists every metric.',
      response: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: Type.String() } } } },
    },
  }, async (_request, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
}
