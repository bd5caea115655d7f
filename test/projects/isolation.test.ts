import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/client.js';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';
import { registeredRoutes } from '../support/routes.js';

/**
 * The isolation matrix: every /v1 route (read from the app's own route tree, so a new route
 * without a row here fails the test) × {no key, revoked key, expired key, member, project admin}
 * of project A, on A's own objects and on project B's (their ids in paths and bodies).
 * Another project's object answers exactly as an absent one: 404, or a listing without it.
 */

type Headers = Record<string, string>;
interface Req { method: string; url: string; payload?: unknown; headers?: Headers }
/** Who may call a route: any key, a project admin (or the admin key), or the admin key alone. */
type Need = 'member' | 'admin' | 'global';
interface Row {
  need: Need;
  /** A call on A's own objects; a function when the call changes them (each caller gets fresh ones). */
  own: () => Promise<Req> | Req;
  /** Status of `own` for an allowed caller. */
  ok: number;
  /** The same call naming B's objects; null when the route names no object (then X-PromptLab-Project: B is tried). */
  other: (() => Req) | null;
  /** What `other` answers: 404 unless said (a listing: 200 without B's ids). */
  otherStatus?: number;
}

let llm: FakeLlm;
let t: TestEnv;
const H = (key: string): Headers => ({ authorization: `Bearer ${key}` });
let A: string; let B: string;
const keys = {} as Record<'adminA' | 'memberA' | 'adminB' | 'revoked' | 'expired', { id: string; key: string }>;
const b = {} as { tpl: string; job: string; dead: string; hash: string; key: string; batch: string };
const a = {} as { tpl: string; job: string; dead: string; hash: string; batch: string };

async function inject(req: Req, headers: Headers) {
  return t.app.inject({ method: req.method as 'GET', url: req.url, headers: { ...req.headers, ...headers }, ...(req.payload !== undefined ? { payload: req.payload as object } : {}) });
}
async function newKey(projectId: string, role: 'admin' | 'member', extra: Record<string, unknown> = {}) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name: `${role}-${projectId}`, tier: 'enterprise', role, projectId, ...extra } });
  expect(res.statusCode, res.body).toBe(201);
  return { id: res.json().id as string, key: res.json().key as string };
}
async function template(key: string, name = 'iso') {
  const res = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: H(key), payload: { name, body: 'About {{topic}}', provider: 'anthropic' } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
}
async function completed(key: string, tpl: string, topic: string) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/generate?wait=10', headers: H(key), payload: { templateId: tpl, variables: { topic } } });
  expect(res.json().status, res.body).toBe('completed');
  const job = (await t.app.inject({ method: 'GET', url: `/v1/jobs/${res.json().jobId}`, headers: H(key) })).json();
  return { job: job.id as string, hash: job.inputHash as string };
}
async function response(key: string) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/responses', headers: H(key), payload: { model: chat.model, input: `forget me ${Math.random()}`, max_output_tokens: 16 } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().id as string;
}
async function batch(key: string, tpl: string) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/batches', headers: H(key), payload: { templateId: tpl, items: [{ variables: { topic: 'batched' } }] } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
}
async function dead(key: string, tpl: string) {
  llm.script(reply.error(400, 'not retryable'));
  const res = await t.app.inject({ method: 'POST', url: '/v1/generate', headers: H(key), payload: { templateId: tpl, variables: { topic: `dead ${Math.random()}` } } });
  return (await waitForStatus(t.app, H(key), res.json().jobId, ['dead'])).id as string;
}

beforeAll(async () => {
  llm = await startFakeLlm();
  t = await createTestEnv({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl, JOB_ATTEMPTS: '1' });
  t.worker();
  A = (await t.app.inject({ method: 'POST', url: '/v1/projects', headers: t.admin, payload: { name: 'A' } })).json().id;
  B = (await t.app.inject({ method: 'POST', url: '/v1/projects', headers: t.admin, payload: { name: 'B' } })).json().id;
  keys.adminA = await newKey(A, 'admin');
  keys.memberA = await newKey(A, 'member');
  keys.adminB = await newKey(B, 'admin');
  keys.revoked = await newKey(A, 'admin');
  expect((await t.app.inject({ method: 'DELETE', url: `/v1/api-keys/${keys.revoked.id}`, headers: H(keys.adminA.key) })).statusCode).toBe(200);
  const expiresAt = Date.now() + 1500;
  keys.expired = await newKey(A, 'admin', { expiresAt: new Date(expiresAt).toISOString() });
  expect((await t.app.inject({ method: 'GET', url: '/v1/templates', headers: H(keys.expired.key) })).statusCode).toBe(200); // cached while valid
  b.key = (await newKey(B, 'member')).id;
  b.tpl = await template(keys.adminB.key);
  Object.assign(b, await completed(keys.adminB.key, b.tpl, 'b'));
  b.dead = await dead(keys.adminB.key, b.tpl);
  a.tpl = await template(keys.adminA.key);
  Object.assign(a, await completed(keys.adminA.key, a.tpl, 'a'));
  a.dead = await dead(keys.adminA.key, a.tpl);
  b.batch = await batch(keys.adminB.key, b.tpl);
  a.batch = await batch(keys.adminA.key, a.tpl);
  await new Promise((r) => setTimeout(r, Math.max(0, expiresAt + 50 - Date.now()))); // the expired key is past its expiresAt
}, 60_000);
afterAll(async () => {
  await t?.close();
  await llm?.close();
});

const tplBody = { name: 'n', body: 'Say {{topic}}' };
const chat = { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 };
const ROUTES: Record<string, Row> = {
  'POST /v1/projects': { need: 'global', own: () => ({ method: 'POST', url: '/v1/projects', payload: { name: 'x' } }), ok: 201, other: null },
  'GET /v1/projects': { need: 'global', own: () => ({ method: 'GET', url: '/v1/projects' }), ok: 200, other: null },
  'GET /v1/projects/:id': { need: 'global', own: () => ({ method: 'GET', url: `/v1/projects/${A}` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/projects/${B}` }) },
  'PATCH /v1/projects/:id': { need: 'global', own: () => ({ method: 'PATCH', url: `/v1/projects/${A}`, payload: { name: 'A' } }), ok: 200, other: () => ({ method: 'PATCH', url: `/v1/projects/${B}`, payload: { name: 'mine' } }) },
  // The routing document is the deployment's, not a project's: the admin key alone reads and replaces it.
  'GET /v1/routes': { need: 'global', own: () => ({ method: 'GET', url: '/v1/routes' }), ok: 200, other: null },
  'PUT /v1/routes': { need: 'global', own: () => ({ method: 'PUT', url: '/v1/routes', payload: { deployments: [{ name: 'f', provider: 'fake', model: 'fake-1' }], groups: [{ name: 'iso-group', deployments: ['f'] }] } }), ok: 200, other: null },
  'GET /v1/routes/versions': { need: 'global', own: () => ({ method: 'GET', url: '/v1/routes/versions' }), ok: 200, other: null },
  'GET /v1/routes/health': { need: 'global', own: () => ({ method: 'GET', url: '/v1/routes/health' }), ok: 200, other: null },
  'POST /v1/api-keys': { need: 'admin', own: () => ({ method: 'POST', url: '/v1/api-keys', payload: { name: 'k', role: 'member' } }), ok: 201,
    other: () => ({ method: 'POST', url: '/v1/api-keys', payload: { name: 'k', projectId: B } }) },
  'GET /v1/api-keys': { need: 'admin', own: () => ({ method: 'GET', url: '/v1/api-keys' }), ok: 200, other: () => ({ method: 'GET', url: `/v1/api-keys?projectId=${B}` }) },
  'GET /v1/api-keys/:id': { need: 'admin', own: () => ({ method: 'GET', url: `/v1/api-keys/${keys.memberA.id}` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/api-keys/${b.key}` }) },
  'PATCH /v1/api-keys/:id': { need: 'admin', own: () => ({ method: 'PATCH', url: `/v1/api-keys/${keys.memberA.id}`, payload: { budgets: [] } }), ok: 200,
    other: () => ({ method: 'PATCH', url: `/v1/api-keys/${b.key}`, payload: { budgets: [] } }) },
  'DELETE /v1/api-keys/:id': { need: 'admin', own: async () => ({ method: 'DELETE', url: `/v1/api-keys/${(await newKey(A, 'member')).id}` }), ok: 200,
    other: () => ({ method: 'DELETE', url: `/v1/api-keys/${b.key}` }) },
  'POST /v1/api-keys/:id/rotate': { need: 'admin', own: async () => ({ method: 'POST', url: `/v1/api-keys/${(await newKey(A, 'member')).id}/rotate`, payload: {} }), ok: 200,
    other: () => ({ method: 'POST', url: `/v1/api-keys/${b.key}/rotate`, payload: { graceSeconds: 0 } }) },
  'GET /v1/audit': { need: 'admin', own: () => ({ method: 'GET', url: '/v1/audit' }), ok: 200, other: () => ({ method: 'GET', url: '/v1/audit?limit=500' }), otherStatus: 200 },
  'GET /v1/admin/dead-letters': { need: 'admin', own: () => ({ method: 'GET', url: '/v1/admin/dead-letters' }), ok: 200,
    other: () => ({ method: 'GET', url: `/v1/admin/dead-letters?templateId=${b.tpl}` }), otherStatus: 200 },
  'POST /v1/admin/dead-letters/:id/replay': { need: 'admin', own: async () => ({ method: 'POST', url: `/v1/admin/dead-letters/${await dead(keys.adminA.key, a.tpl)}/replay` }), ok: 202,
    other: () => ({ method: 'POST', url: `/v1/admin/dead-letters/${b.dead}/replay` }) },
  'DELETE /v1/admin/cache': { need: 'admin', own: () => ({ method: 'DELETE', url: '/v1/admin/cache' }), ok: 200, other: null },
  'DELETE /v1/admin/cache/:inputHash': { need: 'admin', own: () => ({ method: 'DELETE', url: `/v1/admin/cache/${a.hash}` }), ok: 200,
    other: () => ({ method: 'DELETE', url: `/v1/admin/cache/${b.hash}` }), otherStatus: 200 },
  'POST /v1/templates': { need: 'admin', own: () => ({ method: 'POST', url: '/v1/templates', payload: tplBody }), ok: 201, other: null },
  'GET /v1/templates': { need: 'member', own: () => ({ method: 'GET', url: '/v1/templates' }), ok: 200, other: () => ({ method: 'GET', url: '/v1/templates?limit=500' }), otherStatus: 200 },
  'GET /v1/templates/:id': { need: 'member', own: () => ({ method: 'GET', url: `/v1/templates/${a.tpl}` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/templates/${b.tpl}` }) },
  'PATCH /v1/templates/:id': { need: 'admin', own: async () => ({ method: 'PATCH', url: `/v1/templates/${await template(keys.adminA.key)}`, payload: { cacheTtlSeconds: 0 } }), ok: 200,
    other: () => ({ method: 'PATCH', url: `/v1/templates/${b.tpl}`, payload: { body: 'mine {{topic}}', cacheTtlSeconds: 0 } }) },
  'DELETE /v1/templates/:id': { need: 'admin', own: async () => ({ method: 'DELETE', url: `/v1/templates/${await template(keys.adminA.key)}` }), ok: 204,
    other: () => ({ method: 'DELETE', url: `/v1/templates/${b.tpl}` }) },
  'GET /v1/templates/:id/budgets': { need: 'member', own: () => ({ method: 'GET', url: `/v1/templates/${a.tpl}/budgets` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/templates/${b.tpl}/budgets` }) },
  'PUT /v1/templates/:id/budgets': { need: 'admin', own: () => ({ method: 'PUT', url: `/v1/templates/${a.tpl}/budgets`, payload: { budgets: [] } }), ok: 200,
    other: () => ({ method: 'PUT', url: `/v1/templates/${b.tpl}/budgets`, payload: { budgets: [] } }) },
  'POST /v1/generate': { need: 'member', own: () => ({ method: 'POST', url: '/v1/generate?wait=10', payload: { templateId: a.tpl, variables: { topic: 'a' } } }), ok: 200,
    other: () => ({ method: 'POST', url: '/v1/generate', payload: { templateId: b.tpl, variables: { topic: 'b' } } }) },
  'POST /v1/chat/completions': { need: 'member', own: () => ({ method: 'POST', url: '/v1/chat/completions', payload: chat }), ok: 200, other: null },
  'POST /v1/messages': { need: 'member', own: () => ({ method: 'POST', url: '/v1/messages', payload: chat }), ok: 200, other: null },
  'POST /v1/messages/count_tokens': { need: 'member', own: () => ({ method: 'POST', url: '/v1/messages/count_tokens', payload: { model: chat.model, messages: chat.messages } }), ok: 200, other: null },
  'POST /v1/embeddings': { need: 'member', own: () => ({ method: 'POST', url: '/v1/embeddings', payload: { model: 'fake-embed-1', input: ['one', 'two'] } }), ok: 200, other: null },
  // A response is its job: B's completed job is B's response, which A can neither read, delete nor continue.
  'POST /v1/responses': { need: 'member', own: () => ({ method: 'POST', url: '/v1/responses', payload: { model: chat.model, input: 'hi', max_output_tokens: 16 } }), ok: 200,
    other: () => ({ method: 'POST', url: '/v1/responses', payload: { model: chat.model, input: 'and then?', previous_response_id: b.job } }) },
  'GET /v1/responses/:id': { need: 'member', own: () => ({ method: 'GET', url: `/v1/responses/${a.job}` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/responses/${b.job}` }) },
  'DELETE /v1/responses/:id': { need: 'member', own: async () => ({ method: 'DELETE', url: `/v1/responses/${await response(keys.adminA.key)}` }), ok: 200,
    other: () => ({ method: 'DELETE', url: `/v1/responses/${b.job}` }) },
  'POST /v1/batches': { need: 'member', own: () => ({ method: 'POST', url: '/v1/batches', payload: { templateId: a.tpl, items: [{ variables: { topic: 'a' } }] } }), ok: 201,
    other: () => ({ method: 'POST', url: '/v1/batches', payload: { templateId: b.tpl, items: [{ variables: { topic: 'b' } }] } }) },
  'GET /v1/batches': { need: 'member', own: () => ({ method: 'GET', url: '/v1/batches' }), ok: 200, other: () => ({ method: 'GET', url: '/v1/batches?limit=100' }), otherStatus: 200 },
  'GET /v1/batches/:id': { need: 'member', own: () => ({ method: 'GET', url: `/v1/batches/${a.batch}` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/batches/${b.batch}` }) },
  'GET /v1/batches/:id/results': { need: 'member', own: () => ({ method: 'GET', url: `/v1/batches/${a.batch}/results` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/batches/${b.batch}/results` }) },
  'POST /v1/batches/:id/cancel': { need: 'member', own: () => ({ method: 'POST', url: `/v1/batches/${a.batch}/cancel` }), ok: 200, other: () => ({ method: 'POST', url: `/v1/batches/${b.batch}/cancel` }) },
  'GET /v1/jobs/:id/webhooks': { need: 'member', own: () => ({ method: 'GET', url: `/v1/jobs/${a.job}/webhooks` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/jobs/${b.job}/webhooks` }) },
  'POST /v1/api-keys/:id/webhook-secret': { need: 'admin', own: async () => ({ method: 'POST', url: `/v1/api-keys/${(await newKey(A, 'member')).id}/webhook-secret` }), ok: 200,
    other: () => ({ method: 'POST', url: `/v1/api-keys/${b.key}/webhook-secret` }) },
  'GET /v1/templates/:id/versions': { need: 'member', own: () => ({ method: 'GET', url: `/v1/templates/${a.tpl}/versions` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/templates/${b.tpl}/versions` }) },
  'GET /v1/templates/:id/versions/:version': { need: 'member', own: () => ({ method: 'GET', url: `/v1/templates/${a.tpl}/versions/1` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/templates/${b.tpl}/versions/1` }) },
  'GET /v1/me': { need: 'member', own: () => ({ method: 'GET', url: '/v1/me' }), ok: 200, other: null },
  'GET /v1/models': { need: 'member', own: () => ({ method: 'GET', url: '/v1/models' }), ok: 200, other: null },
  'GET /v1/jobs': { need: 'member', own: () => ({ method: 'GET', url: '/v1/jobs' }), ok: 200, other: () => ({ method: 'GET', url: `/v1/jobs?templateId=${b.tpl}&limit=100` }), otherStatus: 200 },
  'GET /v1/jobs/:id': { need: 'member', own: () => ({ method: 'GET', url: `/v1/jobs/${a.job}` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/jobs/${b.job}` }) },
  'POST /v1/jobs/:id/cancel': { need: 'member', own: () => ({ method: 'POST', url: `/v1/jobs/${a.job}/cancel` }), ok: 409, other: () => ({ method: 'POST', url: `/v1/jobs/${b.job}/cancel` }) },
  'GET /v1/jobs/:id/events': { need: 'member', own: () => ({ method: 'GET', url: `/v1/jobs/${a.job}/events` }), ok: 200, other: () => ({ method: 'GET', url: `/v1/jobs/${b.job}/events` }) },
  'GET /v1/usage': { need: 'member', own: () => ({ method: 'GET', url: '/v1/usage' }), ok: 200, other: () => ({ method: 'GET', url: '/v1/usage' }), otherStatus: 200 },
};

const v1Routes = () => registeredRoutes(t.app).filter((r) => r.url.startsWith('/v1/') && r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`);
const bIds = () => [B, b.tpl, b.job, b.dead, b.key, b.batch, keys.adminB.id];

describe('isolation matrix', () => {
  it('has a row for every /v1 route', () => {
    expect(Object.keys(ROUTES).sort()).toEqual(v1Routes().sort());
  });

  it('no key, a revoked key and an expired key: 401 on every route', async () => {
    for (const route of v1Routes()) {
      const req = await ROUTES[route]!.own();
      for (const [who, headers] of [['none', {}], ['revoked', H(keys.revoked.key)], ['expired', H(keys.expired.key)]] as const) {
        expect((await inject(req, headers)).statusCode, `${who} ${route}`).toBe(401);
      }
    }
  }, 120_000);

  it.each(['memberA', 'adminA'] as const)('%s: own objects as its role allows, B\'s objects as if absent', async (who) => {
    const role = who === 'memberA' ? 'member' : 'admin';
    const headers = H(keys[who].key);
    for (const route of v1Routes()) {
      const row = ROUTES[route]!;
      const allowed = row.need === 'member' || (row.need === 'admin' && role === 'admin');
      const own = await inject(await row.own(), headers);
      expect(own.statusCode, `${who} own ${route}: ${own.body.slice(0, 200)}`).toBe(allowed ? row.ok : 403);
      if (!allowed) continue;
      if (!row.other) {
        // No object to name: naming project B instead is answered as a project that does not exist.
        const res = await inject({ ...(await row.own()), headers: { 'x-promptlab-project': B } }, headers);
        expect([res.statusCode, res.body.includes('project_not_found') || res.body.includes('No project')], `${who} other ${route}`).toEqual([404, true]);
        continue;
      }
      const req = row.other();
      const res = await inject(req, headers);
      expect(res.statusCode, `${who} other ${route}: ${res.body.slice(0, 200)}`).toBe(row.otherStatus ?? 404);
      if (res.statusCode === 404) {
        // Exactly as if absent: the same call naming ids that never existed gets the same answer.
        const fakes = new Map(bIds().map((id) => [id, `${id.slice(0, 4)}absent${id.slice(10)}`]));
        const swap = (text: string, pairs: Map<string, string>) => [...pairs].reduce((acc, [x, y]) => acc.split(x).join(y), text);
        const absent = await inject(JSON.parse(swap(JSON.stringify(req), fakes)) as Req, headers);
        const back = new Map([...fakes].map(([x, y]) => [y, x]));
        expect([absent.statusCode, swap(absent.body, back)], `${who} other ${route}`).toEqual([404, res.body]);
      } else {
        for (const id of bIds()) expect(res.body.includes(id), `${who} other ${route} shows ${id}`).toBe(false);
      }
    }
  }, 120_000);

  it('project B is untouched by everything A tried', async () => {
    const hb = H(keys.adminB.key);
    const tpl = (await t.app.inject({ method: 'GET', url: `/v1/templates/${b.tpl}`, headers: hb })).json();
    expect([tpl.version, tpl.body, tpl.cacheTtlSeconds]).toEqual([1, 'About {{topic}}', null]);
    expect((await t.app.inject({ method: 'GET', url: `/v1/api-keys/${b.key}`, headers: hb })).json()).toMatchObject({ revokedAt: null, prefix: expect.stringMatching(/^pl_live_/) });
    expect((await t.app.inject({ method: 'GET', url: `/v1/jobs/${b.dead}`, headers: hb })).json().status).toBe('dead');
    expect((await t.app.inject({ method: 'GET', url: `/v1/jobs/${b.job}`, headers: hb })).json().status).toBe('completed');
    const again = await t.app.inject({ method: 'POST', url: '/v1/generate', headers: hb, payload: { templateId: b.tpl, variables: { topic: 'b' } } });
    expect([again.statusCode, again.headers['x-cache'], again.json().jobId]).toEqual([200, 'HIT', b.job]);
    const [row] = rowsOf<{ n: number }>(await t.database.db.execute(sql`select count(*)::int as n from audit_log where project_id = ${B} and key_id <> ${'admin'} and key_id <> ${keys.adminB.id}`));
    expect(row!.n).toBe(0);
  });

  it('the admin key reads across projects, and acts in one with X-PromptLab-Project', async () => {
    expect((await t.app.inject({ method: 'GET', url: `/v1/jobs/${b.job}`, headers: t.admin })).statusCode).toBe(200);
    const inA = { ...t.admin, 'x-promptlab-project': A };
    expect((await t.app.inject({ method: 'GET', url: `/v1/jobs/${b.job}`, headers: inA })).statusCode).toBe(404);
    const many = await t.app.inject({ method: 'GET', url: `/v1/jobs?ids=${a.job},${b.job}`, headers: H(keys.memberA.key) });
    expect(many.json().data.map((j: { id: string }) => j.id)).toEqual([a.job]);
    const tpl = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: inA, payload: tplBody });
    expect((await t.app.inject({ method: 'GET', url: `/v1/templates/${tpl.json().id}`, headers: H(keys.memberA.key) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/v1/jobs', headers: { ...t.admin, 'x-promptlab-project': 'prj_nope' } })).statusCode).toBe(404);
  });
});
