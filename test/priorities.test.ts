import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Caller } from '../src/auth/caller.js';
import { rowsOf } from '../src/db/client.js';
import type { Priority } from '../src/db/schema.js';
import type { GenerationRequest } from '../src/llm/request.js';
import { BAND, bullPriority, classOf, Fairness } from '../src/queue/fairness.js';
import { reply } from './fakes/llm-server.js';
import { waitForStatus } from './support/jobs.js';
import { llmEnvPerTest } from './support/llm-env.js';

/**
 * Queue classes and fairness within a class, on real BullMQ priorities: start order is
 * read at the source, the order in which the fake provider received the calls.
 */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', CACHE_LOCAL_TTL_MS: '0', WORKER_CONCURRENCY: '1', WORKER_PREFETCH: '0', COMPAT_WAIT_SECONDS: '1' });

const caller = (keyId: string): Caller => ({ keyId, tier: 'enterprise', admin: false, role: 'member', projectId: 'default' });
const request = (prompt: string): GenerationRequest => ({ provider: 'anthropic', model: 'claude-haiku-4-5', messages: [{ role: 'user', content: prompt }], params: { maxTokens: 8 } });
/** Admits through the service, as the routes do, without HTTP. */
const admit = (keyId: string, prompt: string, priority?: Priority) =>
  e.t.app.svc.generation.generateRequest(request(prompt), { caller: caller(keyId), requestId: 'req_test', bypassCache: false, waitMs: 0, ...(priority ? { priority } : {}) });
const prompts = () => e.llm.calls.map((c) => c.prompt);
const until = async (check: () => boolean, ms = 20_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('priority classes', () => {
  it('maps classes onto disjoint BullMQ bands under the 2^21 maximum', () => {
    expect(bullPriority('high', 0)).toBe(1);
    expect(bullPriority('low', BAND * 10)).toBe(3 * BAND);
    expect(3 * BAND).toBeLessThanOrEqual(2 ** 21);
    expect(classOf(bullPriority('normal', 123))).toBe('normal');
  });

  it('high starts before normal before low, whatever the order they were queued in', async () => {
    await admit('key_a', 'low one', 'low');
    await admit('key_a', 'normal one', 'normal');
    await admit('key_b', 'high one', 'high');
    await admit('key_a', 'high two', 'high');
    e.t.worker();
    await until(() => e.llm.calls.length === 4);
    expect(prompts()).toEqual(['high one', 'high two', 'normal one', 'low one']);
  });

  it('a joiner of a higher class raises the job; the row and the DTO show it', async () => {
    const low = await admit('key_a', 'raised', 'low');
    await admit('key_a', 'normal first', 'normal');
    const joined = await admit('key_b', 'raised', 'high');
    expect(joined.body.jobId).toBe(low.body.jobId);
    const job = await e.t.queues.generation.getJob(low.body.jobId);
    expect(classOf(job!.priority)).toBe('high');
    expect((await e.t.app.inject({ method: 'GET', url: `/v1/jobs/${low.body.jobId}`, headers: e.auth })).json().priority).toBe('high');
    // A lower joiner does not lower it.
    await admit('key_c', 'raised', 'low');
    expect((await e.t.queues.generation.getJob(low.body.jobId))!.priority).toBe(job!.priority);
    e.t.worker();
    await until(() => e.llm.calls.length === 2);
    expect(prompts()).toEqual(['raised', 'normal first']);
  });

  it('the default class comes from the key, else its tier; the body and the compat header set it per request', async () => {
    const tpl = (await e.t.app.inject({ method: 'POST', url: '/v1/templates', headers: e.auth, payload: { name: 'p', body: 'About {{topic}}', provider: 'anthropic' } })).json().id;
    const key = await e.t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: e.t.admin, payload: { name: 'slow lane', tier: 'pro', priority: 'low' } });
    expect(key.json().priority).toBe('low');
    const auth: Record<string, string> = { authorization: `Bearer ${key.json().key}` };
    const gen = async (topic: string, extra: Record<string, unknown> = {}, headers = auth) =>
      (await e.t.app.inject({ method: 'POST', url: '/v1/generate', headers, payload: { templateId: tpl, variables: { topic }, ...extra } })).json().jobId as string;
    const priorityOf = async (id: string) => (await e.t.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: auth })).json().priority;
    expect(await priorityOf(await gen('k1'))).toBe('low');
    expect(await priorityOf(await gen('k2', { priority: 'high' }))).toBe('high');
    const patched = await e.t.app.inject({ method: 'PATCH', url: `/v1/api-keys/${key.json().id}`, headers: e.t.admin, payload: { priority: null } });
    expect(patched.json().priority).toBeNull();
    expect(await priorityOf(await gen('k3'))).toBe('normal'); // PRIORITY_PRO
    const free = await e.t.keyHeader('free');
    expect(await priorityOf(await gen('k4', {}, free))).toBe('low'); // PRIORITY_FREE
    expect((await e.t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { topic: 'x' }, priority: 'urgent' } })).statusCode).toBe(400);

    const compat = await e.t.app.inject({
      method: 'POST', url: '/v1/chat/completions', headers: { ...auth, 'x-promptlab-priority': 'high' },
      payload: { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'compat' }], max_tokens: 8 },
    });
    expect(compat.statusCode).toBe(504); // no worker: held COMPAT_WAIT_SECONDS, then the jobId
    const id = compat.headers['x-promptlab-job-id'] as string;
    expect(await priorityOf(id)).toBe('high');
  });
});

describe('fairness within a class', () => {
  it('with key A holding 5,000 queued jobs, key B\'s job starts within the bound over 2 workers', async () => {
    e.llm.setDefault(reply.slow(3));
    const N = 5000;
    for (let i = 0; i < N; i += 250) {
      await Promise.all(Array.from({ length: Math.min(250, N - i) }, (_, j) => admit('key_flood', `a-${i + j}`)));
    }
    e.t.worker();
    e.t.worker();
    await until(() => e.llm.calls.length >= 50);
    const b = await admit('key_victim', 'b-one');
    const admittedAt = Date.now();
    const startedBefore = e.llm.calls.length;
    await until(() => prompts().includes('b-one'));
    const bIndex = prompts().indexOf('b-one');
    // Starts after B was admitted and before B's: the bound is K + H = 1 other key + 2 jobs held by the workers.
    const ahead = e.llm.calls.slice(0, bIndex).filter((c) => c.at >= admittedAt).length;
    const aheadByCount = bIndex - startedBefore;
    console.log(`fairness: B started after ${ahead} starts (by arrival time), ${aheadByCount} (by call count), A had ${N - startedBefore} queued`);
    expect(ahead).toBeLessThanOrEqual(3);
    expect(aheadByCount).toBeLessThanOrEqual(3);
    const waiting = rowsOf<{ n: string }>(await e.t.database.db.execute(sql`select count(*) as n from generations where status = 'queued' and api_key_id = 'key_flood'`));
    expect(Number(waiting[0]!.n)).toBeGreaterThan(4000);
    expect((await waitForStatus(e.t.app, e.auth, b.body.jobId, ['completed'])).status).toBe('completed');
  }, 120_000);

  it('keeps offsets inside the band: half a band past the epoch, the epoch moves and waiting jobs are re-prioritised in order', async () => {
    const half = BAND / 2;
    const classKey = `${e.t.config.REDIS_PREFIX}:fair:normal`;
    await e.t.redis.hset(classKey, 'g', half - 2); // as if 262,142 rounds had run
    const a = [];
    for (let i = 0; i < 3; i++) a.push((await admit('key_a', `epoch a${i}`)).body.jobId);
    const priorities = async (ids: string[]) => Promise.all(ids.map(async (id) => (await e.t.queues.generation.getJob(id))!.priority));
    expect(await priorities(a)).toEqual([bullPriority('normal', half - 2), bullPriority('normal', half - 1), bullPriority('normal', half)]);

    const fairness = new Fairness(e.t.redis, e.t.config.REDIS_PREFIX, e.t.app.log as never);
    const started = (await e.t.queues.generation.getJob(a[1]!))!.data.fair;
    expect(started?.vt).toBe(half - 1);
    // The start of a job at virtual time half moves the epoch (background renormalisation), then again by hand to await it.
    await fairness.started({ cls: 'normal', vt: half }, e.t.queues.generation);
    expect(await e.t.redis.hget(classKey, 'e')).toBe(String(half));
    await fairness.renormalise('normal', half, e.t.queues.generation);
    expect(await priorities(a)).toEqual([bullPriority('normal', 0), bullPriority('normal', 0), bullPriority('normal', 0)]);
    const b = (await admit('key_b', 'epoch b')).body.jobId;
    expect(await priorities([b])).toEqual([bullPriority('normal', 0)]);
    e.t.worker();
    await until(() => e.llm.calls.length === 4);
    expect(prompts()).toEqual(['epoch a0', 'epoch a1', 'epoch a2', 'epoch b']);
  });
});
