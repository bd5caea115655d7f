import { describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { waitForStatus } from '../support/jobs.js';
import { llmEnvPerTest } from '../support/llm-env.js';

// One attempt per job, so the fake server's count is exact.
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-redos', WORKER_CONCURRENCY: '4', JOB_ATTEMPTS: '1' });

const REDOS = { type: 'object', required: ['note'], properties: { note: { type: 'string', pattern: '(\\.+)+!' } } };

const createTemplate = (headers: Record<string, string>, payload: Record<string, unknown>) =>
  e.t.app.inject({ method: 'POST', url: '/v1/templates', headers, payload: { name: 't', provider: 'anthropic', ...payload } });

const listTemplates = async () => (await e.t.app.inject({ method: 'GET', url: '/v1/templates', headers: e.auth })).json().data as unknown[];

describe('a user regex never blocks a worker', () => {
  it('the ReDoS template is accepted; its job fails validation while 5 ordinary jobs on the same worker complete', async () => {
    const free = await e.t.keyHeader('free');
    const redos = await createTemplate(free, { body: 'Write dots about {{topic}}', outputSchema: REDOS });
    expect(redos.statusCode).toBe(201);
    const plain = await createTemplate(e.auth, { body: 'Tell me about {{topic}}' });
    expect(plain.statusCode).toBe(201);
    // Every answer is 50,000 dots in the schema's string field: backtracking on it would never end.
    e.llm.setDefault(reply.ok(JSON.stringify({ note: '.'.repeat(50_000) })));

    const generate = (headers: Record<string, string>, templateId: string, topic: string) =>
      e.t.app.inject({ method: 'POST', url: '/v1/generate', headers, payload: { templateId, variables: { topic } } });
    const bad = await generate(free, redos.json().id, 'redos');
    expect(bad.statusCode).toBe(202);
    const topics = ['a', 'b', 'c', 'd', 'e'].map((x) => `ordinary ${x}`);
    const ordinary = await Promise.all(topics.map((topic) => generate(e.auth, plain.json().id, topic)));
    expect(ordinary.map((r) => r.statusCode)).toEqual(Array(5).fill(202));
    e.t.worker();

    const done = await Promise.all(ordinary.map((r) => waitForStatus(e.t.app, e.auth, r.json().jobId, ['completed', 'dead'])));
    expect(done.map((j) => j.status)).toEqual(Array(5).fill('completed'));
    // Polled with the enterprise key: the free tier's 10 requests a minute would run out while the validator thread starts.
    const dead = await waitForStatus(e.t.app, e.auth, bad.json().jobId, ['completed', 'dead']);
    expect(dead).toMatchObject({ status: 'dead', attempts: 1, error: { code: 'output_invalid' } });

    expect(e.llm.calls).toHaveLength(6);
    expect(e.llm.calls.map((c) => c.prompt).sort()).toEqual(['Write dots about redos', ...topics.map((t) => `Tell me about ${t}`)].sort());
  });

  it('POST with a backreference or lookahead pattern is a 400 invalid_template, storing nothing', async () => {
    for (const pattern of ['^(a+)\\1$', '^(?=x)']) {
      const res = await createTemplate(e.auth, { body: 'hi', outputSchema: { type: 'string', pattern } });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'invalid_template', message: expect.stringContaining('RE2'), details: { pattern } });
    }
    expect(await listTemplates()).toHaveLength(0);
  });

  it('PATCH to an unsupported pattern or an oversize schema is a 400 and leaves the template as it was', async () => {
    const tpl = (await createTemplate(e.auth, { body: 'hi', outputSchema: { type: 'object' } })).json();
    const patch = (outputSchema: Record<string, unknown>) =>
      e.t.app.inject({ method: 'PATCH', url: `/v1/templates/${tpl.id}`, headers: e.auth, payload: { outputSchema } });
    const backref = await patch({ type: 'string', pattern: '(x)\\1' });
    expect(backref.statusCode).toBe(400);
    expect(backref.json().error.code).toBe('invalid_template');
    const big = await patch({ type: 'string', description: 'x'.repeat(70_000) });
    expect(big.statusCode).toBe(400);
    expect(big.json().error).toMatchObject({ code: 'invalid_template', details: { limit: 65_536 } });
    const now = (await e.t.app.inject({ method: 'GET', url: `/v1/templates/${tpl.id}`, headers: e.auth })).json();
    expect(now).toMatchObject({ version: 1, outputSchema: { type: 'object' } });
  });

  it('POST with an oversize or too deep schema is a 400 invalid_template, storing nothing', async () => {
    const big = await createTemplate(e.auth, { body: 'hi', outputSchema: { type: 'object', properties: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`field_${i}`, { type: 'string' }])) } });
    expect(big.statusCode).toBe(400);
    expect(big.json().error).toMatchObject({ code: 'invalid_template', message: expect.stringMatching(/bytes of JSON; the limit is 65536/) });
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 20; i++) deep = { type: 'object', properties: { a: deep } };
    const tooDeep = await createTemplate(e.auth, { body: 'hi', outputSchema: deep });
    expect(tooDeep.statusCode).toBe(400);
    expect(tooDeep.json().error.code).toBe('invalid_template');
    expect(await listTemplates()).toHaveLength(0);
  });
});
