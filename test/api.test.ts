import { count } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys, generations, templates } from '../src/db/schema.js';
import { createTestEnv, type TestEnv } from './support/context.js';

let t: TestEnv;
let auth: Record<string, string>;
let tplId: string;

beforeAll(async () => {
  t = await createTestEnv();
  auth = await t.keyHeader('pro');
  const res = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'blog', body: 'Write about {{topic}} for {{audience}}' } });
  tplId = res.json().id;
});
afterAll(() => t.close());

const rows = async () => {
  const db = t.database.db;
  const [[g], [tp], [k]] = await Promise.all([
    db.select({ n: count() }).from(generations), db.select({ n: count() }).from(templates), db.select({ n: count() }).from(apiKeys),
  ]);
  return { generations: g!.n, templates: tp!.n, keys: k!.n };
};

describe('auth', () => {
  it('needs a key on every /v1 route', async () => {
    for (const [method, url] of [['GET', '/v1/jobs'], ['POST', '/v1/generate'], ['GET', '/v1/templates'], ['POST', '/v1/api-keys']] as const) {
      const res = await t.app.inject({ method, url });
      expect(res.statusCode, url).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    }
    const bad = await t.app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization: 'Bearer pl_nope' } });
    expect(bad.statusCode).toBe(401);
  });

  it('keeps admin routes for the admin key, and project admin routes from members', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/projects', headers: auth, payload: { name: 'x' } });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('forbidden');
    const member = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name: 'm', role: 'member' } });
    const asMember = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: { authorization: `Bearer ${member.json().key}` }, payload: { name: 'x' } });
    expect([asMember.statusCode, asMember.json().error.code]).toEqual([403, 'project_admin_required']);
  });

  it('creates keys with a tier, stores only their hash, shows the key once', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name: 'ci', tier: 'free' } });
    expect(res.statusCode).toBe(201);
    const { id, key, tier } = res.json();
    expect(tier).toBe('free');
    expect(key).toMatch(/^pl_/);
    const stored = await t.database.db.select().from(apiKeys);
    expect(stored.find((r) => r.id === id)?.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(key);
    const ok = await t.app.inject({ method: 'GET', url: '/v1/templates', headers: { authorization: `Bearer ${key}` } });
    expect(ok.statusCode).toBe(200);
  });

  it('echoes X-Request-ID, or makes one', async () => {
    const echoed = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.headers['x-request-id']).toBe('abc-123');
    const made = await t.app.inject({ method: 'GET', url: '/health' });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('templates', () => {
  it('creates, reads, lists, patches (version bump) and deletes', async () => {
    const created = await t.app.inject({
      method: 'POST', url: '/v1/templates', headers: auth,
      payload: { name: 'extract', body: 'Meeting {{meeting_id}} on {{date}}: {{transcript}}', keyFields: ['meeting_id', 'date'], outputSchema: { type: 'object' }, cacheTtlSeconds: 60 },
    });
    expect(created.statusCode).toBe(201);
    const tpl = created.json();
    expect(tpl).toMatchObject({ version: 1, keyFields: ['meeting_id', 'date'], cacheTtlSeconds: 60 });
    expect((await t.app.inject({ method: 'GET', url: `/v1/templates/${tpl.id}`, headers: auth })).json().name).toBe('extract');
    const listed = (await t.app.inject({ method: 'GET', url: '/v1/templates', headers: auth })).json().data.map((x: { id: string }) => x.id);
    expect(listed).toContain(tpl.id);
    const patched = await t.app.inject({ method: 'PATCH', url: `/v1/templates/${tpl.id}`, headers: auth, payload: { body: 'Meeting {{meeting_id}} {{date}}' } });
    expect(patched.json()).toMatchObject({ version: 2, body: 'Meeting {{meeting_id}} {{date}}' });
    expect((await t.app.inject({ method: 'DELETE', url: `/v1/templates/${tpl.id}`, headers: auth })).statusCode).toBe(204);
    const gone = await t.app.inject({ method: 'GET', url: `/v1/templates/${tpl.id}`, headers: auth });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.code).toBe('template_not_found');
  });

  it('rejects keyFields the template does not use and invalid outputSchema, storing nothing', async () => {
    const before = await rows();
    const a = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'x', body: 'hi {{a}}', keyFields: ['b'] } });
    expect(a.statusCode).toBe(400);
    expect(a.json().error).toMatchObject({ code: 'invalid_template', details: { keyFields: ['b'] } });
    const b = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'x', body: 'hi', outputSchema: { type: 'nonsense' } } });
    expect(b.statusCode).toBe(400);
    expect(b.json().error.code).toBe('invalid_template');
    expect(await rows()).toEqual(before);
  });
});

describe('bad input gets a 4xx with the standard body and stores nothing', () => {
  const gen = (payload: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/v1/generate', headers: { ...auth, ...headers }, payload: payload as string });

  const cases: [string, () => ReturnType<typeof gen>, number, string][] = [
    ['malformed JSON', () => gen('{"templateId": ', { 'content-type': 'application/json' }), 400, 'invalid_json'],
    ['empty JSON body', () => gen('', { 'content-type': 'application/json' }), 400, 'invalid_json'],
    ['wrong type', () => gen({ templateId: tplId, variables: 'topic' }), 400, 'bad_request'],
    ['number where a string goes', () => gen({ templateId: tplId, input: 5 }), 400, 'bad_request'],
    ['unknown field', () => gen({ templateId: tplId, variables: { topic: 'a', audience: 'b' }, temperature: 2 }), 400, 'bad_request'],
    ['missing variables', () => gen({ templateId: tplId, variables: { topic: 'a' } }), 400, 'missing_variables'],
    ['unknown variables', () => gen({ templateId: tplId, variables: { topic: 'a', audience: 'b', tone: 'c' } }), 400, 'unknown_variables'],
    ['unknown template', () => gen({ templateId: 'tpl_doesnotexist', variables: {} }), 404, 'template_not_found'],
    ['malformed template id', () => gen({ templateId: 'x y' }), 400, 'bad_request'],
    ['unconfigured provider', () => gen({ templateId: tplId, variables: { topic: 'a', audience: 'b' }, provider: 'anthropic' }), 400, 'provider_unavailable'],
    ['body over 1 MiB', () => gen({ templateId: tplId, input: 'x'.repeat(1024 * 1024 + 1) }), 413, 'payload_too_large'],
    ['text body', () => gen('templateId=1', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
    ['wait over 60 s', () => t.app.inject({ method: 'POST', url: '/v1/generate?wait=61', headers: auth, payload: { templateId: tplId } }), 400, 'bad_request'],
  ];

  it.each(cases)('%s', async (_name, send, status, code) => {
    const before = await rows();
    const res = await send();
    expect(res.statusCode).toBe(status);
    const body = res.json();
    expect(body.error.code).toBe(code);
    expect(typeof body.error.message).toBe('string');
    expect(res.body).not.toMatch(/\bat .+\.(ts|js):\d+/); // no stack trace
    expect(await rows()).toEqual(before);
  });

  it('names the missing variables', async () => {
    const res = await gen({ templateId: tplId, variables: {} });
    expect(res.json().error.details.missing).toEqual(['topic', 'audience']);
  });

  it('answers unknown routes with 404 in the same format', async () => {
    for (const url of ['/nope', '/v1/nope']) {
      const res = await t.app.inject({ method: 'GET', url, headers: auth });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
  });

  it('rejects a bad job id and an unknown job', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/v1/jobs/12', headers: auth })).json().error.code).toBe('bad_request');
    const res = await t.app.inject({ method: 'GET', url: '/v1/jobs/gen_nothere', headers: auth });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('job_not_found');
    expect((await t.app.inject({ method: 'GET', url: '/v1/jobs?cursor=zzz', headers: auth })).json().error.code).toBe('bad_request');
  });
});
