import { Worker } from 'bullmq';
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { generations } from '../src/db/schema.js';
import { GENERATION_QUEUE } from '../src/queue/queues.js';
import { bullConnection } from '../src/redis/client.js';
import { redisKeys } from '../src/redis/keys.js';
import { OutcomeStash } from '../workers/outcome-stash.js';
import { reconcile } from '../workers/reconciler.js';
import type { RunningWorker } from '../workers/worker.js';
import { openDatabase } from '../src/db/client.js';
import { reply } from './fakes/llm-server.js';
import { startTcpProxy } from './support/tcp-proxy.js';
import { llmEnvPerTest } from './support/llm-env.js';
import { waitForStatus } from './support/jobs.js';
import { buildServices } from '../src/services/index.js';

/**
 * Rows whose job ended without the processor settling them, made for real:
 * BullMQ's manual-processing API takes the job and fails it the way the
 * stalled-job check or an exhausted retry budget does.
 */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test' });

async function admitted(topic: string): Promise<string> {
  const tpl = (await e.t.app.inject({ method: 'POST', url: '/v1/templates', headers: e.auth, payload: { name: 'r', body: 'About {{topic}}', provider: 'anthropic' } })).json().id;
  const res = await e.t.app.inject({ method: 'POST', url: '/v1/generate', headers: e.auth, payload: { templateId: tpl, variables: { topic } } });
  return res.json().jobId as string;
}

/** Takes the job as a worker would (row `active`), then fails it for good with `reason`, the processor never settling the row. */
async function failOutsideProcessor(jobId: string, reason: string): Promise<void> {
  const w = new Worker(GENERATION_QUEUE, null, { connection: bullConnection(e.t.config).connection, prefix: redisKeys(e.t.config.REDIS_PREFIX).bull(GENERATION_QUEUE) });
  try {
    const job = await w.getNextJob('tok');
    expect(job?.id).toBe(jobId);
    await e.t.database.db.update(generations).set({ status: 'active', attempts: 1 }).where(eq(generations.id, jobId));
    job!.opts.attempts = 1;
    await job!.moveToFailed(new Error(reason), 'tok');
  } finally {
    await w.close();
  }
}

const run = () => reconcile({
  jobs: e.t.app.svc.jobs, ledger: e.t.app.svc.ledger, queues: e.t.queues, log: e.t.app.log as never, graceMs: 0, attemptMs: 60_000,
  stash: new OutcomeStash(e.t.redis, e.t.config.REDIS_PREFIX, e.t.app.log as never), afterSettle: e.t.app.svc.afterSettle,
});

describe('the reconciler settles what no processor will', () => {
  it('a job failed by the stalled-job limit: dead with worker_lost, dead-lettered, and the input open again', async () => {
    const id = await admitted('stalled');
    await failOutsideProcessor(id, 'job stalled more than allowable limit');
    expect(await run()).toEqual({ enqueued: 0, rerun: 0, dead: 1, canceled: 0 });
    const job = (await e.t.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: e.auth })).json();
    expect(job).toMatchObject({ status: 'dead', error: { code: 'worker_lost' } });
    expect(await e.t.queues.deadLetter.getJob(id)).toBeTruthy();
    expect(await run()).toEqual({ enqueued: 0, rerun: 0, dead: 0, canceled: 0 }); // settled once

    e.t.worker();
    const tpl = job.templateId as string;
    const again = (await e.t.app.inject({ method: 'POST', url: '/v1/generate?wait=10', headers: e.auth, payload: { templateId: tpl, variables: { topic: 'stalled' } } })).json();
    expect(again).toMatchObject({ status: 'completed' });
    expect(again.jobId).not.toBe(id);
  });

  it('a job that ended with a paid answer it could not record runs again and records it without a second call', async () => {
    const id = await admitted('stashed');
    await failOutsideProcessor(id, 'connect ECONNREFUSED 127.0.0.1:5432');
    await new OutcomeStash(e.t.redis, e.t.config.REDIS_PREFIX, e.t.app.log as never)
      .save(id, { text: 'paid once', json: undefined, finishReason: 'stop', inputTokens: 10, outputTokens: 5, costUsd: 0.00001 });
    expect(await run()).toEqual({ enqueued: 0, rerun: 1, dead: 0, canceled: 0 });
    e.t.worker();
    const job = await waitForStatus(e.t.app, e.auth, id, ['completed', 'dead']);
    expect(job).toMatchObject({ status: 'completed', result: { text: 'paid once' }, usage: { inputTokens: 10, outputTokens: 5 } });
    expect(e.llm.calls).toHaveLength(0);
    expect(await e.t.redis.exists(`${e.t.config.REDIS_PREFIX}:outcome:${id}`)).toBe(0);
  });

  it('a job that ended with nothing to record: dead with job_lost', async () => {
    const id = await admitted('lost');
    await failOutsideProcessor(id, 'connect ECONNREFUSED 127.0.0.1:5432');
    expect(await run()).toEqual({ enqueued: 0, rerun: 0, dead: 1, canceled: 0 });
    expect((await e.t.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: e.auth })).json()).toMatchObject({ status: 'dead', error: { code: 'job_lost' } });
  });

  it('a row a run still holds is never run twice: a second claim is busy, and a lost job of a fresh claim is not enqueued again', async () => {
    const id = await admitted('held');
    const { ledger } = e.t.app.svc;
    expect(await ledger.claim(id)).toBe('claimed');
    expect(await ledger.claim(id)).toBe('busy'); // a duplicate run, while the first may be calling the provider
    await e.t.queues.generation.remove(id);
    expect(await run()).toEqual({ enqueued: 0, rerun: 0, dead: 0, canceled: 0 }); // claimed just now: it may still be running
    await e.t.database.db.execute(sql`update generations set claimed_at = now() - interval '2 minutes' where id = ${id}`);
    expect(await run()).toEqual({ enqueued: 1, rerun: 0, dead: 0, canceled: 0 }); // past any attempt's time: its run is gone
    expect(await ledger.claim(id)).toBe('claimed'); // and a claim that old may be taken over
  });

  it('an in-flight row whose job Redis lost is enqueued again under its id, and completes once', async () => {
    const id = await admitted('missing');
    await e.t.queues.generation.remove(id);
    expect(await run()).toEqual({ enqueued: 1, rerun: 0, dead: 0, canceled: 0 });
    expect(await run()).toEqual({ enqueued: 0, rerun: 0, dead: 0, canceled: 0 }); // waiting now: left alone
    e.t.worker();
    expect(await waitForStatus(e.t.app, e.auth, id, ['completed'])).toMatchObject({ status: 'completed' });
    expect(e.llm.calls).toHaveLength(1);
  });
});

describe('Postgres lost between the provider answer and the write', () => {
  it('the paid answer is stashed, every attempt fails, and once Postgres is back the reconciler records it: one call', async () => {
    const proxy = await startTcpProxy(5432);
    let w: RunningWorker | undefined;
    const database = await openDatabase({ url: e.t.env.DATABASE_URL!.replace(':5432/', `:${proxy.port}/`), dataDir: '' });
    // The worker's own services on that database, as a worker process has them.
    const services = await buildServices({ config: e.t.config, registry: e.t.app.deps.registry, db: database.db, redis: e.t.redis, queues: e.t.queues, log: e.t.app.log as never, role: 'worker' });
    try {
      e.llm.setDefault(reply.slow(400, reply.ok('worth keeping')));
      const id = await admitted('outage');
      w = e.t.worker({ database, svc: services.svc });
      while (e.llm.calls.length < 1) await new Promise((r) => setTimeout(r, 10));
      proxy.setDown(true); // the provider is answering; the worker's writes will find no Postgres
      while ((await e.t.queues.generation.getJobState(id)) !== 'failed') await new Promise((r) => setTimeout(r, 50));
      expect(await e.t.redis.exists(`${e.t.config.REDIS_PREFIX}:outcome:${id}`)).toBe(1);
      proxy.setDown(false);
      expect(await run()).toEqual({ enqueued: 0, rerun: 1, dead: 0, canceled: 0 });
      const job = await waitForStatus(e.t.app, e.auth, id, ['completed', 'dead'], 30_000);
      expect(job).toMatchObject({ status: 'completed', result: { text: 'worth keeping' } });
      expect(e.llm.calls).toHaveLength(1);
    } finally {
      proxy.setDown(false);
      await w?.close();
      await services.close();
      await database.close().catch(() => {});
      await proxy.close();
    }
  });

  it('never brings back a canceled job; cancels a queued one past its Cancel-After', async () => {
    const id = await admitted('canceled');
    expect((await e.t.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: e.auth })).json().status).toBe('canceled');
    expect(await run()).toEqual({ enqueued: 0, rerun: 0, dead: 0, canceled: 0 });
    expect(await e.t.queues.generation.getJob(id)).toBeFalsy();

    const overdue = await admitted('overdue');
    await e.t.database.db.update(generations).set({ cancelAt: new Date(Date.now() - 1000) }).where(eq(generations.id, overdue));
    expect(await run()).toEqual({ enqueued: 0, rerun: 0, dead: 0, canceled: 1 });
    for (const j of [id, overdue]) {
      expect((await e.t.app.inject({ method: 'GET', url: `/v1/jobs/${j}`, headers: e.auth })).json().status).toBe('canceled');
    }
  });
});
