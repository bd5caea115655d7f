import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';

/** Failover under the guarantees, routing edited through the API, projects' own routes. */
let sick: FakeLlm;
let well: FakeLlm;
let t: TestEnv | undefined;
const dir = mkdtempSync(join(tmpdir(), 'routes-'));
beforeAll(async () => {
  [sick, well] = await Promise.all([startFakeLlm(), startFakeLlm()]);
});
afterAll(async () => {
  await Promise.all([sick, well].map((l) => l.close()));
});
afterEach(async () => {
  await t?.close();
  t = undefined;
  sick.reset();
  well.reset();
});

const deployment = (name: string, llm: FakeLlm, extra: object = {}) => ({ name, provider: 'openai-compatible', baseUrl: llm.openaiBaseUrl, apiKeyEnv: `${name.toUpperCase()}_KEY`, model: 'up-model', ...extra });
const DOC = () => ({ deployments: [deployment('sick', sick), deployment('well', well)], groups: [{ name: 'team-gpt', deployments: ['sick', 'well'] }] });

async function env(doc: object | undefined, extra: Record<string, string> = {}) {
  const file = join(dir, `r-${Math.random().toString(36).slice(2)}.json`);
  if (doc) writeFileSync(file, JSON.stringify(doc));
  t = await createTestEnv({ ...(doc ? { ROUTES_FILE: file } : {}), PROVIDERS_ALLOW_PRIVATE: 'true', SICK_KEY: 'sk-sick', WELL_KEY: 'sk-well', ACME_KEY: 'sk-acme', ...extra });
  const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const client = (key: string) => new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
  return { client, key: (await t.keyHeader('enterprise')).authorization!.replace(/^Bearer /, '') };
}
/** Upstream calls that answered 200 whole: what was paid. */
const paid = (llm: FakeLlm) => llm.calls.filter((c) => !c.closedEarly && c.path.endsWith('/chat/completions')).length;

describe('failover keeps one paid answer per input', () => {
  it('40 identical requests staggered across a failover: one success at the upstreams, one row', async () => {
    const { client, key } = await env(DOC());
    t!.worker();
    sick.setDefault(reply.serverError(503));
    well.setDefault(reply.slow(150));
    const answers = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 10));
      return client(key).chat.completions.create({ model: 'team-gpt', messages: [{ role: 'user', content: 'the same question' }] });
    }));
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    expect(sick.calls.length).toBeLessThanOrEqual(1);
    expect(well.calls).toHaveLength(1);
    expect(paid(well)).toBe(1);
    const rows = await t!.database.db.execute('select count(*)::int as n from generations');
    expect((rows as unknown as { rows: { n: number }[] }).rows[0]!.n).toBe(1);
  });

  it('a streamed call fails over before its first piece without the client seeing it', async () => {
    const { client, key } = await env({ ...DOC(), groups: [{ name: 'team-gpt', deployments: ['sick', 'well'], strategy: 'least-busy' }] });
    t!.worker();
    sick.setDefault(reply.serverError(500));
    well.setDefault(reply.ok('streamed whole'));
    for (let i = 0; i < 3; i++) {
      let text = '';
      for await (const chunk of await client(key).chat.completions.create({ model: 'team-gpt', messages: [{ role: 'user', content: `stream ${i}` }], stream: true })) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('streamed whole');
    }
    expect(well.calls).toHaveLength(3);
  });
});

describe('the routing document through the API, and projects', () => {
  it('PUT /v1/routes checks, versions, audits and puts a document in force; health shows each deployment', async () => {
    const { client, key } = await env(undefined);
    t!.worker();
    const put = (body: object, headers = t!.admin) => t!.app.inject({ method: 'PUT', url: '/v1/routes', headers, payload: body });
    expect((await put(DOC(), { authorization: `Bearer ${key}` })).statusCode).toBe(403);
    const bad = await put({ ...DOC(), groups: [{ name: 'team-gpt', deployments: ['nope'] }] });
    expect([bad.statusCode, bad.json().error.details.problems]).toEqual([400, ['routes: group team-gpt names deployment "nope", which is not declared']]);
    expect((await put({ deployments: [deployment('well', well)], groups: [{ name: 'team-gpt', deployments: ['well'] }] })).json()).toEqual({ version: 1 });
    expect((await client(key).chat.completions.create({ model: 'team-gpt', messages: [{ role: 'user', content: 'via api' }] })).choices[0]!.finish_reason).toBe('stop');
    expect(well.calls).toHaveLength(1);
    const versions = (await t!.app.inject({ method: 'GET', url: '/v1/routes/versions', headers: t!.admin })).json().data;
    expect(versions).toMatchObject([{ version: 1, source: 'api', createdBy: 'admin' }]);
    const audit = (await t!.app.inject({ method: 'GET', url: '/v1/audit', headers: t!.admin })).json().data;
    expect(audit.find((a: { action: string }) => a.action === 'routes.changed')).toMatchObject({ target: '1' });
    const health = (await t!.app.inject({ method: 'GET', url: '/v1/routes/health', headers: t!.admin })).json();
    expect(health).toMatchObject({ version: 1, deployments: [{ name: 'well', calls: { ok: 1 }, coolingUntil: null }] });
    expect(health.deployments[0].latencyEwmaMs).toBeGreaterThanOrEqual(0);
  });

  it('a project may be restricted to some groups and re-map one to its own deployment (its own key); allow-lists name groups', async () => {
    await env({
      deployments: [deployment('sick', sick), deployment('well', well)],
      groups: [{ name: 'team-gpt', deployments: ['well'] }, { name: 'other', deployments: ['well'] }],
      projects: [],
    });
    const project = (await t!.app.inject({ method: 'POST', url: '/v1/projects', headers: t!.admin, payload: { name: 'acme' } })).json().id;
    await t!.app.inject({
      method: 'PUT', url: '/v1/routes', headers: t!.admin,
      payload: {
        deployments: [deployment('sick', sick), deployment('well', well)],
        groups: [{ name: 'team-gpt', deployments: ['well'] }, { name: 'other', deployments: ['well'] }],
        projects: [{ project, allow: ['team-gpt'], deployments: [{ ...deployment('acme', sick), apiKeyEnv: 'ACME_KEY' }], groups: [{ name: 'team-gpt', deployments: ['acme'] }] }],
      },
    });
    t!.worker();
    const acme = (await t!.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t!.admin, payload: { name: 'a', tier: 'enterprise', role: 'member', projectId: project } })).json().key;
    const chat = (model: string, k: string) => t!.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${k}` }, payload: { model, messages: [{ role: 'user', content: 'byok' }] } });
    expect((await chat('team-gpt', acme)).statusCode).toBe(200);
    expect(sick.calls.map((c) => c.headers.authorization)).toEqual(['Bearer sk-acme']);
    expect((await chat('other', acme)).json().error.code).toBe('model_not_allowed');
    // The default project keeps the global group; an allow-list names a group as group/<name>.
    const limited = (await t!.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t!.admin, payload: { name: 'l', tier: 'enterprise', allowedModels: ['group/other'] } })).json().key;
    expect((await chat('team-gpt', limited)).json().error.code).toBe('model_not_allowed');
    expect((await chat('other', limited)).statusCode).toBe(200);
    expect(well.calls).toHaveLength(1);
  });
});
