import OpenAI from 'openai';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rowsOf } from '../src/db/client.js';
import { jobDataOf } from '../src/queue/dead-letters.js';
import { createTestEnv } from './support/context.js';
import { reply } from './fakes/llm-server.js';
import { llmEnvPerTest } from './support/llm-env.js';

/**
 * LOCAL_START (on by default): an API process with an in-process worker runs a generation it just
 * admitted on a free provider slot, claimed by the admission statement, with no BullMQ job. Counted
 * at the source: calls the fake upstream received, rows and BullMQ jobs as Redis and Postgres hold them.
 */
const e = llmEnvPerTest({ OPENAI_API_KEY: 'sk-openai-test', WORKER_CONCURRENCY: '2' }, { listen: true, openai: true });

const openai = () => new OpenAI({ baseURL: `${e.base}/v1`, apiKey: e.auth.authorization!.replace(/^Bearer /, '') }); // the SDK's defaults: 2 retries
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const query = async <T>(q: ReturnType<typeof sql>) => rowsOf<T>(await e.t.database.db.execute(q));
const rows = (hash: string) => query<{ id: string; status: string; attempts: number }>(sql`select id, status, attempts from generations where input_hash = ${hash}`);
const hashOf = async (id: string) => (await query<{ h: string }>(sql`select input_hash as h from generations where id = ${id}`))[0]!.h;
const statusOf = async (id: string) => (await query<{ status: string }>(sql`select status from generations where id = ${id}`))[0]!.status;
/** A held OpenAI-format call (the compat route waits for its job). */
const generate = (content: string) => e.t.app.inject({
  method: 'POST', url: '/v1/chat/completions', headers: e.auth, payload: { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] },
});
/** An asynchronous `/v1/generate` (202 and its job id) of a template on the openai provider. */
async function admitAsync(topic: string): Promise<string> {
  const tpl = await e.t.app.inject({ method: 'POST', url: '/v1/templates', headers: e.auth, payload: { name: `local-${topic}`, body: 'About {{topic}}', provider: 'openai', model: 'gpt-4o-mini' } });
  const res = await e.t.app.inject({ method: 'POST', url: '/v1/generate', headers: e.auth, payload: { templateId: tpl.json().id, variables: { topic } } });
  expect(res.statusCode).toBe(202);
  return res.json().jobId;
}

describe('a generation started where it was admitted', () => {
  it('a streamed call through the OpenAI SDK: one upstream call, no BullMQ job, the row claimed once', async () => {
    e.t.worker();
    e.llm.script({ text: 'local and streamed', pieces: 5, chunkDelayMs: 5 });
    const { data: stream, response } = await openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'run me here' }], stream: true }).withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('local and streamed');
    const id = response.headers.get('x-promptlab-job-id')!;
    expect(e.llm.calls).toHaveLength(1);
    expect(await e.t.queues.generation.getJob(id)).toBeUndefined();
    expect(await rows(await hashOf(id))).toEqual([{ id, status: 'completed', attempts: 1 }]);
  });

  it('identical requests staggered across the run and its completion are paid once', async () => {
    e.t.worker();
    e.llm.setDefault(reply.slow(150, reply.ok('once')));
    // 40 requests, one every 10 ms from before the call to well after its answer (the completion's writes in between).
    const answers = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      await sleep(i * 10);
      return generate('stagger me');
    }));
    expect(answers.map((a) => a.statusCode)).toEqual(answers.map(() => 200));
    expect(new Set(answers.map((a) => a.json().choices[0].message.content))).toEqual(new Set(['once']));
    expect(e.llm.calls).toHaveLength(1);
    const id = answers[0]!.headers['x-promptlab-job-id'] as string;
    expect(await rows(await hashOf(id))).toEqual([{ id, status: 'completed', attempts: 1 }]);
  });

  it('with every slot taken, the next admissions go through BullMQ; all complete, each paid once', async () => {
    e.t.worker();
    e.llm.setDefault(reply.slow(300, reply.ok('busy')));
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await admitAsync(`slot ${i}`));
    // Two slots: the first two ran here, the others are BullMQ jobs.
    const jobs = await Promise.all(ids.map((id) => e.t.queues.generation.getJob(id)));
    expect(jobs.map((j) => j !== undefined)).toEqual([false, false, true, true]);
    for (const id of ids) while ((await statusOf(id)) !== 'completed') await sleep(20);
    expect(e.llm.calls).toHaveLength(4);
  });

  it('a failed first attempt is retried by BullMQ after its backoff, counted as the second', async () => {
    e.t.worker();
    e.llm.script(reply.serverError(503), reply.ok('second time'));
    const res = await generate('fail once');
    expect(res.statusCode).toBe(200);
    expect(res.json().choices[0].message.content).toBe('second time');
    const id = res.headers['x-promptlab-job-id'] as string;
    expect(e.llm.calls).toHaveLength(2);
    expect(await rows(await hashOf(id))).toEqual([{ id, status: 'completed', attempts: 2 }]);
    const job = await e.t.queues.generation.getJob(id);
    expect(job?.data.priorAttempts).toBe(1);
    expect(job?.opts.attempts).toBe(e.t.config.JOB_ATTEMPTS - 1);
  });

  it('a cancel aborts a local run: the row is canceled, the upstream was called once', async () => {
    e.t.worker();
    e.llm.setDefault(reply.slow(5000, reply.ok('too late')));
    const id = await admitAsync('cancel me');
    while (e.llm.calls.length < 1) await sleep(10);
    const cancel = await e.t.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: e.auth });
    expect(cancel.statusCode).toBeLessThan(300);
    while ((await statusOf(id)) !== 'canceled') await sleep(20);
    expect(e.llm.calls).toHaveLength(1);
  });
});

describe('a local run longer than its claim', () => {
  it('renews its claim: a duplicate of its job queued meanwhile finds it held and does not call the provider again', async () => {
    await e.t.close();
    // Claims lapse after 500 ms (the lock); the call lasts 2 s, well inside PROVIDER_TIMEOUT_MS.
    e.t = await createTestEnv({ OPENAI_API_KEY: 'sk-openai-test', OPENAI_BASE_URL: e.llm.openaiBaseUrl, WORKER_LOCK_DURATION_MS: '500', WORKER_STALLED_INTERVAL_MS: '500', WORKER_CONCURRENCY: '2' });
    e.auth = await e.t.keyHeader('enterprise');
    e.t.worker();
    e.llm.setDefault(reply.slow(2000, reply.ok('long')));
    const id = await admitAsync('long call');
    while (e.llm.calls.length < 1) await sleep(10);
    await sleep(1000); // the admission's claim is now older than the lock
    // What the reconciler or a Redis that lost its memory would queue: the same generation as a BullMQ job.
    const row = (await e.t.app.svc.jobs.find(id))!;
    expect(await e.t.queues.generation.getJob(id)).toBeUndefined();
    await e.t.queues.generation.add('generate', jobDataOf(row), e.t.queues.jobOptions(id, 1));
    while ((await statusOf(id)) !== 'completed') await sleep(20);
    const job = await e.t.queues.generation.getJob(id);
    while (!(await job!.isCompleted())) await sleep(20); // the duplicate ran to its end: it found the row settled
    expect(e.llm.calls).toHaveLength(1);
    expect(await rows(await hashOf(id))).toEqual([{ id, status: 'completed', attempts: 1 }]);
  });
});
