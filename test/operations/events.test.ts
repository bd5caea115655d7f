import { describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/redis/keys.js';
import { reply } from '../fakes/llm-server.js';
import { waitForStatus } from '../support/jobs.js';
import { llmEnvPerTest } from '../support/llm-env.js';
import { readSse } from '../support/sse.js';
import { commandsSent } from '../support/commands.js';

const env = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-events' }, { listen: true });

async function generate(variables: Record<string, unknown> = { x: 'hi' }): Promise<string> {
  const tpl = (await env.t.app.inject({ method: 'POST', url: '/v1/templates', headers: env.auth, payload: { name: 'e', body: 'Say {{x}}', provider: 'anthropic' } })).json().id;
  const res = await env.t.app.inject({ method: 'POST', url: '/v1/generate', headers: env.auth, payload: { templateId: tpl, variables } });
  expect(res.statusCode).toBe(202);
  return res.json().jobId;
}

describe('GET /v1/jobs/:id/events', () => {
  it('streams every status change live, ends after the result, resumes from Last-Event-ID, and answers 204 once the client has the end', async () => {
    env.llm.script(reply.serverError(), reply.ok('second time lucky', { inputTokens: 10, outputTokens: 20 }));
    const jobId = await generate();
    const url = `${env.base}/v1/jobs/${jobId}/events`;
    // The worker starts only once the client holds the queued event, so the rest arrives live.
    const sse = await readSse(url, env.auth, { onEvent: (e) => { if (e.event === 'queued') env.t.worker(); } });
    expect(sse.status).toBe(200);
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(sse.headers.get('x-request-id')).toBeTruthy();
    expect(sse.events.map((e) => e.event)).toEqual(['queued', 'active', 'retrying', 'active', 'completed']);
    expect(sse.events.map((e) => e.data.attempt ?? e.data.attempts)).toEqual([undefined, 1, 1, 2, 2]);
    expect(sse.events[2]!.data).toMatchObject({ jobId, status: 'failed', error: { code: 'provider_server_error' } });
    expect(sse.events[4]!.data).toMatchObject({
      jobId, status: 'completed', result: { text: 'second time lucky' }, usage: { inputTokens: 10, outputTokens: 20, totalTokens: 30 },
    });
    for (const e of sse.events) expect(e.id).toMatch(/^\d+-\d+$/);

    const resumed = await readSse(url, { ...env.auth, 'last-event-id': sse.events[1]!.id! });
    expect(resumed.events.map((e) => e.event)).toEqual(['retrying', 'active', 'completed']);
    expect(resumed.events.map((e) => e.id)).toEqual(sse.events.slice(2).map((e) => e.id));

    const after = await readSse(`${url}?lastEventId=${sse.events[4]!.id}`, env.auth);
    expect(after.status).toBe(204);
    expect(after.events).toEqual([]);
  });

  it('a job that already ended sends its final event at once, rebuilt from Postgres when its stream is gone', async () => {
    env.t.worker();
    const jobId = await generate();
    await waitForStatus(env.t.app, env.auth, jobId, ['completed']);
    await env.t.redis.del(redisKeys(env.t.config.REDIS_PREFIX).events(jobId));
    const sse = await readSse(`${env.base}/v1/jobs/${jobId}/events`, env.auth);
    expect(sse.events).toHaveLength(1);
    expect(sse.events[0]).toMatchObject({ event: 'completed', id: expect.stringMatching(/^\d+-\d+$/), data: { jobId, status: 'completed', result: { text: expect.any(String) } } });
    const again = await readSse(`${env.base}/v1/jobs/${jobId}/events`, { ...env.auth, 'last-event-id': sse.events[0]!.id! });
    expect(again.status).toBe(204);
  });

  it('a job that dies ends the stream with dead and its error', async () => {
    env.llm.script(reply.unauthorized());
    env.t.worker();
    const jobId = await generate();
    const sse = await readSse(`${env.base}/v1/jobs/${jobId}/events`, env.auth);
    expect(sse.events.map((e) => e.event)).toEqual(['queued', 'active', 'dead']);
    expect(sse.events[2]!.data).toMatchObject({ jobId, status: 'dead', attempts: 1, error: { code: 'provider_auth_failed' } });
  });

  it('a replayed job streams its new run, not the earlier one that died', async () => {
    env.llm.script(reply.unauthorized());
    env.t.worker();
    const jobId = await generate();
    await waitForStatus(env.t.app, env.auth, jobId, ['dead']);
    expect((await env.t.app.inject({ method: 'POST', url: `/v1/admin/dead-letters/${jobId}/replay`, headers: env.t.admin })).statusCode).toBe(202);
    const sse = await readSse(`${env.base}/v1/jobs/${jobId}/events`, env.auth);
    expect(sse.events.map((e) => e.event)).toEqual(['queued', 'active', 'completed']);
  });

  it('a delta renews no TTL; every other event renews it', async () => {
    const events = env.t.app.svc.events;
    const key = events.key('gen_ttl_probe');
    await events.publish('gen_ttl_probe', 'active', { attempt: 1 });
    expect(await env.t.redis.ttl(key)).toBeGreaterThan(3500);
    await env.t.redis.expire(key, 100);
    for (let i = 0; i < 3; i++) await events.publish('gen_ttl_probe', 'delta', { text: `piece ${i}`, attempt: 1 });
    expect(await env.t.redis.ttl(key)).toBeLessThanOrEqual(100);
    await events.publish('gen_ttl_probe', 'completed', {});
    expect(await env.t.redis.ttl(key)).toBeGreaterThan(3500);
    expect(await env.t.redis.xlen(key)).toBe(5);
  });

  it('the events of one turn go as one script call, in order; a key holding something else fails only its own', async () => {
    const { events } = env.t.app.svc;
    const redis = env.t.redis;
    await redis.set(events.key('gen_not_a_stream'), 'x');
    const jobs = ['gen_turn_a', 'gen_turn_b', 'gen_turn_c'];
    let published: unknown[] = [];
    const sent = await commandsSent(redis, async () => {
      published = await Promise.all([
        ...jobs.flatMap((j) => [events.publish(j, 'queued'), events.publish(j, 'active', { attempt: 1 }), events.publish(j, 'delta', { text: j, attempt: 1 })]),
        events.publish('gen_not_a_stream', 'queued'),
        ...jobs.map((j) => events.publish(j, 'completed')),
      ]);
    });
    expect(sent.filter((c) => c !== 'evalsha' && c !== 'eval')).toEqual([]);
    expect(sent.length).toBeLessThanOrEqual(2); // one EVALSHA (an EVAL after it the first time the script is loaded)
    expect(published[9]).toBeUndefined();
    expect(published.filter((e) => e === undefined)).toHaveLength(1);
    for (const j of jobs) {
      expect((await events.after(j)).map((e) => e.type)).toEqual(['queued', 'active', 'delta', 'completed']);
      expect(await redis.ttl(events.key(j))).toBeGreaterThan(3500);
    }
  });

  it('answers errors as JSON before any stream: 404 for an unknown job, 401 without a key', async () => {
    const missing = await fetch(`${env.base}/v1/jobs/gen_nope/events`, { headers: env.auth });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'job_not_found' } });
    expect((await fetch(`${env.base}/v1/jobs/gen_nope/events`)).status).toBe(401);
  });

  it('closing the server ends open streams instead of waiting for them', async () => {
    const jobId = await generate(); // no worker: the job stays queued
    const reading = readSse(`${env.base}/v1/jobs/${jobId}/events`, env.auth, {
      onEvent: (e) => { if (e.event === 'queued') void env.t.app.close(); },
    });
    const sse = await reading;
    expect(sse.events.map((e) => e.event)).toEqual(['queued']);
  });
});
