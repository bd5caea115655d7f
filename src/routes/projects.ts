import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { errorResponses } from './schemas.js';

const Project = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }) });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Params = Type.Object({ id: Type.String({ pattern: '^(default|prj_[A-Za-z0-9_-]{1,64})$', maxLength: 80 }) });
const bodyErrors = ['bad_request', 'invalid_json', 'forbidden', 'payload_too_large', 'unsupported_media_type'] as const;

/** Projects (tenants): the admin key's alone. */
export default async function projectRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['projects'];

  app.post('/v1/projects', {
    config: { admin: true },
    schema: { tags, summary: 'Create a project (admin key)', body: Type.Object({ name: Name }, { additionalProperties: false }), response: { 201: Project, ...errorResponses(...bodyErrors) } },
  }, async (request, reply) => {
    const project = await app.svc.projects.create(request.body.name);
    await app.svc.audit.record(request, 'project.created', project.id, project.id, { name: project.name });
    return reply.code(201).send(project);
  });

  app.get('/v1/projects', {
    config: { admin: true },
    schema: { tags, summary: 'List projects, newest first (admin key)', response: { 200: Type.Object({ data: Type.Array(Project) }), ...errorResponses('forbidden') } },
  }, async () => ({ data: await app.svc.projects.list() }));

  app.get('/v1/projects/:id', {
    config: { admin: true },
    schema: { tags, summary: 'Get a project (admin key)', params: Params, response: { 200: Project, ...errorResponses('bad_request', 'forbidden', 'project_not_found') } },
  }, async (request) => app.svc.projects.get(request.params.id));

  app.patch('/v1/projects/:id', {
    config: { admin: true },
    schema: {
      tags, summary: 'Rename a project (admin key)', params: Params,
      body: Type.Object({ name: Type.Optional(Name) }, { additionalProperties: false, minProperties: 1 }),
      response: { 200: Project, ...errorResponses(...bodyErrors, 'project_not_found') },
    },
  }, async (request) => {
    const project = await app.svc.projects.update(request.params.id, request.body);
    await app.svc.audit.record(request, 'project.changed', project.id, project.id, request.body);
    return project;
  });
}
