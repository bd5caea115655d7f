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
    config: { projectAdmin: true },
    schema: {
      tags, summary: 'Dead-lettered jobs of the project (out of attempts or not retryable), newest first (project admin)',
      querystring: Type.Object(deadQuery, { additionalProperties: false }),
      response: { 200: JobList, ...errorResponses('bad_request', 'project_admin_required', 'project_not_found') },
    },
  }, async (request) => {
    const { rows, nextCursor } = await app.svc.jobs.list({ ...request.query, status: 'dead' }, request.caller!);
    return { data: rows.map((r) => toJobDto(r)), nextCursor };
  });

  const Removed = Type.Object({ removed: Type.Integer({ description: 'Redis keys removed' }) });
  app.delete('/v1/admin/cache', {
    config: { projectAdmin: true },
    schema: {
      tags, summary: 'Clear the project\'s cached results (project admin); the admin key without X-PromptLab-Project clears every project\'s',
      response: { 200: Removed, ...errorResponses('project_admin_required', 'project_not_found') },
    },
  }, async (request) => {
    const { projectId } = request.caller!;
    let removed: number;
    // The record first: once Redis forgets, no slot may still answer from Postgres.
    if (projectId === null) {
      await app.svc.ledger.expire();
      removed = await app.svc.cache.clear();
    } else {
      const hashes = await app.svc.ledger.hashesOf(projectId);
      await app.svc.ledger.expireMany(hashes);
      removed = await app.svc.cache.deleteMany(hashes);
    }
    await app.svc.audit.record(request, 'cache.cleared', null, projectId, { removed });
    return { removed };
  });

  app.delete('/v1/admin/cache/:inputHash', {
    config: { projectAdmin: true },
    schema: {
      tags, summary: 'Clear the cached result of one input hash of the project (project admin); another project\'s hash removes nothing',
      params: Type.Object({ inputHash: Type.String({ pattern: '^[0-9a-f]{64}$' }) }),
      response: { 200: Removed, ...errorResponses('bad_request', 'project_admin_required', 'project_not_found') },
    },
  }, async (request) => {
    const { inputHash } = request.params;
    const { projectId } = request.caller!;
    if (projectId !== null && !(await app.svc.ledger.hashesOf(projectId, inputHash)).length) return { removed: 0 };
    await app.svc.ledger.expire(inputHash);
    const removed = await app.svc.cache.delete(inputHash);
    await app.svc.audit.record(request, 'cache.cleared', inputHash, projectId, { removed });
    return { removed };
  });

  app.post('/v1/admin/dead-letters/:id/replay', {
    config: { projectAdmin: true },
    schema: {
      tags, summary: 'Run a dead-lettered job of the project again, with a fresh set of attempts (project admin)',
      params: Type.Object({ id: Id('gen') }),
      response: {
        202: Type.Object({ jobId: Type.String(), status: Type.String() }),
        ...errorResponses('bad_request', 'project_admin_required', 'project_not_found', 'dead_letter_not_found', 'replay_conflict'),
      },
    },
  }, async (request, reply) => {
    const { jobId, status, projectId } = await app.svc.deadLetters.replay(request.params.id, request.caller!);
    await app.svc.audit.record(request, 'dead_letter.replayed', jobId, projectId);
    return reply.code(202).send({ jobId, status });
  });
}
