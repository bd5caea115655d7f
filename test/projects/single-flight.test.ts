import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';

let llm: FakeLlm;
let t: TestEnv;
beforeAll(async () => { llm = await startFakeLlm(); });
afterAll(() => llm.close());
afterEach(() => t?.close());

const H = (key: string) => ({ authorization: `Bearer ${key}` });
async function projectKey(name: string) {
  const id = (await t.app.inject({ method: 'POST', url: '/v1/projects', headers: t.admin, payload: { name } })).json().id;
  return (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name, projectId: id, tier: 'enterprise' } })).json().key as string;
}

describe('one generation per input inside a project, never across projects', () => {
  it('20 identical calls in each of two projects (two keys each): two provider calls, one job per project', async () => {
    t = await createTestEnv({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl });
    t.worker();
    const a1 = await projectKey('A');
    const b1 = await projectKey('B');
    const mint = async (key: string) => (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: H(key), payload: { name: 'second', role: 'member' } })).json().key as string;
    const [a2, b2] = [await mint(a1), await mint(b1)];
    llm.reset();
    llm.setDefault(reply.slow(300, reply.ok('same answer')));
    const body = { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'the same question' }], max_tokens: 32 };
    const call = (key: string) => t.app.inject({ method: 'POST', url: '/v1/messages', headers: { 'x-api-key': key }, payload: body });
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => call([a1, a2, b1, b2][i % 4]!)));
    expect(answers.map((r) => r.statusCode).every((s) => s === 200)).toBe(true);
    expect(llm.calls).toHaveLength(2);
    // Every call was answered by its own project's one generation.
    const jobsOf = async (key: string) => (await t.app.inject({ method: 'GET', url: '/v1/jobs', headers: H(key) })).json().data as { id: string; inputHash: string }[];
    const [ja, jb] = [await jobsOf(a2), await jobsOf(b2)];
    expect([ja.length, jb.length]).toEqual([1, 1]);
    expect(ja[0]!.id).not.toBe(jb[0]!.id);
    expect(ja[0]!.inputHash).not.toBe(jb[0]!.inputHash);
    // And a later call in each project is a cache hit on its own project's result.
    await call(a1);
    await call(b2);
    expect(llm.calls).toHaveLength(2);
  }, 60_000);

  it('a template generation: identical inputs share one job inside the project; an Idempotency-Key never replays across projects for the admin key', async () => {
    t = await createTestEnv({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl });
    t.worker();
    const a = await projectKey('A');
    const tpl = (await t.app.inject({ method: 'POST', url: '/v1/templates', headers: H(a), payload: { name: 't', body: 'About {{topic}}', provider: 'anthropic' } })).json().id;
    llm.reset();
    llm.setDefault(reply.slow(200, reply.ok('x')));
    const gens = await Promise.all(Array.from({ length: 10 }, () => t.app.inject({ method: 'POST', url: '/v1/generate', headers: H(a), payload: { templateId: tpl, variables: { topic: 'same' } } })));
    expect(new Set(gens.map((g) => g.json().jobId)).size).toBe(1);
    await waitForStatus(t.app, H(a), gens[0]!.json().jobId, ['completed']);
    expect(llm.calls).toHaveLength(1);

    const bId = (await t.app.inject({ method: 'POST', url: '/v1/projects', headers: t.admin, payload: { name: 'B2' } })).json().id;
    const body = { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'idem' }], max_tokens: 8 };
    const inProject = (p: string) => t.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { ...t.admin, 'x-promptlab-project': p, 'idempotency-key': 'k1' }, payload: body });
    const first = await inProject('default');
    const other = await inProject(bId);
    expect([first.statusCode, other.statusCode]).toEqual([200, 200]);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(llm.calls).toHaveLength(3);
  }, 60_000);
});
