import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';

let llm: FakeLlm;
let t: TestEnv;
beforeAll(async () => {
  llm = await startFakeLlm();
  t = await createTestEnv({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl, JOB_ATTEMPTS: '1' });
  t.worker();
});
afterAll(async () => {
  await t.close();
  await llm.close();
});

const H = (key: string, requestId: string) => ({ authorization: `Bearer ${key}`, 'x-request-id': requestId });

describe('audit log', () => {
  it('one row per administrative action: who, what, target, when, request id; project admins read their project\'s only', async () => {
    const started = new Date().toISOString();
    const call = async (method: string, url: string, headers: Record<string, string>, payload?: object) => {
      const res = await t.app.inject({ method: method as 'GET', url, headers, ...(payload ? { payload } : {}) });
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
      return res.body ? res.json() : null;
    };
    const p = await call('POST', '/v1/projects', { ...t.admin, 'x-request-id': 'r-project' }, { name: 'P' });
    await call('PATCH', `/v1/projects/${p.id}`, { ...t.admin, 'x-request-id': 'r-rename' }, { name: 'P2' });
    const admin = await call('POST', '/v1/api-keys', { ...t.admin, 'x-request-id': 'r-key' }, { name: 'a', projectId: p.id, tier: 'enterprise' });
    const member = await call('POST', '/v1/api-keys', H(admin.key, 'r-member'), { name: 'm', role: 'member' });
    await call('PATCH', `/v1/api-keys/${member.id}`, H(admin.key, 'r-budget'), { budgets: [{ usd: 5, period: 'day' }] });
    await call('PATCH', `/v1/api-keys/${member.id}`, { ...t.admin, 'x-request-id': 'r-models' }, { allowedModels: ['anthropic/*'] });
    await call('POST', `/v1/api-keys/${member.id}/rotate`, H(admin.key, 'r-rotate'), { graceSeconds: 0 });
    await call('DELETE', `/v1/api-keys/${member.id}`, H(admin.key, 'r-revoke'));
    const tpl = await call('POST', '/v1/templates', H(admin.key, 'r-tpl'), { name: 't', body: 'About {{topic}}', provider: 'anthropic' });
    await call('PUT', `/v1/templates/${tpl.id}/budgets`, H(admin.key, 'r-tbudget'), { budgets: [{ usd: 1, period: 'month' }] });
    llm.script(reply.error(400, 'no'));
    const gen = await call('POST', '/v1/generate', H(admin.key, 'r-gen'), { templateId: tpl.id, variables: { topic: 'x' } });
    await waitForStatus(t.app, { authorization: `Bearer ${admin.key}` }, gen.jobId, ['dead']);
    await call('POST', `/v1/admin/dead-letters/${gen.jobId}/replay`, H(admin.key, 'r-replay'));
    await call('DELETE', '/v1/admin/cache', H(admin.key, 'r-cache'));
    await call('DELETE', `/v1/templates/${tpl.id}`, H(admin.key, 'r-deltpl'));
    await call('DELETE', '/v1/admin/cache', { ...t.admin, 'x-request-id': 'r-global-cache' });

    const all = (await call('GET', `/v1/audit?from=${started}`, t.admin)).data as { action: string; keyId: string; target: string | null; requestId: string; projectId: string | null; at: string }[];
    const seen = all.map((r) => [r.requestId, r.action, r.keyId, r.target, r.projectId]).reverse();
    expect(seen).toEqual([
      ['r-project', 'project.created', 'admin', p.id, p.id],
      ['r-rename', 'project.changed', 'admin', p.id, p.id],
      ['r-key', 'api_key.created', 'admin', admin.id, p.id],
      ['r-member', 'api_key.created', admin.id, member.id, p.id],
      ['r-budget', 'budget.changed', admin.id, member.id, p.id],
      ['r-models', 'api_key.changed', 'admin', member.id, p.id],
      ['r-rotate', 'api_key.rotated', admin.id, member.id, p.id],
      ['r-revoke', 'api_key.revoked', admin.id, member.id, p.id],
      ['r-tbudget', 'budget.changed', admin.id, tpl.id, p.id],
      ['r-replay', 'dead_letter.replayed', admin.id, gen.jobId, p.id],
      ['r-cache', 'cache.cleared', admin.id, null, p.id],
      ['r-deltpl', 'template.deleted', admin.id, tpl.id, p.id],
      ['r-global-cache', 'cache.cleared', 'admin', null, null],
    ]);
    expect(all.every((r) => Math.abs(Date.parse(r.at) - Date.now()) < 60_000)).toBe(true);

    // The project admin: its project's rows only; filters by action; pages with a cursor.
    const mine = await call('GET', '/v1/audit?limit=3', { authorization: `Bearer ${admin.key}` });
    expect(mine.data.map((r: { projectId: string }) => r.projectId)).toEqual([p.id, p.id, p.id]);
    const next = await call('GET', `/v1/audit?limit=100&cursor=${mine.nextCursor}`, { authorization: `Bearer ${admin.key}` });
    expect(mine.data.length + next.data.length).toBe(12);
    const revokes = await call('GET', '/v1/audit?action=api_key.revoked', { authorization: `Bearer ${admin.key}` });
    expect(revokes.data.map((r: { target: string }) => r.target)).toEqual([member.id]);
    const asMember = await t.app.inject({ method: 'GET', url: '/v1/audit', headers: { authorization: `Bearer ${(await call('POST', '/v1/api-keys', t.admin, { name: 'x', role: 'member' })).key}` } });
    expect(asMember.statusCode).toBe(403);
  }, 60_000);
});
