import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ErrorBody } from '../routes/schemas.js';

const { $id: _, ...errorBody } = ErrorBody as typeof ErrorBody & { $id?: string };
const PROJECT_HEADER = {
  type: 'string',
  description: 'The admin key: act in this project alone (else read across all, create in `default`). A project key: only its own project (another is 404 project_not_found).',
};
const ERROR_BODY = 'Every error answers `{"error": {"code", "message", "details"?}}` with a code from the error catalogue (docs/errors.md).';

/**
 * The OpenAPI 3.1 document at `/docs/json` (and `/docs/yaml`), generated from
 * the TypeBox schemas every route declares, and Swagger UI at `/docs`.
 * Register it before the routes: it collects them as they are added. OpenAPI
 * 3.1 because its schemas are JSON Schema, as TypeBox's are (`type: "null"`,
 * `const`), so the document says exactly what the validator checks.
 */
export const openApiPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'PromptLab API',
          version: '1',
          description: `LLM generation as durable, idempotent, rate-limited, cached jobs.\n\n${ERROR_BODY} Every response carries \`X-Request-ID\`.`,
        },
        tags: [
          { name: 'generate', description: 'Render a template and answer from cache or admit a job' },
          { name: 'jobs', description: 'Generations: status, result, usage, cost, live events' },
          { name: 'templates', description: 'Prompt templates and their kept versions' },
          { name: 'auth', description: 'Who the calling key is' },
          { name: 'admin', description: 'Admin key only' },
          { name: 'operations', description: 'Health, readiness, metrics (no auth)' },
        ],
        components: {
          schemas: { ErrorBody: errorBody },
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key (POST /v1/api-keys), or the admin key (PROMPTLAB_ADMIN_KEY) for admin routes' },
            adminBasic: { type: 'http', scheme: 'basic', description: 'Bull Board login: any user name, the admin key as password' },
          },
        },
        paths: {
          '/console': {
            get: {
              tags: ['operations'],
              summary: 'The console: templates, playground, jobs, spend and keys in a browser (a web page; `/` redirects here, it signs in with an API key)',
              responses: { 302: { description: 'To /console/, the app' } },
            },
          },
          '/admin/queues': {
            get: {
              tags: ['admin'],
              summary: 'Bull Board: the generation and dead-letter queues (a web page; retry, clean and the other actions live under it)',
              security: [{ adminBasic: [] }, { bearerAuth: [] }],
              responses: {
                200: { description: 'The dashboard (HTML)', content: { 'text/html': { schema: { type: 'string' } } } },
                401: { description: 'unauthorized: no admin key; WWW-Authenticate asks the browser to log in', content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } } },
              },
            },
          },
        },
      },
      transform: ({ schema, url }) => {
        const base = (schema ?? {}) as Record<string, unknown>;
        if (!url.startsWith('/v1/')) return { schema, url };
        // Every /v1 route needs a bearer key and takes the project header; the auth hook enforces both, the document says so.
        const headers = (base.headers ?? { type: 'object', properties: {} }) as { properties?: Record<string, unknown> };
        const withProject = { ...headers, properties: { ...headers.properties, 'x-promptlab-project': PROJECT_HEADER } };
        return { schema: { ...base, headers: withProject, security: [{ bearerAuth: [] }] } as typeof schema, url };
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
  },
  { name: 'openapi', fastify: '5.x' },
);
