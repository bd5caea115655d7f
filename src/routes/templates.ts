import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { homeProject } from '../auth/caller.js';
import type { TemplateRow, TemplateVersionRow } from '../db/schema.js';
import { placeholders } from '../templates/render.js';
import { errorResponses, Id, Provider } from './schemas.js';

const Fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  body: Type.String({ minLength: 1, maxLength: 200_000, description: 'Prompt with {{variable}} placeholders' }),
  system: Type.Union([Type.String({ maxLength: 200_000 }), Type.Null()]),
  provider: Type.Union([Provider, Type.Null()]),
  model: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]),
  maxTokens: Type.Union([Type.Integer({ minimum: 1, maximum: 200_000 }), Type.Null()]),
  temperature: Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()]),
  outputSchema: Type.Union([Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema the model output must match' }), Type.Null()]),
  cacheTtlSeconds: Type.Union([Type.Integer({ minimum: 0, maximum: 31_536_000 }), Type.Null()]),
  keyFields: Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 50, uniqueItems: true }), Type.Null()]),
};
const { name, body, ...optional } = Fields;
const optionals = Object.fromEntries(Object.entries(optional).map(([k, v]) => [k, Type.Optional(v)])) as {
  [K in keyof typeof optional]: ReturnType<typeof Type.Optional<(typeof optional)[K]>>;
};
const CreateBody = Type.Object({ name, body, ...optionals }, { additionalProperties: false });
const PatchBody = Type.Object({ name: Type.Optional(name), body: Type.Optional(body), ...optionals }, { additionalProperties: false, minProperties: 1 });

const Variables = Type.Array(Type.String(), { description: 'The {{variables}} body and system use, in first-use order' });
const Template = Type.Object({
  id: Type.String(),
  ...Fields,
  variables: Variables,
  version: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
const TemplateVersion = Type.Object({
  templateId: Type.String(),
  version: Type.Integer(),
  ...Fields,
  variables: Variables,
  createdAt: Type.String({ format: 'date-time', description: 'When this version was saved' }),
});
const Params = Type.Object({ id: Id('tpl') });

const show = (t: TemplateRow) => {
  const { deletedAt: _, ...rest } = t;
  return { ...rest, variables: placeholders(t.body, t.system), createdAt: t.createdAt.toISOString(), updatedAt: t.updatedAt.toISOString() };
};
const showVersion = (v: TemplateVersionRow) => ({ ...v, variables: placeholders(v.body, v.system), createdAt: v.createdAt.toISOString() });

export default async function templateRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['templates'];
  const bodyErrors = ['bad_request', 'invalid_json', 'invalid_template', 'provider_unavailable', 'payload_too_large', 'unsupported_media_type',
    'project_admin_required', 'project_not_found'] as const;

  app.post('/v1/templates', {
    config: { projectAdmin: true },
    schema: { tags, summary: 'Create a template in the project (project admin)', body: CreateBody, response: { 201: Template, ...errorResponses(...bodyErrors) } },
  }, async (request, reply) => reply.code(201).send(show(await app.svc.templates.create(request.body, homeProject(request.caller!)))));

  app.get('/v1/templates', {
    schema: {
      tags, summary: 'List templates, newest first',
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ data: Type.Array(Template) }), ...errorResponses('bad_request') },
    },
  }, async (request) => ({ data: (await app.svc.templates.list(request.caller!, request.query.limit)).map(show) }));

  app.get('/v1/templates/:id', {
    schema: { tags, summary: 'Get a template', params: Params, response: { 200: Template, ...errorResponses('bad_request', 'template_not_found') } },
  }, async (request) => show(await app.svc.templates.get(request.params.id, request.caller!)));

  app.patch('/v1/templates/:id', {
    config: { projectAdmin: true },
    schema: {
      tags, summary: 'Change a template (project admin; bumps version, so old cache entries stop matching)',
      params: Params, body: PatchBody, response: { 200: Template, ...errorResponses(...bodyErrors, 'template_not_found') },
    },
  }, async (request) => show(await app.svc.templates.update(request.params.id, request.body, request.caller!)));

  app.get('/v1/templates/:id/versions', {
    schema: {
      tags, summary: 'Every kept version of a template, newest first (versions are kept from their creation on)',
      params: Params, response: { 200: Type.Object({ data: Type.Array(TemplateVersion) }), ...errorResponses('bad_request', 'template_not_found') },
    },
  }, async (request) => ({ data: (await app.svc.templates.versions(request.params.id, request.caller!)).map(showVersion) }));

  app.get('/v1/templates/:id/versions/:version', {
    schema: {
      tags, summary: 'One version of a template: what a job with that templateVersion was rendered from',
      params: Type.Object({ id: Id('tpl'), version: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) }),
      response: { 200: TemplateVersion, ...errorResponses('bad_request', 'template_not_found', 'template_version_not_found') },
    },
  }, async (request) => showVersion(await app.svc.templates.version(request.params.id, request.params.version, request.caller!)));

  app.delete('/v1/templates/:id', {
    config: { projectAdmin: true },
    schema: { tags, summary: 'Delete a template (project admin)', params: Params, response: { 204: Type.Null(), ...errorResponses('bad_request', 'project_admin_required', 'project_not_found', 'template_not_found') } },
  }, async (request, reply) => {
    const projectId = await app.svc.templates.remove(request.params.id, request.caller!);
    await app.svc.audit.record(request, 'template.deleted', request.params.id, projectId);
    return reply.code(204).send(null);
  });
}
