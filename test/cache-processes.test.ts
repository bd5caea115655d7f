import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reply, startFakeLlm, type FakeLlm } from './fakes/llm-server.js';
import { createTestEnv, type TestEnv } from './support/context.js';
import { waitForStatus } from './support/jobs.js';
import { startRedisServer, type RedisServer } from './support/redis-server.js';
import { freePort, spawnEntry, type Proc } from './support/spawn.js';

let llm: FakeLlm;
let t: TestEnv;
const procs: Proc[] = [];
let redisServer: RedisServer | undefined;

beforeAll(async () => { llm = await startFakeLlm(); });
afterAll(() => llm.close());
afterEach(async () => {
  for (const p of procs.splice(0)) p.child.kill('SIGKILL');
  await t?.close();
  await redisServer?.kill();
  redisServer = undefined;
  llm.setDefault(reply.ok());
});

const providerEnv = () => ({ ANTHROPIC_API_KEY: 'sk-ant-test-secret', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl });

async function api(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const p = spawnEntry('src/server.ts', { ...env, PORT: String(port), LOG_LEVEL: 'info' });
  procs.push(p);
  await p.waitFor(/Server listening/);
  return `http://127.0.0.1:${port}`;
}
async function worker(env: Record<string, string>): Promise<void> {
  const p = spawnEntry('workers/main.ts', { ...env, LOG_LEVEL: 'info' });
  procs.push(p);
  await p.waitFor(/worker started/);
}
const post = async (base: string, path: string, auth: Record<string, string>, body: unknown) => {
  const res = await fetch(base + path, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
};

describe('across processes', () => {
  it('100 concurrent identical requests over 2 API and 2 worker processes: one upstream call, one jobId', async () => {
    t = await createTestEnv(providerEnv());
    const auth = await t.keyHeader('enterprise');
    const [a, b] = await Promise.all([api(t.env), api(t.env), worker(t.env), worker(t.env)]);
    const tpl = (await post(a!, '/v1/templates', auth, { name: 'x', body: 'Once: {{topic}}', provider: 'anthropic' })).body.id;
    llm.calls.length = 0;
    llm.setDefault(reply.slow(500, reply.ok('paid once')));
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => post(i % 2 ? a! : b!, '/v1/generate', auth, { templateId: tpl, variables: { topic: 'same' } })));
    // 202 while the job runs; on a loaded machine some requests land after it completed: 200 with the same job.
    expect(answers.every((r) => r.status === 202 || (r.status === 200 && r.body.cached === true))).toBe(true);
    const ids = new Set(answers.map((r) => r.body.jobId));
    expect(ids.size).toBe(1);
    const job = await waitForStatus(t.app, auth, [...ids][0]!, ['completed']);
    expect(job.result.text).toBe('paid once');
    const late = await Promise.all([post(a!, '/v1/generate', auth, { templateId: tpl, variables: { topic: 'same' } }), post(b!, '/v1/generate', auth, { templateId: tpl, variables: { topic: 'same' } })]);
    expect(late.map((r) => [r.status, r.body.jobId, r.headers.get('x-cache')])).toEqual([[200, job.id, 'HIT'], [200, job.id, 'HIT']]);
    expect(llm.calls).toHaveLength(1);
  }, 60_000);

  it('a template PATCH in one process: the next request on another process uses the new version', async () => {
    t = await createTestEnv({ ...providerEnv(), CACHE_LOCAL_TTL_MS: '600000' });
    const auth = await t.keyHeader('enterprise');
    const other = await api(t.env);
    const tpl = (await post(other, '/v1/templates', auth, { name: 'v', body: 'v1 {{topic}}', provider: 'fake' })).body.id;
    const before = await post(other, '/v1/generate', auth, { templateId: tpl, variables: { topic: 't' } }); // loads v1 into that process's memory
    const patched = await t.app.inject({ method: 'PATCH', url: `/v1/templates/${tpl}`, headers: auth, payload: { body: 'v2 {{topic}}' } });
    expect(patched.json().version).toBe(2);
    const after = await post(other, '/v1/generate', auth, { templateId: tpl, variables: { topic: 't' } });
    const job = (await t.app.inject({ method: 'GET', url: `/v1/jobs/${after.body.jobId}`, headers: auth })).json();
    expect(after.body.jobId).not.toBe(before.body.jobId);
    expect(job.templateVersion).toBe(2);
  }, 60_000);

  it('the cache fails open: with Redis stopped, results come from Postgres and new work is done once Redis is back', async () => {
    redisServer = await startRedisServer();
    t = await createTestEnv({
      ...providerEnv(), REDIS_URL: redisServer.url, RATE_LIMIT_FAIL_OPEN: 'true', CACHE_LOCAL_TTL_MS: '0', SWEEP_INTERVAL_MS: '600',
    });
    const auth = await t.keyHeader('enterprise');
    t.worker();
    const tpl = (await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'f', body: 'Open {{topic}}', provider: 'anthropic' } })).json().id;
    const gen = (topic: string) => t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { topic } } });
    const warm = (await t.app.inject({ method: 'POST', url: '/v1/generate?wait=10', headers: auth, payload: { templateId: tpl, variables: { topic: 'warm' } } })).json();
    expect(warm.status).toBe('completed');
    const port = redisServer.port;
    await redisServer.kill();

    const hit = await gen('warm');
    expect(hit.statusCode).toBe(200);
    expect([hit.headers['x-cache'], hit.headers['x-cache-tier']]).toEqual(['HIT', 'postgres']);
    expect(hit.json()).toMatchObject({ jobId: warm.jobId, cached: true });
    const fresh = await gen('new while redis is down');
    expect(fresh.statusCode).toBe(202);

    redisServer = await startRedisServer({ port });
    const done = await waitForStatus(t.app, auth, fresh.json().jobId, ['completed'], 20_000);
    expect(done.attempts).toBe(1);
  }, 60_000);
});
