import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { toJobDto } from '../jobs/dto.js';
import { JobList, ListQuery } from './jobs.js';
import { errorResponses, Id } from './schemas.js';

export default async function adminRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['admin'];
  const { status: _, ...deadQuery } = ListQuery.properties;

  app.get('/v1/admin/dead-letters', {
    config: { admin: true },
    schema: {
      tags, summary: 'Dead-lettered jobs (out of attempts or not retryable), newest first',
      querystring: Type.Object(deadQuery, { additionalProperties: false }),
      response: { 200: JobList, ...errorResponses('bad_request', 'forbidden') },
    },
  }, async (request) => {
    const { rows, nextCursor } = await app.svc.jobs.list({ ...request.query, status: 'dead' });
    return { data: rows.map((r) => toJobDto(r)), nextCursor };
  });

  const Removed = Type.Object({ removed: Type.Integer({ description: 'Redis keys removed' }) });
  app.delete('/v1/admin/cache', {
    config: { admin: true },
    schema: { tags, summary: 'Clear every cached result, in Redis and in every process', response: { 200: Removed, ...errorResponses('forbidden') } },
  }, async () => {
    // The record first: once Redis forgets, no slot may still answer from Postgres.
    await app.svc.ledger.expire();
    return { removed: await app.svc.cache.clear() };
  });

  app.delete('/v1/admin/cache/:inputHash', {
    config: { admin: true },
    schema: {
      tags, summary: 'Clear the cached result of one input hash',
      params: Type.Object({ inputHash: Type.String({ pattern: '^[0-9a-f]{64}$' }) }),
      response: { 200: Removed, ...errorResponses('bad_request', 'forbidden') },
    },
  }, async (request) => {
    await app.svc.ledger.expire(request.params.inputHash);
    return { removed: await app.svc.cache.delete(request.params.inputHash) };
  });

  app.post('/v1/admin/dead-letters/:id/replay', {
    config: { admin: true },
    schema: {
      tags, summary: 'Run a dead-lettered job again, with a fresh set of attempts',
      params: Type.Object({ id: Id('gen') }),
      response: {
        202: Type.Object({ jobId: Type.String(), status: Type.String() }),
        ...errorResponses('bad_request', 'forbidden', 'dead_letter_not_found', 'replay_conflict'),
      },
    },
  }, async (request, reply) => reply.code(202).send(await app.svc.deadLetters.replay(request.params.id)));
}
