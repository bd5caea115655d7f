import { Job } from 'bullmq';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Ledger } from '../src/jobs/ledger.js';
import { OutcomeStash } from '../workers/outcome-stash.js';
import { createProcessor } from '../workers/processor.js';
import { reply, startFakeLlm, type FakeLlm } from './fakes/llm-server.js';
import { createTestEnv, type TestEnv } from './support/context.js';
import { waitForStatus } from './support/jobs.js';

let llm: FakeLlm;
let t: TestEnv;
let auth: Record<string, string>;

beforeAll(async () => { llm = await startFakeLlm(); });
afterAll(() => llm.close());

async function setup(env: Record<string, string> = {}) {
  t = await createTestEnv({
    ANTHROPIC_API_KEY: 'sk-ant-test-secret', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl,
    OPENAI_API_KEY: 'sk-openai-test-secret', OPENAI_BASE_URL: llm.openaiBaseUrl, ...env,
  });
  auth = await t.keyHeader('enterprise');
  llm.reset(); // a script a test left unanswered (its job never reached the provider) must not answer the next one
}

async function template(extra: Record<string, unknown> = {}) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 't', body: 'Tell me about {{topic}}', provider: 'anthropic', ...extra } });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

const generate = (templateId: string, variables: Record<string, unknown>, opts: { query?: string; headers?: Record<string, string> } = {}) =>
  t.app.inject({ method: 'POST', url: `/v1/generate${opts.query ?? ''}`, headers: { ...auth, ...opts.headers }, payload: { templateId, variables } });

describe('generation with the anthropic SDK against a local Messages server', () => {
  beforeEach(() => setup());
  afterEach(() => t.close());

  it('50 concurrent identical requests: one job, one upstream call, one jobId', async () => {
    t.worker();
    llm.setDefault(reply.slow(300, { ...reply.ok('the one answer', { inputTokens: 1000, outputTokens: 500 }), model: 'claude-haiku-4-5-20251001' }));
    const tpl = await template();
    const answers = await Promise.all(Array.from({ length: 50 }, () => generate(tpl, { topic: 'dedupe' })));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(50).fill(202));
    const ids = new Set(answers.map((a) => a.json().jobId));
    expect(ids.size).toBe(1);
    const [jobId] = [...ids];
    const job = await waitForStatus(t.app, auth, jobId!, ['completed']);
    expect(llm.calls).toHaveLength(1);
    expect(job).toMatchObject({ attempts: 1, result: { text: 'the one answer' }, usage: { inputTokens: 1000, outputTokens: 500, totalTokens: 1500 } });
    expect(job).toMatchObject({ model: 'claude-haiku-4-5', responseModel: 'claude-haiku-4-5-20251001' }); // the model that answered is kept
    expect(job.costUsd).toBeCloseTo(1000 * 1e-6 + 500 * 5e-6, 9); // claude-haiku-4-5: $1 / $5 per MTok

    const again = await generate(tpl, { topic: 'dedupe' });
    expect(again.statusCode).toBe(200);
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.json()).toEqual({ jobId, status: 'completed', cached: true, result: { text: 'the one answer' }, finishReason: 'stop' });
    expect(llm.calls).toHaveLength(1);
    const { data } = (await t.app.inject({ method: 'GET', url: '/v1/jobs', headers: auth })).json();
    expect(data).toHaveLength(1);
  });

  it('?wait holds the response until the job ends; no-cache bypasses and refreshes', async () => {
    t.worker();
    const tpl = await template();
    const first = await generate(tpl, { topic: 'wait' }, { query: '?wait=10' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.json()).toMatchObject({ status: 'completed', cached: false, result: { text: expect.any(String) } });
    llm.script(reply.ok('fresher'));
    const bypass = await generate(tpl, { topic: 'wait' }, { query: '?wait=10', headers: { 'cache-control': 'no-cache' } });
    expect(bypass.headers['x-cache']).toBe('BYPASS');
    expect(bypass.json().jobId).not.toBe(first.json().jobId);
    const hit = await generate(tpl, { topic: 'wait' });
    expect(hit.json()).toMatchObject({ jobId: bypass.json().jobId, cached: true, result: { text: 'fresher' } });
  });

  it('retries 429 (honouring retry-after) and 500, then succeeds', async () => {
    t.worker();
    llm.script(reply.rateLimited(1), reply.serverError(), reply.ok('third time'));
    const tpl = await template();
    const { jobId } = (await generate(tpl, { topic: 'retry' })).json();
    const job = await waitForStatus(t.app, auth, jobId, ['completed', 'dead']);
    expect(job).toMatchObject({ status: 'completed', attempts: 3, result: { text: 'third time' } });
    expect(llm.calls).toHaveLength(3);
    expect(llm.calls[1]!.at - llm.calls[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('401 is not retried: straight to dead, dead-letter queue, then replay', async () => {
    t.worker();
    llm.script(reply.unauthorized());
    const tpl = await template();
    const { jobId } = (await generate(tpl, { topic: 'auth' })).json();
    const dead = await waitForStatus(t.app, auth, jobId, ['dead', 'completed']);
    expect(dead).toMatchObject({ status: 'dead', attempts: 1, error: { code: 'provider_auth_failed' } });
    expect(llm.calls).toHaveLength(1);
    expect(await t.queues.deadLetter.getJob(jobId)).toBeTruthy();
    const listed = (await t.app.inject({ method: 'GET', url: '/v1/admin/dead-letters', headers: t.admin })).json();
    expect(listed.data.map((j: { id: string }) => j.id)).toEqual([jobId]);
    expect((await t.app.inject({ method: 'GET', url: '/v1/admin/dead-letters', headers: await t.keyHeader('pro', 'member') })).statusCode).toBe(403);

    const replay = await t.app.inject({ method: 'POST', url: `/v1/admin/dead-letters/${jobId}/replay`, headers: t.admin });
    expect(replay.statusCode).toBe(202);
    const done = await waitForStatus(t.app, auth, jobId, ['completed']);
    expect(done).toMatchObject({ attempts: 2, result: { text: expect.any(String) } });
    expect(done.error).toBeUndefined();
    expect(await t.queues.deadLetter.getJob(jobId)).toBeFalsy();
    const again = await t.app.inject({ method: 'POST', url: `/v1/admin/dead-letters/${jobId}/replay`, headers: t.admin });
    expect(again.statusCode).toBe(404);
    expect(again.json().error.code).toBe('dead_letter_not_found');
  });

  it('a replay while an identical generation is in flight is a 409 naming that job', async () => {
    t.worker();
    llm.script(reply.unauthorized(), reply.slow(1500));
    const tpl = await template();
    const held = await generate(tpl, { topic: 'twin' }, { query: '?wait=10' });
    expect(held.statusCode).toBe(400); // died under a wait of a 401 upstream: generation_unrecoverable, the job in the details
    const dead = { jobId: held.json().error.details.job.id as string, status: held.json().error.details.job.status as string };
    expect(dead.status).toBe('dead');
    const twin = (await generate(tpl, { topic: 'twin' })).json(); // the slow one, in flight
    const replay = await t.app.inject({ method: 'POST', url: `/v1/admin/dead-letters/${dead.jobId}/replay`, headers: t.admin });
    expect(replay.statusCode).toBe(409);
    expect(replay.json().error).toMatchObject({ code: 'replay_conflict', details: { jobId: twin.jobId } });
    expect((await t.app.inject({ method: 'GET', url: `/v1/jobs/${dead.jobId}`, headers: auth })).json().status).toBe('dead');
  });

  it('a failure is never cached: the next identical request starts a new generation', async () => {
    t.worker();
    llm.script(reply.error(400, 'bad request'));
    const tpl = await template();
    const first = (await generate(tpl, { topic: 'nocache' })).json();
    await waitForStatus(t.app, auth, first.jobId, ['dead']);
    const second = await generate(tpl, { topic: 'nocache' });
    expect(second.statusCode).toBe(202);
    expect(second.json().jobId).not.toBe(first.jobId);
    await waitForStatus(t.app, auth, second.json().jobId, ['completed']);
  });

  it('output that breaks outputSchema is a failed attempt, never a cached result', async () => {
    t.worker();
    const schema = { type: 'object', required: ['sentiment'], properties: { sentiment: { enum: ['positive', 'negative'] } }, additionalProperties: false };
    const tpl = await template({ outputSchema: schema });
    llm.script(reply.ok('not json at all'), reply.ok('{"sentiment": "meh"}'), reply.ok('```json\n{"sentiment": 1}\n```'));
    const first = (await generate(tpl, { topic: 'json' })).json();
    const dead = await waitForStatus(t.app, auth, first.jobId, ['dead', 'completed']);
    expect(dead).toMatchObject({ status: 'dead', attempts: 3, error: { code: 'output_invalid' } });
    expect(dead.usage.totalTokens).toBeGreaterThan(0); // the failed attempts were still paid for
    expect(llm.calls[0]!.system).toContain('"sentiment"'); // the schema reached the model
    llm.script(reply.ok('```json\n{"sentiment": "positive"}\n```'));
    const second = (await generate(tpl, { topic: 'json' }, { query: '?wait=10' })).json();
    expect(second).toMatchObject({ status: 'completed', result: { json: { sentiment: 'positive' } } });
  });

  it('a cut-off answer and a refusal are answers (finish reasons length and refusal, cached, paid once)', async () => {
    t.worker();
    const tpl = await template();
    llm.script(reply.truncated('cut off at the li'), reply.refusal());
    const a = await generate(tpl, { topic: 'cut' }, { query: '?wait=10' });
    expect(a.statusCode).toBe(200);
    expect(a.json()).toMatchObject({ status: 'completed', result: { text: 'cut off at the li' }, finishReason: 'length' });
    const again = await generate(tpl, { topic: 'cut' });
    expect(again.json()).toMatchObject({ jobId: a.json().jobId, cached: true, finishReason: 'length' });
    expect((await t.app.inject({ method: 'GET', url: `/v1/jobs/${a.json().jobId}`, headers: auth })).json()).toMatchObject({ finishReason: 'length' });
    // A refusal is the model's answer, as the provider returns it: kept and cached (asking again is refused again, and paid again).
    const b = await generate(tpl, { topic: 'refuse' }, { query: '?wait=10' });
    expect(b.statusCode).toBe(200);
    expect(b.json()).toMatchObject({ status: 'completed', finishReason: 'refusal', result: { text: "I can't help with that." } });
    expect((await generate(tpl, { topic: 'refuse' })).json()).toMatchObject({ cached: true, finishReason: 'refusal' });
    expect(llm.calls).toHaveLength(2);
    expect(await t.redis.keys(`${t.config.REDIS_PREFIX}:cache:*`)).toHaveLength(2);
  });

  it('a template whose outputSchema promises JSON fails a refusal as provider_refusal: a 400, not cached, not retried', async () => {
    t.worker();
    const tpl = await template({ outputSchema: { type: 'object', properties: { a: { type: 'string' } } } });
    llm.script(reply.refusal());
    const res = await generate(tpl, { topic: 'refuse' }, { query: '?wait=10' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.job).toMatchObject({ status: 'dead', error: { code: 'provider_refusal' } });
    expect(llm.calls).toHaveLength(1);
    expect(await t.redis.keys(`${t.config.REDIS_PREFIX}:cache:*`)).toHaveLength(0);
  });

  it('keyFields alone form the key; a template change bumps the version and misses the old entry', async () => {
    t.worker();
    const tpl = (await t.app.inject({
      method: 'POST', url: '/v1/templates', headers: auth,
      payload: { name: 'm', body: 'Summarise meeting {{meeting_id}} ({{date}}): {{transcript}}', keyFields: ['meeting_id', 'date'], provider: 'fake' },
    })).json().id;
    const a = (await generate(tpl, { meeting_id: 'm1', date: '2026-01-01', transcript: 'v1' }, { query: '?wait=10' })).json();
    const b = await generate(tpl, { meeting_id: 'm1', date: '2026-01-01', transcript: 'a different take' });
    expect(b.json()).toMatchObject({ jobId: a.jobId, cached: true });
    await t.app.inject({ method: 'PATCH', url: `/v1/templates/${tpl}`, headers: auth, payload: { body: 'Summarise {{meeting_id}} {{date}} {{transcript}}' } });
    const c = await generate(tpl, { meeting_id: 'm1', date: '2026-01-01', transcript: 'v1' });
    expect(c.statusCode).toBe(202);
  });
  it('a run of a job whose result is already stored (its worker died before BullMQ heard) does not call the provider', async () => {
    t.worker({ config: { ...t.config, LOCAL_START: false } }); // the job through BullMQ, to read it back
    const tpl = await template();
    const first = (await generate(tpl, { topic: 'rerun' }, { query: '?wait=10' })).json();
    expect(llm.calls).toHaveLength(1);
    const job = (await Job.fromId(t.queues.generation, first.jobId))!;
    job.attemptsStarted = 2; // what BullMQ shows when it hands a stalled job to another worker
    await t.redis.del(`${t.config.REDIS_PREFIX}:cache:${job.data.inputHash}`);
    const rerun = createProcessor({
      jobs: t.app.svc.jobs, ledger: new Ledger(t.database.db), cache: t.app.svc.cache,
      queues: t.queues, providers: { anthropic: { name: 'anthropic', generate: () => Promise.reject(new Error('must not be called')) } },
      log: t.app.log as never, stash: new OutcomeStash(t.redis, t.config.REDIS_PREFIX, t.app.log as never),
      validator: { validate: () => Promise.reject(new Error('must not be called')) },
      tokens: { reconcile: () => Promise.resolve(true) }, registry: t.app.deps.registry, afterSettle: t.app.svc.afterSettle,
    });
    expect(await rerun.process(job)).toEqual({ completed: true });
    expect(llm.calls).toHaveLength(1);
    expect(await t.redis.exists(`${t.config.REDIS_PREFIX}:cache:${job.data.inputHash}`)).toBe(1); // the cache write is made good
    const row = (await t.app.inject({ method: 'GET', url: `/v1/jobs/${first.jobId}`, headers: auth })).json();
    expect(row).toMatchObject({ status: 'completed', attempts: 1 });
  });
});

describe('timeouts and the openai SDK', () => {
  beforeEach(() => setup({ PROVIDER_TIMEOUT_MS: '300' }));
  afterEach(() => t.close());

  it('a reply slower than PROVIDER_TIMEOUT_MS is a retryable timeout', async () => {
    t.worker();
    llm.script(reply.slow(2000), reply.ok('in time'));
    const tpl = await template();
    const { jobId } = (await generate(tpl, { topic: 'slow' })).json();
    const job = await waitForStatus(t.app, auth, jobId, ['completed', 'dead']);
    expect(job).toMatchObject({ status: 'completed', attempts: 2, result: { text: 'in time' } });
  });

  it('openai: success with usage and cost by the model price', async () => {
    t.worker();
    llm.script(reply.ok('from openai', { inputTokens: 2_000_000, outputTokens: 1_000_000 }));
    const tpl = await template({ provider: 'openai', model: 'gpt-4o-mini' });
    const job = (await generate(tpl, { topic: 'oai' }, { query: '?wait=10' })).json();
    expect(job).toMatchObject({ status: 'completed', result: { text: 'from openai' }, usage: { totalTokens: 3_000_000 } });
    expect(job.costUsd).toBeCloseTo(2 * 0.15 + 1 * 0.6, 9);
    expect(llm.calls[0]!.dialect).toBe('openai');
  });
});

describe('provider slots', () => {
  beforeEach(() => setup({ WORKER_CONCURRENCY: '2', WORKER_PREFETCH: '3' }));
  afterEach(() => t.close());

  it('WORKER_CONCURRENCY bounds the provider calls in flight, however many jobs the worker holds', async () => {
    t.worker();
    llm.setDefault(reply.slow(200, reply.ok()));
    const tpl = await template();
    const ids = await Promise.all(Array.from({ length: 8 }, async (_, i) => (await generate(tpl, { topic: `slot ${i}` })).json().jobId as string));
    for (const id of ids) expect(await waitForStatus(t.app, auth, id, ['completed'])).toMatchObject({ status: 'completed', attempts: 1 });
    // A slot frees only once its call was answered (200 ms after it arrived), so calls that
    // arrived less than 150 ms apart were in flight together.
    const at = llm.calls.map((c) => c.at).sort((a, b) => a - b);
    expect(at).toHaveLength(8);
    const together = at.map((t0, i) => at.slice(i).filter((t1) => t1 - t0 < 150).length);
    expect(Math.max(...together)).toBe(2);
  });

  it('a closing worker finishes the calls it started and hands the jobs still waiting for a slot back to the queue', async () => {
    const w = t.worker({ config: { ...t.config, LOCAL_START: false } }); // every job held by BullMQ's worker
    llm.setDefault(reply.slow(600, reply.ok()));
    const tpl = await template();
    const ids = await Promise.all(Array.from({ length: 4 }, async (_, i) => (await generate(tpl, { topic: `close ${i}` })).json().jobId as string));
    while (llm.calls.length < 2 || (await t.queues.generation.getActiveCount()) < 4) await new Promise((r) => setTimeout(r, 20));
    await w.close();
    expect(llm.calls).toHaveLength(2);
    const rows = await Promise.all(ids.map(async (id) => (await t.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: auth })).json()));
    expect(rows.map((r) => r.status).sort()).toEqual(['completed', 'completed', 'queued', 'queued']);
    // Every generation job has a BullMQ priority (its class and fair slot): waiting means `prioritized`.
    expect(await t.queues.generation.getPrioritizedCount()).toBe(2);

    t.worker();
    for (const id of ids) expect(await waitForStatus(t.app, auth, id, ['completed'])).toMatchObject({ status: 'completed', attempts: 1 });
    expect(llm.calls).toHaveLength(4);
  });
});
