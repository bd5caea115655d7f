import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDuration } from '../../src/metrics/registry.js';
import { createTestEnv, type TestEnv } from '../support/context.js';

let t: TestEnv;
let doc: any;

beforeAll(async () => {
  t = await createTestEnv();
  const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(() => t.close());

/** Every route the app registered, as `METHOD /path`, read from Fastify's own route tree. */
function registeredRoutes(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    for (const method of (m[3] ?? '').split(', ').filter((x) => x && x !== 'HEAD')) out.push(`${method} ${stack.join('')}`);
  }
  return out;
}
const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
// The UIs' own pages, assets and XHR calls are not the API: /docs (Swagger UI), the Bull Board under /admin/queues, the console's files and `/` (its redirect).
const isUiInternal = (route: string) => /^\S+ \/docs(\/|$)/.test(route) || /^\S+ \/admin\/queues\/.*/.test(route) || /^\S+ \/(console\/.*)?$/.test(route);

describe('OpenAPI document', () => {
  it('validates as OpenAPI 3.1, and its $refs resolve', async () => {
    const validator = new Validator();
    const res = await validator.validate(doc);
    expect(res.errors).toBeUndefined();
    expect(res.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(() => validator.resolveRefs()).not.toThrow();
    // The validator is not vacuous: a document with a malformed response fails.
    const broken = structuredClone(doc);
    broken.paths['/health'].get.responses['200'] = { content: 'text' };
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('lists every registered route, the bearer scheme on every /v1 route and the error body on every error', () => {
    const routes = registeredRoutes(t.app.printRoutes({ commonPrefix: false })).filter((r) => !isUiInternal(r));
    expect(routes.length).toBeGreaterThan(15);
    expect(routes).toContain('GET /v1/jobs/:id/events');
    for (const route of routes) {
      const [method, url] = route.split(' ') as [string, string];
      const op = doc.paths[toOpenApiPath(url)]?.[method.toLowerCase()];
      expect(op, route).toBeDefined();
      if (url.startsWith('/v1/')) {
        expect(op.security, route).toEqual([{ bearerAuth: [] }]);
        expect(op.parameters, route).toContainEqual(expect.objectContaining({ in: 'header', name: 'x-promptlab-project' }));
        for (const code of ['401', '429', '503']) expect(Object.keys(op.responses), route).toContain(code);
      }
      for (const [code, response] of Object.entries<any>(op.responses)) {
        if (Number(code) < 400) continue;
        const schema = response.content['application/json'].schema;
        if (schema.$ref) expect(schema.$ref, `${route} ${code}`).toBe('#/components/schemas/ErrorBody');
        else expect(schema.required, `${route} ${code}`).toContain('error');
      }
    }
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.adminBasic).toMatchObject({ type: 'http', scheme: 'basic' });
    expect(doc.components.schemas.ErrorBody.properties.error.required).toEqual(['code', 'message']);
    expect(doc.paths['/v1/jobs/{id}/events'].get.responses['200'].content).toHaveProperty('text/event-stream');
    expect(doc.paths['/metrics'].get.responses['200'].content).toHaveProperty('text/plain');
    expect(Object.keys(doc.paths['/v1/generate'].post.responses).sort()).toEqual(['200', '202', '400', '401', '402', '403', '404', '409', '413', '415', '422', '429', '502', '503']);
  });

  it('documents every status code the API answered with in a tour of its routes', async () => {
    const admin = t.admin;
    const auth = await t.keyHeader('pro');
    const call = (method: string, url: string, headers: Record<string, string> = auth, payload?: unknown) =>
      t.app.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
    await call('POST', '/v1/api-keys', admin, { name: 'x' });
    await call('POST', '/v1/api-keys', auth, { name: 'x' });
    await call('POST', '/v1/api-keys', admin, { nope: 1 });
    await call('GET', '/v1/jobs', {});
    const tpl = (await call('POST', '/v1/templates', auth, { name: 't', body: 'Hi {{who}}' })).json().id;
    await call('POST', '/v1/templates', auth, { name: 't' });
    await call('GET', '/v1/templates');
    await call('GET', `/v1/templates/${tpl}`);
    await call('GET', '/v1/templates/tpl_missing');
    await call('PATCH', `/v1/templates/${tpl}`, auth, { name: 'u' });
    const job = (await call('POST', '/v1/generate', auth, { templateId: tpl, variables: { who: 'you' } })).json().jobId;
    await call('POST', '/v1/generate', auth, { templateId: tpl });
    await call('POST', '/v1/generate', auth, { templateId: 'tpl_missing', variables: {} });
    await t.app.inject({ method: 'POST', url: '/v1/generate', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hi' });
    await call('GET', `/v1/jobs/${job}`);
    await call('GET', '/v1/jobs/gen_missing');
    await call('GET', '/v1/jobs/gen_missing/events');
    await call('GET', '/v1/admin/dead-letters', admin);
    await call('POST', '/v1/admin/dead-letters/gen_missing/replay', admin);
    await call('DELETE', `/v1/templates/${tpl}`);
    for (const url of ['/health', '/ready', '/metrics']) await call('GET', url, {});

    const seen = (await httpDuration.get()).values.filter((v) => v.metricName?.endsWith('_count'));
    expect(seen.length).toBeGreaterThan(20);
    for (const { labels } of seen) {
      const route = `${labels.method} ${labels.route}`;
      if (labels.route === 'unmatched' || isUiInternal(route)) continue;
      const op = doc.paths[toOpenApiPath(String(labels.route))]?.[String(labels.method).toLowerCase()];
      expect(op?.responses?.[String(labels.status)], `${route} answered ${labels.status}`).toBeDefined();
    }
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('swagger');
  });
});
