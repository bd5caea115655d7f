import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AUDIT_ACTIONS } from '../audit/log.js';
import { errorResponses } from './schemas.js';

const Entry = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  keyId: Type.String({ description: 'Who: the acting key (`admin` for the admin key)' }),
  projectId: Type.Union([Type.String(), Type.Null()], { description: 'null: an action on no one project (the admin key clearing every cached result)' }),
  action: Type.String({ description: AUDIT_ACTIONS.join(', ') }),
  target: Type.Union([Type.String(), Type.Null()], { description: 'The key, template, job, project or input hash acted on' }),
  requestId: Type.Union([Type.String(), Type.Null()]),
  details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

export default async function auditRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/v1/audit', {
    config: { projectAdmin: true },
    schema: {
      tags: ['admin'],
      summary: 'The audit log, newest first: every administrative action (project admin: its project; admin key: every project, or X-PromptLab-Project\'s)',
      querystring: Type.Object({
        from: Type.Optional(Type.String({ format: 'date-time' })),
        to: Type.Optional(Type.String({ format: 'date-time' })),
        action: Type.Optional(Type.Enum([...AUDIT_ACTIONS])),
        limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
        cursor: Type.Optional(Type.String({ maxLength: 20 })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ data: Type.Array(Entry), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses('bad_request', 'project_admin_required', 'project_not_found') },
    },
  }, async (request) => app.svc.audit.list(request.query, request.caller!));
}
