import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/client.js';
import { priceFor } from '../../src/providers/prices.js';
import { worstCaseUsd } from '../../src/spend/budgets.js';
import { reply } from '../fakes/llm-server.js';
import { waitForStatus } from '../support/jobs.js';
import { llmEnvPerTest } from '../support/llm-env.js';

const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', ALLOW_UNPRICED_MODELS: 'true', JOB_BACKOFF_MS: '20' });

const HAIKU = priceFor('anthropic', 'claude-haiku-4-5')!;
/** The worst case PromptLab reserves for `About t<i>` at maxTokens 1000 (all prompts of these tests are that long). */
const WORST = worstCaseUsd(HAIKU, { messages: [{ role: 'user', content: 'About t00' }], params: { maxTokens: 1000 } });

async function keyWithBudget(usd: number): Promise<{ id: string; auth: Record<string, string> }> {
  const res = await e.t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: e.t.admin, payload: { name: 'b', tier: 'pro', budgets: [{ usd, period: 'day' }] } });
  expect(res.statusCode).toBe(201);
  return { id: res.json().id, auth: { authorization: `Bearer ${res.json().key}` } };
}
const template = async (auth: Record<string, string>, extra: Record<string, unknown> = {}) =>
  (await e.t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'b', body: 'About {{topic}}', provider: 'anthropic', maxTokens: 1000, ...extra } })).json().id as string;
const generate = (auth: Record<string, string>, templateId: string, topic: string, extra: Record<string, unknown> = {}) =>
  e.t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId, variables: { topic }, ...extra } });
const usage = async (keyId: string) => rowsOf<{ spent: number; reserved: number }>(await e.t.database.db.execute(
  sql`select spent_usd::float8 as spent, reserved_usd::float8 as reserved from budget_usage where scope_id = ${keyId}`))[0];

describe('budgets', () => {
  it('50 concurrent distinct requests against a budget that holds 10 worst cases: 10 admitted, 40 × 402, and the holds give way to the real cost', async () => {
    const { id, auth } = await keyWithBudget(WORST * 10 + 1e-9);
    const tpl = await template(auth);
    e.llm.setDefault(reply.ok('cheap', { inputTokens: 10, outputTokens: 5 }));
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => generate(auth, tpl, `t${String(i).padStart(2, '0')}`)));
    const admitted = answers.filter((a) => a.statusCode === 202);
    expect(admitted).toHaveLength(10);
    const refused = answers.filter((a) => a.statusCode === 402);
    expect(refused).toHaveLength(40);
    expect(refused[0]!.json().error).toMatchObject({ code: 'budget_exceeded', details: { period: 'day', scope: 'api_key' } });
    expect(refused[0]!.json().error.details.reservedUsd).toBeCloseTo(WORST * 10, 9);
    expect(await e.t.database.db.execute(sql`select count(*)::int as n from generations`).then((r) => rowsOf<{ n: number }>(r)[0]!.n)).toBe(10);

    e.t.worker();
    for (const a of admitted) await waitForStatus(e.t.app, e.auth, a.json().jobId, ['completed']);
    expect(e.llm.calls).toHaveLength(10);
    const after = (await usage(id))!;
    const cost = 10 * (10 * 1e-6 + 5 * 5e-6);
    expect(after.reserved).toBe(0);
    expect(after.spent).toBeCloseTo(cost, 9);
    const view = (await e.t.app.inject({ method: 'GET', url: `/v1/api-keys/${id}`, headers: e.t.admin })).json();
    expect(view.budgets[0]).toMatchObject({ period: 'day', reservedUsd: 0 });
    expect(view.budgets[0].spentUsd).toBeCloseTo(cost, 9);
    expect(view.budgets[0].remainingUsd).toBeCloseTo(WORST * 10 - cost, 8);
    // Room again: the holds were worst cases, the spend is far less.
    expect((await generate(auth, tpl, 'tzz')).statusCode).toBe(202);
  });

  it('cache hits and joins are free: a second key joining or hitting never touches its budget', async () => {
    const { id, auth } = await keyWithBudget(WORST * 1.5);
    const tpl = await template(e.auth);
    e.t.worker();
    const first = await generate(e.auth, tpl, 't01', {});
    const joined = await generate(auth, tpl, 't01');
    expect(joined.json().jobId).toBe(first.json().jobId);
    await waitForStatus(e.t.app, e.auth, first.json().jobId, ['completed']);
    expect((await generate(auth, tpl, 't01')).json()).toMatchObject({ cached: true });
    expect((await usage(id)) ?? { spent: 0, reserved: 0 }).toMatchObject({ spent: 0, reserved: 0 });
  });

  it('a retry holds its worst case again: when the budget can no longer hold it the job ends budget_exceeded, charged for what it cost', async () => {
    // Holds the first attempt's worst case, but not what that attempt cost plus a second worst case.
    const { id, auth } = await keyWithBudget(WORST * 1.2);
    const tpl = await template(auth, { outputSchema: { type: 'object' } });
    // Not JSON: a failed attempt the provider charged for, 400 tokens out.
    e.llm.setDefault(reply.ok('not json', { inputTokens: 10, outputTokens: 400 }));
    e.t.worker();
    const job = await waitForStatus(e.t.app, auth, (await generate(auth, tpl, 't02')).json().jobId, ['dead', 'completed']);
    const charged = 10 * 1e-6 + 400 * 5e-6;
    expect(job).toMatchObject({ status: 'dead', attempts: 1, error: { code: 'budget_exceeded' } });
    expect(job.costUsd).toBeCloseTo(charged, 9);
    expect(e.llm.calls).toHaveLength(1);
    const u = (await usage(id))!;
    expect(u.reserved).toBe(0);
    expect(u.spent).toBeCloseTo(charged, 9);
  });

  it('a model with no price is refused where a budget applies, admitted where none does', async () => {
    const { auth } = await keyWithBudget(1);
    const tpl = await template(auth);
    const res = await generate(auth, tpl, 't03', { model: 'claude-unpriced-9' });
    expect(res.statusCode).toBe(402);
    expect(res.json().error).toMatchObject({ code: 'budget_exceeded', message: expect.stringContaining('no price') });
    expect((await generate(e.auth, tpl, 't03', { model: 'claude-unpriced-9' })).statusCode).toBe(202);
  });

  it('PATCH sets, changes and removes budgets; a period named twice is a 400', async () => {
    const { id } = await keyWithBudget(1);
    const patch = (budgets: unknown) => e.t.app.inject({ method: 'PATCH', url: `/v1/api-keys/${id}`, headers: e.t.admin, payload: { budgets } });
    const both = await patch([{ usd: 2, period: 'day' }, { usd: 30, period: 'month' }]);
    expect(both.statusCode).toBe(200);
    expect(both.json().budgets.map((b: { period: string; usd: number }) => [b.period, b.usd])).toEqual([['day', 2], ['month', 30]]);
    expect((await patch([{ usd: 2, period: 'day' }, { usd: 3, period: 'day' }])).statusCode).toBe(400);
    expect((await patch([])).json().budgets).toEqual([]);
  });

  it('a template budget holds across keys; setting it needs a project admin and leaves the template version alone', async () => {
    const tpl = await template(e.auth);
    const put = (headers: Record<string, string>, budgets: unknown) =>
      e.t.app.inject({ method: 'PUT', url: `/v1/templates/${tpl}/budgets`, headers, payload: { budgets } });
    const member = (await e.t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: e.t.admin, payload: { name: 'm', role: 'member' } })).json().key;
    expect((await put({ authorization: `Bearer ${member}` }, [{ usd: 1, period: 'day' }])).statusCode).toBe(403);
    const set = await put(e.t.admin, [{ usd: WORST * 3 + 1e-9, period: 'month' }]);
    expect(set.statusCode).toBe(200);
    expect(set.json().budgets).toMatchObject([{ period: 'month', spentUsd: 0, reservedUsd: 0 }]);
    const other = await e.t.keyHeader('enterprise');
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => generate(i % 2 ? e.auth : other, tpl, `t${String(i).padStart(2, '0')}`)));
    expect(answers.filter((a) => a.statusCode === 202)).toHaveLength(3);
    expect(answers.filter((a) => a.statusCode === 402).map((a) => a.json().error.details.scope)).toEqual(['template', 'template', 'template']);
    const got = (await e.t.app.inject({ method: 'GET', url: `/v1/templates/${tpl}/budgets`, headers: e.auth })).json();
    expect(got.budgets[0].reservedUsd).toBeCloseTo(WORST * 3, 9);
    expect((await e.t.app.inject({ method: 'GET', url: `/v1/templates/${tpl}`, headers: e.auth })).json().version).toBe(1);
    expect((await e.t.app.inject({ method: 'GET', url: '/v1/templates/tpl_nope/budgets', headers: e.auth })).statusCode).toBe(404);
  });
});
