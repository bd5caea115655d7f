import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { JOB_STATUSES } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { toJobDto } from '../jobs/dto.js';
import { readRateLimit } from '../ratelimit/plugin.js';
import { errorResponses, Id, Job } from './schemas.js';

export const JobList = Type.Object({ data: Type.Array(Job), nextCursor: Type.Union([Type.String(), Type.Null()]) });
/** Most ids `GET /v1/jobs?ids=` takes at once. */
export const MAX_IDS = 100;
export const ListQuery = Type.Object({
  ids: Type.Optional(Type.String({
    pattern: '^gen_[A-Za-z0-9_-]{1,64}(,gen_[A-Za-z0-9_-]{1,64})*$', maxLength: MAX_IDS * 70,
    description: `Up to ${MAX_IDS} comma-separated job ids: those jobs, in that order, in one query (unknown ids are left out; no pagination)`,
  })),
  status: Type.Optional(Type.Enum([...JOB_STATUSES])),
  templateId: Type.Optional(Id('tpl')),
  apiKeyId: Type.Optional(Type.String({ pattern: '^(admin|key_[A-Za-z0-9_-]{1,64})$', maxLength: 80, description: 'Jobs one key admitted' })),
  endUser: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Jobs admitted for one end user (`user`, `safety_identifier`, `metadata.user_id` of the wire formats)' })),
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
  }, async (request) => toJobDto(await app.svc.jobs.get(request.params.id, request.caller!), false, true));

  app.get('/v1/jobs', {
    config: { rateLimit: readRateLimit },
    schema: {
      tags, summary: 'Jobs, newest first, cursor-paginated',
      querystring: ListQuery,
      response: { 200: JobList, ...errorResponses('bad_request') },
    },
  }, async (request) => {
    const { ids, ...query } = request.query;
    if (ids !== undefined) {
      const list = ids.split(',');
      if (list.length > MAX_IDS) throw new AppError('bad_request', `ids names ${list.length} jobs; at most ${MAX_IDS}.`, { issues: [{ path: 'querystring/ids', message: `more than ${MAX_IDS} ids` }] });
      if (query.cursor || query.status || query.templateId || query.endUser) throw new AppError('bad_request', 'ids cannot be combined with status, templateId, endUser or cursor.');
      return { data: (await app.svc.jobs.many(list, request.caller!)).map((r) => toJobDto(r)), nextCursor: null };
    }
    const { rows, nextCursor } = await app.svc.jobs.list(query, request.caller!);
    return { data: rows.map((r) => toJobDto(r)), nextCursor };
  });

  app.post('/v1/jobs/:id/cancel', {
    schema: {
      tags, summary: 'Cancel a job, or detach from it when other requests share it (see docs/queueing.md, "Cancel and deadlines")',
      description: 'Header `X-PromptLab-Cancel`: `canceled` (it had not started, or waited for a retry), `detached` (others still wait for it: one subscriber fewer), ' +
        '`aborting` (202: its running attempt is being aborted; it settles `canceled`).',
      params: Type.Object({ id: Id('gen') }),
      response: {
        200: { ...Job, description: 'Canceled, or detached' },
        202: { ...Job, description: 'Its running attempt is being aborted' },
        ...errorResponses('bad_request', 'job_not_found', 'job_not_cancelable'),
      },
    },
  }, async (request, reply) => {
    const { outcome, row } = await app.svc.cancels.cancel(request.params.id, request.caller!);
    if (outcome === 'settled' && row.status !== 'canceled') {
      throw new AppError('job_not_cancelable', `Job ${row.id} has already ${row.status === 'completed' ? 'completed' : 'ended'}.`, { status: row.status });
    }
    return reply.code(outcome === 'aborting' ? 202 : 200).header('x-promptlab-cancel', outcome === 'settled' ? 'canceled' : outcome).send(toJobDto(row));
  });
}
