import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * A Redis that hangs (SIGSTOP: connections open, no answers) under
 * RATE_LIMIT_FAIL_OPEN, with the production budgets: every await on Redis on
 * the generate path is bounded, so POST /v1/generate answers within their sum,
 * RATE_LIMIT_TIMEOUT_MS 50 (auth's failed-attempts check, for a key not yet
 * known valid) + 50 (limiter) + CACHE_TIMEOUT_MS 100 + the enqueue wait 1000
 * + the `queued` event's 250 = 1450 ms, plus Postgres. Asserted against a
 * generous 5 s: this is a hang test, the times are printed, not asserted.
 */
const BOUND_MS = 5000;

let llm: FakeLlm;
let t: TestEnv | undefined;
let server: RedisServer | undefined;

beforeAll(async () => { llm = await startFakeLlm(); });
afterAll(() => llm.close());
afterEach(async () => {
  server?.resume(); // so the env's clients and worker can close
  await t?.close();
  await server?.kill();
  t = server = undefined;
});

it('with Redis hung, a cached input is answered from Postgres (200) and a new one admitted (202), both without hanging', async () => {
  server = await startRedisServer();
  t = await createTestEnv({
    ANTHROPIC_API_KEY: 'sk-ant-test-secret', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl, REDIS_URL: server.url,
    RATE_LIMIT_FAIL_OPEN: 'true', RATE_LIMIT_TIMEOUT_MS: '50', CACHE_TIMEOUT_MS: '100', CACHE_LOCAL_TTL_MS: '0', SWEEP_INTERVAL_MS: '600',
  });
  llm.setDefault(reply.ok());
  const auth = await t.keyHeader('enterprise');
  t.worker();
  const app = t.app;
  const tpl = (await app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'h', body: 'Hang {{topic}}', provider: 'anthropic' } })).json().id;
  const gen = async (topic: string) => {
    const started = performance.now();
    const res = await app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { topic } } });
    return { res, ms: performance.now() - started };
  };
  const warm = (await app.inject({ method: 'POST', url: '/v1/generate?wait=10', headers: auth, payload: { templateId: tpl, variables: { topic: 'warm' } } })).json();
  expect(warm.status).toBe('completed');

  server.pause();
  const hit = await gen('warm');
  const miss = await gen('new while redis hangs');
  console.log(`Redis hung: cache hit answered in ${hit.ms.toFixed(0)} ms, miss in ${miss.ms.toFixed(0)} ms (budgets sum to 1450 ms)`);

  expect(hit.res.statusCode).toBe(200);
  expect([hit.res.headers['x-cache'], hit.res.headers['x-cache-tier']]).toEqual(['HIT', 'postgres']);
  expect(hit.res.json()).toMatchObject({ jobId: warm.jobId, cached: true });
  expect(hit.ms).toBeLessThan(BOUND_MS);
  expect(miss.res.statusCode).toBe(202);
  expect(miss.ms).toBeLessThan(BOUND_MS);

  // The admitted job is not lost: it runs once Redis answers again.
  server.resume();
  expect((await waitForStatus(app, auth, miss.res.json().jobId, ['completed'], 20_000)).status).toBe('completed');
}, 60_000);

it('with Redis hung, POST /v1/batches admits (201) and the event stream of a completed job is answered from Postgres, both without hanging', async () => {
  server = await startRedisServer();
  t = await createTestEnv({
    ANTHROPIC_API_KEY: 'sk-ant-test-secret', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl, REDIS_URL: server.url,
    RATE_LIMIT_FAIL_OPEN: 'true', RATE_LIMIT_TIMEOUT_MS: '50', CACHE_TIMEOUT_MS: '100', CACHE_LOCAL_TTL_MS: '0', SWEEP_INTERVAL_MS: '600',
  });
  llm.setDefault(reply.ok());
  const auth = await t.keyHeader('enterprise');
  t.worker();
  const app = t.app;
  const tpl = (await app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'h', body: 'Hang {{topic}}', provider: 'anthropic' } })).json().id;
  const done = (await app.inject({ method: 'POST', url: '/v1/generate?wait=10', headers: auth, payload: { templateId: tpl, variables: { topic: 'done' } } })).json();
  expect(done.status).toBe('completed');

  server.pause();
  let started = performance.now();
  const batch = await app.inject({ method: 'POST', url: '/v1/batches', headers: auth, payload: { templateId: tpl, items: [{ variables: { topic: 'b1' } }, { variables: { topic: 'b2' } }] } });
  const batchMs = performance.now() - started;
  started = performance.now();
  const events = await app.inject({ method: 'GET', url: `/v1/jobs/${done.jobId}/events`, headers: auth });
  const eventsMs = performance.now() - started;
  console.log(`Redis hung: batch admitted in ${batchMs.toFixed(0)} ms, a completed job's events answered in ${eventsMs.toFixed(0)} ms`);
  expect(batch.statusCode).toBe(201);
  expect(batchMs).toBeLessThan(BOUND_MS);
  expect(events.statusCode).toBe(200);
  expect(events.body).toMatch(/event: completed\ndata: \{"jobId":"gen_[^"]+","status":"completed"/);
  expect(eventsMs).toBeLessThan(BOUND_MS);

  // What the batch admitted is not lost: it runs once Redis answers again.
  server.resume();
  const id = batch.json().id as string;
  await expect.poll(async () => (await app.inject({ method: 'GET', url: `/v1/batches/${id}`, headers: auth })).json().status, { timeout: 20_000 }).toBe('completed');
}, 60_000);
