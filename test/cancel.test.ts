import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/client.js';
import { reply } from './fakes/llm-server.js';
import { waitForStatus } from './support/jobs.js';
import { llmEnvPerTest } from './support/llm-env.js';

/**
 * Cancel in each state, Cancel-After, Prefer: wait and the many-ids listing, against
 * real Postgres, Redis and BullMQ. Counted at the source: calls (and closed connections)
 * at the fake server, rows in Postgres.
 */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', CACHE_LOCAL_TTL_MS: '0', JOB_BACKOFF_MS: '60000' });

async function template() {
  const res = await e.t.app.inject({ method: 'POST', url: '/v1/templates', headers: e.auth, payload: { name: 'c', body: 'About {{topic}}', provider: 'anthropic' } });
  return res.json().id as string;
}
const generate = (templateId: string, topic: string, headers: Record<string, string> = {}, query = '') =>
  e.t.app.inject({ method: 'POST', url: `/v1/generate${query}`, headers: { ...e.auth, ...headers }, payload: { templateId, variables: { topic } } });
const cancel = (id: string) => e.t.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: e.auth });
const row = async (id: string) => rowsOf<{ status: string; subscribers: number; input_tokens: number }>(
  await e.t.database.db.execute(sql`select status, subscribers, input_tokens from generations where id = ${id}`))[0]!;
const slotOf = async (id: string) => rowsOf<{ generation_id: string; state: string }>(
  await e.t.database.db.execute(sql`select s.generation_id, s.state from input_slots s join generations g on g.input_hash = s.input_hash where g.id = ${id}`))[0]!;
const until = async (check: () => boolean | Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('POST /v1/jobs/:id/cancel', () => {
  it('cancels a queued job: row canceled, BullMQ job gone, slot open, a new identical request starts a new generation', async () => {
    const tpl = await template();
    const first = (await generate(tpl, 'queued')).json();
    const res = await cancel(first.jobId);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-promptlab-cancel']).toBe('canceled');
    expect(res.json()).toMatchObject({ id: first.jobId, status: 'canceled', error: { code: 'canceled' } });
    expect(await e.t.queues.generation.getJob(first.jobId)).toBeFalsy();
    expect((await slotOf(first.jobId)).state).toBe('open');

    e.t.worker();
    const again = (await generate(tpl, 'queued')).json();
    expect(again.jobId).not.toBe(first.jobId);
    await waitForStatus(e.t.app, e.auth, again.jobId, ['completed']);
    expect(e.llm.calls).toHaveLength(1);
    expect((await row(first.jobId)).status).toBe('canceled');
    // Canceling again answers the job as it is; a completed job cannot be canceled.
    expect((await cancel(first.jobId)).json().status).toBe('canceled');
    const late = await cancel(again.jobId);
    expect(late.statusCode).toBe(409);
    expect(late.json().error).toMatchObject({ code: 'job_not_cancelable', details: { status: 'completed' } });
  });

  it('cancels a job waiting for its retry', async () => {
    e.t.worker();
    e.llm.script(reply.serverError()); // retried after JOB_BACKOFF_MS (60 s here): it waits as `failed`
    const tpl = await template();
    const job = (await generate(tpl, 'retry')).json();
    await waitForStatus(e.t.app, e.auth, job.jobId, ['failed']);
    const res = await cancel(job.jobId);
    expect(res.json().status).toBe('canceled');
    expect(await e.t.queues.generation.getJob(job.jobId)).toBeFalsy();
    expect(e.llm.calls).toHaveLength(1);
  });

  it('aborts a running attempt: the provider connection is closed, the row canceled, nothing cached, the next identical request calls again', async () => {
    e.t.worker();
    e.llm.script(reply.slow(20_000));
    const tpl = await template();
    const job = (await generate(tpl, 'running')).json();
    await until(() => e.llm.calls.length === 1);
    await waitForStatus(e.t.app, e.auth, job.jobId, ['active']);
    const res = await cancel(job.jobId);
    expect(res.statusCode).toBe(202);
    expect(res.headers['x-promptlab-cancel']).toBe('aborting');
    const done = await waitForStatus(e.t.app, e.auth, job.jobId, ['canceled'], 10_000);
    expect(done.error.code).toBe('canceled');
    await until(() => e.llm.calls[0]!.closedEarly === true);
    expect(await e.t.redis.exists(`${e.t.config.REDIS_PREFIX}:cache:${done.inputHash}`)).toBe(0);

    const again = await generate(tpl, 'running', {}, '?wait=10');
    expect(again.statusCode).toBe(200);
    expect(again.json().jobId).not.toBe(job.jobId);
    expect(e.llm.calls).toHaveLength(2);
  });

  it('cancels staggered across completions: every row ends completed (cached, slot completed) or canceled (not cached, slot open), never both', async () => {
    e.t.worker();
    // 30 answers after 60 ms, the last 10 after 4 s: whatever the machine's load, some jobs complete while others still run.
    e.llm.script(...Array.from({ length: 40 }, (_, i) => reply.slow(i < 30 ? 60 : 4000)));
    const tpl = await template();
    // 40 jobs; from the first completion on, each cancel lands somewhere between before the provider call and after the answer is stored (0–120 ms).
    const ids = await Promise.all(Array.from({ length: 40 }, async (_, i) => (await generate(tpl, `race${i}`)).json().jobId as string));
    await until(async () => (await Promise.all(ids.map(row))).some((r) => r.status === 'completed'), 20_000);
    await Promise.all(ids.map(async (id, i) => {
      await new Promise((r) => setTimeout(r, i * 3));
      const res = await cancel(id);
      expect([200, 202, 409], res.body).toContain(res.statusCode);
    }));
    await until(async () => (await Promise.all(ids.map(row))).every((r) => r.status === 'completed' || r.status === 'canceled'), 20_000);
    const outcomes = { completed: 0, canceled: 0 };
    for (const id of ids) {
      const r = await row(id);
      const slot = await slotOf(id);
      const cached = await e.t.redis.exists(`${e.t.config.REDIS_PREFIX}:cache:${(await e.t.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: e.auth })).json().inputHash}`);
      if (r.status === 'completed') expect([slot.state, slot.generation_id, cached], id).toEqual(['completed', id, 1]);
      else expect([slot.state, cached], id).toEqual(['open', 0]);
      outcomes[r.status as 'completed' | 'canceled']++;
    }
    // The stagger crossed completions: some of each (else the race was not run).
    expect(outcomes.completed, JSON.stringify(outcomes)).toBeGreaterThan(0);
    expect(outcomes.canceled, JSON.stringify(outcomes)).toBeGreaterThan(0);
    // Counted at the source: never more than one call per input.
    expect(e.llm.calls.length).toBeLessThanOrEqual(40);
  });

  it('with two requests on one job, the first cancel detaches one and the second cancels it', async () => {
    const tpl = await template();
    const [a, b] = (await Promise.all([generate(tpl, 'shared'), generate(tpl, 'shared')])).map((r) => r.json());
    expect(a.jobId).toBe(b.jobId);
    expect((await row(a.jobId)).subscribers).toBe(2);
    const first = await cancel(a.jobId);
    expect(first.headers['x-promptlab-cancel']).toBe('detached');
    expect(first.json().status).toBe('queued');
    expect(await row(a.jobId)).toMatchObject({ status: 'queued', subscribers: 1 });
    const second = await cancel(a.jobId);
    expect(second.headers['x-promptlab-cancel']).toBe('canceled');
    expect(second.json().status).toBe('canceled');
  });

  it('gives back what a canceled queued job held of its key\'s budget', async () => {
    const key = (await e.t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: e.t.admin, payload: { name: 'b', tier: 'pro', budgets: [{ usd: 10, period: 'day' }] } })).json();
    const auth = { authorization: `Bearer ${key.key}` };
    const tpl = await template();
    const reserved = async () => (await e.t.app.inject({ method: 'GET', url: `/v1/api-keys/${key.id}`, headers: e.t.admin })).json().budgets[0].reservedUsd as number;
    const job = (await e.t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { topic: 'budget' } } })).json();
    expect(await reserved()).toBeGreaterThan(0);
    expect((await e.t.app.inject({ method: 'POST', url: `/v1/jobs/${job.jobId}/cancel`, headers: auth })).json().status).toBe('canceled');
    expect(await reserved()).toBe(0);
  });

  it('an unknown job is a 404', async () => {
    const res = await cancel('gen_nope');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('job_not_found');
  });
});

describe('Cancel-After', () => {
  it('aborts an attempt still running at the deadline', async () => {
    e.t.worker();
    e.llm.script(reply.slow(20_000));
    const tpl = await template();
    const job = (await generate(tpl, 'deadline', { 'cancel-after': '1s' })).json();
    const done = await waitForStatus(e.t.app, e.auth, job.jobId, ['canceled', 'completed', 'dead'], 10_000);
    expect(done.status).toBe('canceled');
    await until(() => e.llm.calls[0]?.closedEarly === true);
  });

  it('cancels a job still queued at the deadline without calling the provider', async () => {
    const tpl = await template();
    const job = (await generate(tpl, 'late', { 'cancel-after': '1s' })).json();
    await new Promise((r) => setTimeout(r, 1100));
    e.t.worker(); // its claim finds the deadline passed (or its sweep cancels the row first)
    await waitForStatus(e.t.app, e.auth, job.jobId, ['canceled'], 10_000);
    expect(e.llm.calls).toHaveLength(0);
  });

  it('a joiner without a deadline lifts it', async () => {
    e.t.worker();
    e.llm.script(reply.slow(1800, reply.ok('kept')));
    const tpl = await template();
    const a = (await generate(tpl, 'lift', { 'cancel-after': '1s' })).json();
    const b = (await generate(tpl, 'lift')).json();
    expect(b.jobId).toBe(a.jobId);
    expect((await waitForStatus(e.t.app, e.auth, a.jobId, ['canceled', 'completed'], 10_000)).status).toBe('completed');
  });

  it('rejects a malformed or out-of-range duration', async () => {
    const tpl = await template();
    for (const v of ['soon', '0s', '25h']) {
      const res = await generate(tpl, 'bad', { 'cancel-after': v });
      expect(res.statusCode, v).toBe(400);
      expect(res.json().error.code).toBe('bad_request');
    }
  });
});

describe('Prefer: wait=N', () => {
  it('holds the response like ?wait= and says so in Preference-Applied', async () => {
    e.t.worker();
    const tpl = await template();
    const res = await generate(tpl, 'prefer', { prefer: 'respond-async, wait=10' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['preference-applied']).toBe('wait=10');
    expect(res.json()).toMatchObject({ status: 'completed', result: { text: expect.any(String) } });
    // Capped at 60 s, like ?wait=.
    const capped = await generate(tpl, 'prefer', { prefer: 'wait=3600' });
    expect(capped.headers['preference-applied']).toBe('wait=60');
  });

  it('a job that dies under a wait of what a retry cannot fix is a 400 generation_unrecoverable with the job in the details', async () => {
    e.t.worker();
    e.llm.script(reply.unauthorized());
    const tpl = await template();
    const res = await generate(tpl, 'dies', { prefer: 'wait=10' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'generation_unrecoverable', details: { job: { status: 'dead', error: { code: expect.any(String) } } } });
  });
});

describe('GET /v1/jobs?ids=', () => {
  it('returns the jobs asked for, in that order, leaving unknown ids out; more than 100 is a 400', async () => {
    const tpl = await template();
    const ids = [];
    for (const topic of ['x', 'y', 'z']) ids.push((await generate(tpl, topic)).json().jobId as string);
    const res = await e.t.app.inject({ method: 'GET', url: `/v1/jobs?ids=${ids[2]},gen_unknown,${ids[0]}`, headers: e.auth });
    expect(res.statusCode).toBe(200);
    expect(res.json().data.map((j: { id: string }) => j.id)).toEqual([ids[2], ids[0]]);
    expect(res.json().data[0]).toMatchObject({ status: 'queued', priority: 'normal' });
    const many = Array.from({ length: 101 }, (_, i) => `gen_${i}`).join(',');
    expect((await e.t.app.inject({ method: 'GET', url: `/v1/jobs?ids=${many}`, headers: e.auth })).statusCode).toBe(400);
    expect((await e.t.app.inject({ method: 'GET', url: '/v1/jobs?ids=nope', headers: e.auth })).statusCode).toBe(400);
  });
});
