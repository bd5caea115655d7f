import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/redis/keys.js';
import { rowsOf } from '../../src/db/client.js';
import { worstCaseTokens } from '../../src/llm/estimate.js';
import { reply } from '../fakes/llm-server.js';
import { waitForStatus } from '../support/jobs.js';
import { llmEnvPerTest } from '../support/llm-env.js';

const LIMIT = 2500;
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', RATE_LIMIT_TPM_PRO: String(LIMIT), JOB_BACKOFF_MS: '20' });

/** What generate holds for `About t<i>` (every prompt here is that long) at maxTokens 1000: 9 + 16 + 1000. */
const EST = ((w) => w.inputTokens + w.outputTokens)(worstCaseTokens({ messages: [{ role: 'user', content: 'About t00' }], params: { maxTokens: 1000 } }));

async function proKey(budgets?: unknown): Promise<{ id: string; auth: Record<string, string> }> {
  const res = await e.t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: e.t.admin, payload: { name: 'tpm', tier: 'pro', ...(budgets ? { budgets } : {}) } });
  expect(res.statusCode).toBe(201);
  return { id: res.json().id, auth: { authorization: `Bearer ${res.json().key}` } };
}
const template = async (auth: Record<string, string>) =>
  (await e.t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 't', body: 'About {{topic}}', provider: 'anthropic', maxTokens: 1000 } })).json().id as string;
const generate = (auth: Record<string, string>, templateId: string, topic: string, query = '') =>
  e.t.app.inject({ method: 'POST', url: `/v1/generate${query}`, headers: auth, payload: { templateId, variables: { topic } } });

/** The key's token window as Redis holds it: reservation times and tokens. */
async function window(keyId: string) {
  const key = redisKeys(e.t.config.REDIS_PREFIX).tokens(keyId)[0];
  return { times: await e.t.redis.zrange(key, '0', '-1', 'WITHSCORES'), tokens: await e.t.redis.hgetall(`${key}:n`) };
}
const held = async (keyId: string) => Number((await window(keyId)).tokens['#'] ?? 0);


describe('tokens per window at POST /v1/generate', () => {
  it(`past ${LIMIT} tokens: 429 rate_limited, dimension tokens, Retry-After; nothing stored or called`, async () => {
    const { id, auth } = await proKey();
    const tpl = await template(auth);
    expect((await generate(auth, tpl, 't01')).statusCode).toBe(202);
    expect((await generate(auth, tpl, 't02')).statusCode).toBe(202);
    const over = await generate(auth, tpl, 't03');
    expect(over.statusCode).toBe(429);
    const { error } = over.json();
    expect(error).toMatchObject({ code: 'rate_limited', details: { dimension: 'tokens', limit: LIMIT, requestedTokens: EST, windowTokens: 2 * EST } });
    const retryAfter = Number(over.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(Date.parse(error.details.resetAt)).toBeGreaterThan(Date.now() + 58_000);
    const rows = rowsOf<{ n: number }>(await e.t.database.db.execute(sql`select count(*)::int as n from generations where api_key_id = ${id}`));
    expect(rows[0]!.n).toBe(2);
    expect(e.llm.calls).toHaveLength(0);
    expect(await held(id)).toBe(2 * EST);
  });

  it('a request that joins an in-flight generation gives its hold back', async () => {
    const { id, auth } = await proKey();
    const tpl = await template(auth);
    const [a, b] = await Promise.all([generate(auth, tpl, 't04'), generate(auth, tpl, 't04')]);
    expect(a.json().jobId).toBe(b.json().jobId);
    const w = await window(id);
    expect(w.times).toEqual([a.json().jobId, expect.any(String)]); // one hold, named by the generation id
    expect(await held(id)).toBe(EST);
  });

  it('a cache hit never touches the window', async () => {
    const { id, auth } = await proKey();
    e.t.worker();
    const tpl = await template(auth);
    expect((await generate(auth, tpl, 't05', '?wait=10')).json()).toMatchObject({ status: 'completed' });
    const before = await window(id);
    const hit = await generate(auth, tpl, 't05');
    expect(hit.statusCode).toBe(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(await window(id)).toEqual(before);
  });

  it('a budget refusal gives the token hold back', async () => {
    const { id, auth } = await proKey([{ usd: 1e-9, period: 'day' }]);
    const tpl = await template(auth);
    expect((await generate(auth, tpl, 't06')).statusCode).toBe(402);
    expect(await held(id)).toBe(0);
  });

  it('the worker reconciles a completed job to the tokens used, so more fits; a dead job that used none gives all back', async () => {
    const { id, auth } = await proKey();
    const first = e.t.worker();
    const tpl = await template(auth);
    e.llm.script(reply.ok('short', { inputTokens: 7, outputTokens: 3 }));
    const done = (await generate(auth, tpl, 't07', '?wait=10')).json();
    expect(done).toMatchObject({ status: 'completed', usage: { totalTokens: 10 } });
    await expect.poll(async () => (await window(id)).tokens[done.jobId]).toBe('10');
    expect(await held(id)).toBe(10);
    // 10 + 2 × 1025 fits 2500 now; the estimate would not have.
    const more = [await generate(auth, tpl, 't08'), await generate(auth, tpl, 't09')];
    expect(more.map((r) => r.statusCode)).toEqual([202, 202]);
    for (const r of more) await waitForStatus(e.t.app, auth, r.json().jobId, ['completed']);
    await first.close();

    const other = await proKey();
    e.t.worker();
    const tpl2 = await template(other.auth);
    e.llm.script(reply.error(400, 'bad request'));
    const dead = await generate(other.auth, tpl2, 't10', '?wait=10');
    expect(dead.statusCode).toBe(400); // the provider refused the request: generation_unrecoverable, no SDK retries it
    expect(dead.json().error.details.job.status).toBe('dead');
    await expect.poll(() => held(other.id)).toBe(0);
  });

  it('a retry keeps the hold; the completion sets it to the tokens of every attempt', async () => {
    const { id, auth } = await proKey();
    e.t.worker();
    const tpl = await template(auth);
    e.llm.script(reply.error(500), reply.ok('second time', { inputTokens: 7, outputTokens: 3 }));
    const { jobId } = (await generate(auth, tpl, 't11')).json();
    const done = await waitForStatus(e.t.app, auth, jobId, ['completed', 'dead']);
    expect(done).toMatchObject({ status: 'completed', attempts: 2 });
    expect(e.llm.calls).toHaveLength(2);
    // Written as the job settles, beside the cache and the event: the row may show completed a moment before.
    await expect.poll(async () => (await window(id)).tokens[jobId]).toBe(String(done.usage.totalTokens));
  });
});
