import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { reply } from './fakes/llm-server.js';
import { waitForStatus } from './support/jobs.js';
import { llmEnvPerTest } from './support/llm-env.js';
import { commandsSent } from './support/commands.js';

const env = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test-secret' });

async function template(extra: Record<string, unknown> = {}) {
  return (await env.t.app.inject({ method: 'POST', url: '/v1/templates', headers: env.auth, payload: { name: 'c', body: 'About {{topic}}', provider: 'anthropic', ...extra } })).json().id as string;
}
const generate = (templateId: string, topic: string, headers: Record<string, string> = {}, query = '', as = env.auth) =>
  env.t.app.inject({ method: 'POST', url: `/v1/generate${query}`, headers: { ...as, ...headers }, payload: { templateId, variables: { topic } } });

describe('two-tier cache', () => {
  it('the Redis lookups of one turn go as one MGET, each answered with its own entry', async () => {
    const { cache } = env.t.app.svc;
    const redis = env.t.redis;
    const entry = (i: number) => ({ jobId: `gen_mget${i}`, result: { text: `answer ${i}` }, usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }, costUsd: 0, provider: 'fake', model: 'm', storedAt: Date.now() });
    const hashes = [0, 1, 2, 3, 4].map((i) => `mget-${i}-${Date.now()}`);
    await cache.set(hashes[0]!, entry(0), 60);
    await cache.set(hashes[2]!, entry(2), 60);
    await cache.set(hashes[4]!, { ...entry(4), result: { text: 'y'.repeat(5000) } }, 60); // stored deflated
    let found: Awaited<ReturnType<typeof cache.get>>[] = [];
    const sent = await commandsSent(redis, async () => {
      found = await Promise.all(hashes.map((h) => cache.get(h)));
    });
    expect(sent).toEqual(['mget']);
    expect(found.map((f) => f?.value.result.text.slice(0, 8))).toEqual(['answer 0', undefined, 'answer 2', undefined, 'yyyyyyyy']);
    expect(found.map((f) => f?.tier)).toEqual(['redis', undefined, 'redis', undefined, 'redis']);
  });

  it('answers from Redis, then from process memory; large results are stored deflated', async () => {
    env.t.worker();
    const big = 'x'.repeat(5000);
    env.llm.script(reply.ok(big));
    const tpl = await template();
    const first = (await generate(tpl, 'big', {}, '?wait=10')).json();
    const raw = (await env.t.redis.getBuffer(`${env.t.config.REDIS_PREFIX}:cache:${(await env.t.app.inject({ method: 'GET', url: `/v1/jobs/${first.jobId}`, headers: env.auth })).json().inputHash}`))!;
    expect(raw[0]).toBe(0x01);
    expect(raw.length).toBeLessThan(1000);
    const a = await generate(tpl, 'big');
    expect([a.headers['x-cache'], a.headers['x-cache-tier']]).toEqual(['HIT', 'redis']);
    expect(a.json().result.text).toBe(big);
    const hits = async () => Number(/promptlab_cache_requests_total\{result="hit",tier="local"\} (\S+)/.exec((await env.t.app.inject({ url: '/metrics' })).body)?.[1] ?? 0);
    const before = await hits();
    const b = await generate(tpl, 'big');
    expect([b.headers['x-cache'], b.headers['x-cache-tier']]).toEqual(['HIT', 'local']);
    expect(await hits()).toBe(before + 1);
    expect(env.llm.calls).toHaveLength(1);
  });

  it('expires with the template TTL', async () => {
    env.t.worker();
    const tpl = await template({ cacheTtlSeconds: 1 });
    const first = (await generate(tpl, 'ttl', {}, '?wait=10')).json();
    expect((await generate(tpl, 'ttl')).headers['x-cache']).toBe('HIT');
    await new Promise((r) => setTimeout(r, 1100));
    const after = await generate(tpl, 'ttl');
    expect(after.statusCode).toBe(202);
    expect(after.json().jobId).not.toBe(first.jobId);
  });

  it('admin clears one entry or all, everywhere, and says how many', async () => {
    env.t.worker();
    const tpl = await template();
    const a = (await generate(tpl, 'one', {}, '?wait=10')).json();
    await generate(tpl, 'two', {}, '?wait=10');
    const hash = (await env.t.app.inject({ method: 'GET', url: `/v1/jobs/${a.jobId}`, headers: env.auth })).json().inputHash;
    expect((await generate(tpl, 'one')).headers['x-cache-tier']).toBe('redis');
    const member = await env.t.keyHeader('pro', 'member');
    expect((await env.t.app.inject({ method: 'DELETE', url: `/v1/admin/cache/${hash}`, headers: member })).statusCode).toBe(403);
    const one = await env.t.app.inject({ method: 'DELETE', url: `/v1/admin/cache/${hash}`, headers: env.t.admin });
    expect(one.json()).toEqual({ removed: 1 });
    expect((await generate(tpl, 'one')).statusCode).toBe(202); // not served from memory either
    const all = await env.t.app.inject({ method: 'DELETE', url: '/v1/admin/cache', headers: env.t.admin });
    expect(all.json().removed).toBeGreaterThanOrEqual(1);
    expect((await generate(tpl, 'two')).statusCode).toBe(202);
  });
});

describe('Idempotency-Key', () => {
  it('a repeat returns the first response, even after the cache entry is gone and the job failed', async () => {
    env.t.worker();
    env.llm.script(reply.unauthorized());
    const tpl = await template();
    const first = await generate(tpl, 'idem', { 'idempotency-key': 'order-1' });
    expect(first.statusCode).toBe(202);
    // The key remembers a SHA-256 of the payload, not the payload itself.
    const stored = (await env.t.database.db.execute(sql`select request_hash from idempotency_keys where key = 'order-1'`)) as unknown as { rows: { request_hash: string }[] };
    expect(stored.rows.map((r) => r.request_hash)).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    await waitForStatus(env.t.app, env.auth, first.json().jobId, ['dead']);
    const again = await generate(tpl, 'idem', { 'idempotency-key': 'order-1' });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(env.llm.calls).toHaveLength(1);
    // Another key's identical Idempotency-Key is its own.
    const other = await generate(tpl, 'idem', { 'idempotency-key': 'order-1' }, '', await env.t.keyHeader('pro'));
    expect(other.headers['idempotent-replayed']).toBeUndefined();
  });

  it('a different payload under the same key is a 422; nothing is admitted', async () => {
    const tpl = await template();
    await generate(tpl, 'a', { 'idempotency-key': 'k2' });
    const res = await generate(tpl, 'b', { 'idempotency-key': 'k2' });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('idempotency_key_reused');
    const [{ n }] = ((await env.t.database.db.execute(sql`select count(*)::int as n from generations`)) as unknown as { rows: [{ n: number }] }).rows;
    expect(n).toBe(1);
  });

  it('a repeat while the first is still being admitted is a 409', async () => {
    env.t.worker();
    env.llm.script(reply.slow(800));
    const tpl = await template();
    const first = generate(tpl, 'busy', { 'idempotency-key': 'k3' }, '?wait=5');
    await new Promise((r) => setTimeout(r, 200));
    const second = await generate(tpl, 'busy', { 'idempotency-key': 'k3' });
    expect(second.statusCode).toBe(409);
    expect(second.json().error.code).toBe('idempotency_key_in_progress');
    expect((await first).statusCode).toBe(200);
    const third = await generate(tpl, 'busy', { 'idempotency-key': 'k3' }, '?wait=5');
    expect(third.json()).toEqual((await first).json());
  });

  it('a request that fails validation frees its key', async () => {
    const tpl = await template();
    const bad = await env.t.app.inject({ method: 'POST', url: '/v1/generate', headers: { ...env.auth, 'idempotency-key': 'k4' }, payload: { templateId: tpl, variables: {} } });
    expect(bad.statusCode).toBe(400);
    const good = await env.t.app.inject({ method: 'POST', url: '/v1/generate', headers: { ...env.auth, 'idempotency-key': 'k4' }, payload: { templateId: tpl, variables: { topic: 'x' } } });
    expect(good.statusCode).toBe(202);
  });
});

describe('spend accounting', () => {
  it('usage totals equal the sum of generations after a mixed workload', async () => {
    const w = env.t.worker();
    const other = await env.t.keyHeader('pro', 'member');
    const schema = { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } };
    const [plain, json] = [await template(), await template({ outputSchema: schema })];
    env.llm.setDefault(reply.ok('plain answer', { inputTokens: 1000, outputTokens: 200 }));
    const responses = [];
    for (const [tpl, topic, as] of [[plain, 'a', env.auth], [plain, 'b', env.auth], [plain, 'a', other], [plain, 'a', env.auth], [plain, 'b', other]] as const) {
      responses.push(await generate(tpl, topic, {}, '?wait=10', as));
    }
    env.llm.script(reply.ok('not json', { inputTokens: 300, outputTokens: 30 }), reply.ok('{"n": "x"}', { inputTokens: 300, outputTokens: 30 }), reply.ok('{"n": 1}', { inputTokens: 300, outputTokens: 30 }));
    responses.push(await generate(json, 'j', {}, '?wait=10'));
    responses.push(await generate(plain, 'a', { 'cache-control': 'no-cache' }, '?wait=10', other));
    await w.close(); // flushes the worker's counters
    const hits = responses.filter((r) => r.headers['x-cache'] === 'HIT');
    expect(hits).toHaveLength(3);

    const usage = (await env.t.app.inject({ method: 'GET', url: '/v1/usage', headers: env.t.admin })).json();
    const [sum] = ((await env.t.database.db.execute(sql`
      select sum(input_tokens)::float8 as "inputTokens", sum(output_tokens)::float8 as "outputTokens", sum(cost_usd)::float8 as "costUsd" from generations`)) as unknown as { rows: [Record<string, number>] }).rows;
    expect(usage.totals).toMatchObject({ requests: 7, cacheHits: 3, inputTokens: sum.inputTokens, outputTokens: sum.outputTokens });
    expect(usage.totals.costUsd).toBeCloseTo(sum.costUsd!, 9);
    const original = (await env.t.app.inject({ method: 'GET', url: `/v1/jobs/${hits[0]!.json().jobId}`, headers: env.auth })).json();
    let saved = 0;
    for (const h of hits) saved += (await env.t.app.inject({ method: 'GET', url: `/v1/jobs/${h.json().jobId}`, headers: env.auth })).json().costUsd;
    expect(original.costUsd).toBeGreaterThan(0);
    expect(usage.totals.savedUsd).toBeCloseTo(saved, 9);
    expect(usage.byTemplate.map((r: { templateId: string }) => r.templateId).sort()).toEqual([plain, json].sort());

    const mine = (await env.t.app.inject({ method: 'GET', url: '/v1/usage', headers: other })).json();
    expect(mine.byApiKey).toHaveLength(1);
    expect(mine.totals.requests).toBe(3);
    expect(mine.totals.cacheHits).toBe(2);
  });
});
