import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generations } from '../../src/db/schema.js';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';

let llm: FakeLlm;
let t: TestEnv;
let auth: Record<string, string>;

beforeAll(async () => { llm = await startFakeLlm(); });
afterAll(() => llm.close());
afterEach(() => t?.close());

/** A PromptLab whose openai provider is the fake server, an enterprise key, and an openai template. */
async function setup(env: Record<string, string> = {}) {
  t = await createTestEnv({ OPENAI_API_KEY: 'sk-openai-test-secret', OPENAI_BASE_URL: llm.openaiBaseUrl, ...env });
  auth = await t.keyHeader('enterprise');
  llm.reset();
  llm.setDefault(reply.ok('an answer', { inputTokens: 1000, outputTokens: 500 }));
  const res = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'p', body: 'Say {{input}}', provider: 'openai' } });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

const generate = (templateId: string, model: string, query = '') =>
  t.app.inject({ method: 'POST', url: `/v1/generate${query}`, headers: auth, payload: { templateId, input: 'hi', model } });

const usage = async () => (await t.app.inject({ method: 'GET', url: '/v1/usage', headers: auth })).json();

describe('a model with no price', () => {
  it('is refused with 400 unknown_model: nothing stored, nothing called, not counted', async () => {
    const tpl = await setup();
    t.worker();
    const res = await generate(tpl, 'gpt-17');
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error).toMatchObject({ code: 'unknown_model', details: { provider: 'openai', model: 'gpt-17' } });
    expect(error.message).toMatch(/PRICING_JSON/);
    expect(error.message).toMatch(/ALLOW_UNPRICED_MODELS=true/);
    expect(await t.database.db.select().from(generations)).toHaveLength(0);
    expect(llm.calls).toHaveLength(0);
    expect((await usage()).totals).toMatchObject({ requests: 0, unpriced: 0 });
  });

  it('a dated snapshot of a listed model is priced as that model, not refused', async () => {
    const tpl = await setup();
    expect((await generate(tpl, 'gpt-4o-mini-2024-07-18')).statusCode).toBe(202);
  });

  it('is admitted and charged at its price once PRICING_JSON gives one', async () => {
    const tpl = await setup({ PRICING_JSON: '{"openai":{"gpt-17":{"input":3,"output":6}}}' });
    t.worker();
    const res = await generate(tpl, 'gpt-17');
    expect(res.statusCode).toBe(202);
    const job = await waitForStatus(t.app, auth, res.json().jobId, ['completed']);
    expect(job.costUsd).toBeCloseTo(1000 * 3e-6 + 500 * 6e-6, 9);
    expect(llm.calls.map((c) => c.body.model)).toEqual(['gpt-17']);
  });

  it('under ALLOW_UNPRICED_MODELS runs with cost null, counted as unpriced in /v1/usage', async () => {
    const tpl = await setup({ ALLOW_UNPRICED_MODELS: 'true' });
    t.worker();
    const res = await generate(tpl, 'gpt-17');
    expect(res.statusCode).toBe(202);
    const job = await waitForStatus(t.app, auth, res.json().jobId, ['completed']);
    expect(job).toMatchObject({ status: 'completed', costUsd: null, usage: { inputTokens: 1000, outputTokens: 500 } });
    const [row] = await t.database.db.select().from(generations);
    expect(row).toMatchObject({ unpriced: true, costUsd: 0 });

    const waited = await t.app.inject({ method: 'POST', url: '/v1/generate?wait=10', headers: auth, payload: { templateId: tpl, input: 'again', model: 'gpt-17' } });
    expect(waited.statusCode).toBe(200);
    expect(waited.json()).toMatchObject({ status: 'completed', costUsd: null });

    const { totals, byApiKey, byTemplate } = await usage();
    expect(totals).toMatchObject({ unpriced: 2, costUsd: 0, inputTokens: 2000, outputTokens: 1000 });
    expect(byApiKey[0]).toMatchObject({ unpriced: 2 });
    expect(byTemplate).toEqual([expect.objectContaining({ templateId: tpl, unpriced: 2 })]);
  });
});
