import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { JOB_STATUSES } from '../db/schema.js';
import { toJobDto } from '../jobs/dto.js';
import { readRateLimit } from '../ratelimit/plugin.js';
import { errorResponses, Id, Job } from './schemas.js';

export const JobList = Type.Object({ data: Type.Array(Job), nextCursor: Type.Union([Type.String(), Type.Null()]) });
export const ListQuery = Type.Object({
  status: Type.Optional(Type.Enum([...JOB_STATUSES])),
  templateId: Type.Optional(Id('tpl')),
  apiKeyId: Type.Optional(Type.String({ pattern: '^(admin|key_[A-Za-z0-9_-]{1,64})$', maxLength: 80, description: 'Jobs one key admitted' })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Jobs created at or after this instant' })),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ maxLength: 300 })),
}, { additionalProperties: false });

export default async function jobRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['jobs'];

  // Polling and listing have their own bucket: they must not spend the generation budget.
  app.get('/v1/jobs/:id', {
    config: { rateLimit: readRateLimit },
    schema: {
      tags, summary: 'A job with its status, result, usage, cost and error',
      params: Type.Object({ id: Id('gen') }),
      response: { 200: Job, ...errorResponses('bad_request', 'job_not_found') },
    },
  }, async (request) => toJobDto(await app.svc.jobs.get(request.params.id), false, true));

  app.get('/v1/jobs', {
    config: { rateLimit: readRateLimit },
    schema: {
      tags, summary: 'Jobs, newest first, cursor-paginated',
      querystring: ListQuery,
      response: { 200: JobList, ...errorResponses('bad_request') },
    },
  }, async (request) => {
    const { rows, nextCursor } = await app.svc.jobs.list(request.query);
    return { data: rows.map((r) => toJobDto(r)), nextCursor };
  });
}
