import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';

let t: TestEnv;
let auth: Record<string, string>;

beforeAll(async () => {
  t = await createTestEnv();
  t.worker();
  auth = await t.keyHeader();
});
afterAll(async () => t?.close());

const post = (payload: unknown) => t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: payload as object });

describe('template versions', () => {
  it('keeps every version in Postgres, lists them newest first, and a job names the version it used', async () => {
    const created = (await post({ name: 'v', body: 'Say {{a}}' })).json();
    expect(created).toMatchObject({ version: 1, variables: ['a'] });
    const patched = await t.app.inject({ method: 'PATCH', url: `/v1/templates/${created.id}`, headers: auth, payload: { body: 'Say {{a}} to {{b}}', system: 'Be {{tone}}' } });
    expect(patched.json()).toMatchObject({ version: 2, variables: ['a', 'b', 'tone'] });

    const list = await t.app.inject({ method: 'GET', url: `/v1/templates/${created.id}/versions`, headers: auth });
    expect(list.statusCode).toBe(200);
    expect(list.json().data.map((v: { version: number; body: string }) => [v.version, v.body])).toEqual([[2, 'Say {{a}} to {{b}}'], [1, 'Say {{a}}']]);
    const rows = await t.database.db.execute(`select count(*)::int as n from template_versions where template_id = '${created.id}'`);
    expect((rows as unknown as { rows: { n: number }[] }).rows[0]!.n).toBe(2);

    const v1 = await t.app.inject({ method: 'GET', url: `/v1/templates/${created.id}/versions/1`, headers: auth });
    expect(v1.json()).toMatchObject({ templateId: created.id, version: 1, body: 'Say {{a}}', variables: ['a'] });
    const none = await t.app.inject({ method: 'GET', url: `/v1/templates/${created.id}/versions/9`, headers: auth });
    expect(none.statusCode).toBe(404);
    expect(none.json().error.code).toBe('template_version_not_found');

    const gen = await t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: created.id, variables: { a: 'hi', b: 'you', tone: 'kind' } } });
    const job = await waitForStatus(t.app, auth, gen.json().jobId, ['completed']);
    expect(job).toMatchObject({ templateId: created.id, templateVersion: 2, system: 'Be kind', messages: [{ role: 'user', content: 'Say hi to you' }] });
    const used = await t.app.inject({ method: 'GET', url: `/v1/templates/${job.templateId}/versions/${job.templateVersion}`, headers: auth });
    expect(used.json().body).toBe('Say {{a}} to {{b}}');
  });
});

describe('template syntax errors', () => {
  it.each([
    ['{{topic}', 'Write about {{topic} now', 1, 13, /never closed/],
    ['{{ }}', 'Hello {{ }}', 1, 7, /no variable name/],
    ['{{2x}}', 'a\nb {{2x}}', 2, 3, /invalid variable name "2x"/],
  ])('%s is a 400 invalid_template naming the position, at create and at patch', async (_, body, line, column, reason) => {
    const res = await post({ name: 'bad', body });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'invalid_template', details: { field: 'body', line, column } });
    expect(res.json().error.message).toMatch(new RegExp(`line ${line}, column ${column}`));
    expect(res.json().error.message).toMatch(reason);

    const ok = (await post({ name: 'ok', body: 'fine {{x}}' })).json();
    const patch = await t.app.inject({ method: 'PATCH', url: `/v1/templates/${ok.id}`, headers: auth, payload: { system: body } });
    expect(patch.statusCode).toBe(400);
    expect(patch.json().error).toMatchObject({ code: 'invalid_template', details: { field: 'system', line, column } });
    const versions = await t.app.inject({ method: 'GET', url: `/v1/templates/${ok.id}/versions`, headers: auth });
    expect(versions.json().data).toHaveLength(1);
  });

  it('leaves a lone }} alone (nested JSON in an example)', async () => {
    expect((await post({ name: 'json', body: 'Answer like {"a": {"b": 1}} about {{x}}' })).statusCode).toBe(201);
  });

  it('reports missing and unknown variables in one error', async () => {
    const tpl = (await post({ name: 'two', body: '{{a}} and {{b}}' })).json();
    const res = await t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl.id, variables: { a: 1, c: 2 } } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'missing_variables', details: { missing: ['b'], unknown: ['c'], expected: ['a', 'b'] } });
    expect(res.json().error.message).toMatch(/missing template variables: b; variables the template does not use: c/i);
  });

  it('an enum error lists the allowed values', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name: 'x', tier: 'gold' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toBe('body/tier must be one of: "free", "pro", "enterprise"');
    expect(res.json().error.details.issues[0].allowed).toEqual(['free', 'pro', 'enterprise']);
  });
});

describe('GET /v1/me', () => {
  it('says who a key is, and who the admin key is', async () => {
    const member = await t.keyHeader('pro', 'member');
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers: member });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ role: 'member', project: { id: 'default', name: 'Default' }, tier: 'pro', limits: { requestsPerMinute: 100, tokensPerMinute: 400000 }, budgets: [], expiresAt: null });
    const admin = await t.app.inject({ method: 'GET', url: '/v1/me', headers: t.admin });
    expect(admin.json()).toMatchObject({ keyId: 'admin', role: 'global_admin', project: null, tier: null, limits: { tokensPerMinute: null } });
    const inDefault = await t.app.inject({ method: 'GET', url: '/v1/me', headers: { ...t.admin, 'x-promptlab-project': 'default' } });
    expect(inDefault.json()).toMatchObject({ role: 'global_admin', project: { id: 'default' } });
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: auth })).json()).toMatchObject({ name: 'test-pro', role: 'admin' });
    expect((await t.app.inject({ method: 'GET', url: '/v1/me' })).statusCode).toBe(401);
  });
});
