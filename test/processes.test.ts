import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generations } from '../src/db/schema.js';
import { reply, startFakeLlm, type FakeLlm } from './fakes/llm-server.js';
import { createTestEnv, type TestEnv } from './support/context.js';
import { waitForStatus } from './support/jobs.js';
import { freePort, spawnEntry, type Proc } from './support/spawn.js';

let llm: FakeLlm;
let t: TestEnv;
let auth: Record<string, string>;
const procs: Proc[] = [];

beforeAll(async () => { llm = await startFakeLlm(); });
afterAll(() => llm.close());

describe('separate worker processes', () => {
  beforeEach(async () => {
    t = await createTestEnv({
      ANTHROPIC_API_KEY: 'sk-ant-test-secret', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl,
      WORKER_LOCK_DURATION_MS: '1000', WORKER_STALLED_INTERVAL_MS: '500', LOG_LEVEL: 'info',
    });
    auth = await t.keyHeader('enterprise');
    llm.reset();
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) p.child.kill('SIGKILL');
    llm.setDefault(reply.ok());
    await t.close();
  });

  const startWorkerProc = async () => {
    const p = spawnEntry('workers/main.ts', t.env);
    procs.push(p);
    await p.waitFor(/worker started/);
    return p;
  };
  const generate = async () => {
    const tpl = (await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'p', body: 'Say {{x}}', provider: 'anthropic' } })).json().id;
    return (await t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { x: 'hi' } } })).json().jobId as string;
  };
  const untilCalls = async (n: number) => {
    while (llm.calls.length < n) await new Promise((r) => setTimeout(r, 20));
  };

  it('a worker killed with SIGKILL mid-job loses nothing: another finishes it, one stored result', async () => {
    llm.script(reply.slow(60_000, reply.ok('never arrives')));
    llm.setDefault(reply.ok('finished by the second worker'));
    const a = await startWorkerProc();
    const jobId = await generate();
    await untilCalls(1);
    a.child.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');

    await startWorkerProc();
    const job = await waitForStatus(t.app, auth, jobId, ['completed', 'dead'], 20_000);
    expect(job).toMatchObject({ status: 'completed', attempts: 2, result: { text: 'finished by the second worker' } });
    expect(llm.calls).toHaveLength(2);
    const rows = await t.database.db.select().from(generations).where(eq(generations.inputHash, job.inputHash));
    expect(rows).toHaveLength(1);
    const cached = JSON.parse((await t.redis.get(`${t.config.REDIS_PREFIX}:cache:${job.inputHash}`))!);
    expect(cached.jobId).toBe(jobId);
  });

  it('SIGTERM drains: the in-flight job finishes before the worker exits', async () => {
    llm.script(reply.slow(1500, reply.ok('drained')));
    const a = await startWorkerProc();
    const jobId = await generate();
    await untilCalls(1);
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(a.output()).toMatch(/draining in-flight jobs/);
    const job = (await t.app.inject({ method: 'GET', url: `/v1/jobs/${jobId}`, headers: auth })).json();
    expect(job).toMatchObject({ status: 'completed', result: { text: 'drained' }, attempts: 1 });
    expect(llm.calls).toHaveLength(1);
  });
});

describe('npm start on embedded defaults', () => {
  let dir: string;
  let prefix: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'promptlab-'));
    prefix = `plt_embedded_${process.pid}`;
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts from an empty data dir: PGlite, a spawned redis-server, the fake provider, a printed admin key', async () => {
    const [port, redisPort] = [await freePort(), await freePort()];
    const env = { PROMPTLAB_DATA_DIR: dir, PORT: String(port), REDIS_URL: `redis://127.0.0.1:${redisPort}`, REDIS_PREFIX: prefix, FAKE_LATENCY_MS: '0', LOG_LEVEL: 'info' };
    const boot = async () => {
      const p = spawnEntry('src/main.ts', env);
      procs.push(p);
      await p.waitFor(/Server listening/, 30_000);
      return p;
    };
    const first = await boot();
    const adminKey = readFileSync(join(dir, 'admin-key'), 'utf8').trim();
    expect(first.output()).toContain(adminKey);
    expect(first.output()).toMatch(/"database":"pglite"/);
    const base = `http://127.0.0.1:${port}`;
    const post = async (path: string, key: string, body: unknown): Promise<any> =>
      (await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
    const { key } = await post('/v1/api-keys', adminKey, { name: 'laptop' });
    const tpl = await post('/v1/templates', key, { name: 'demo', body: 'Hello {{name}}' });
    const gen = await post('/v1/generate?wait=10', key, { templateId: tpl.id, variables: { name: 'PGlite' } });
    expect(gen).toMatchObject({ status: 'completed', result: { text: expect.stringContaining('[fake]') } });
    const job = await (await fetch(`${base}/v1/jobs/${gen.jobId}`, { headers: { authorization: `Bearer ${key}` } })).json();
    expect(job).toMatchObject({ provider: 'fake', model: 'fake-1' });
    expect((await fetch(`${base}/ready`)).status).toBe(200);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const probe = new Redis(env.REDIS_URL, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    await expect(probe.connect()).rejects.toThrow(); // the spawned redis-server stopped with us
    probe.disconnect();

    const second = await boot(); // same data dir: same admin key, not printed again, data kept
    expect(second.output()).not.toContain(adminKey);
    const again: any = await (await fetch(`${base}/v1/templates/${tpl.id}`, { headers: { authorization: `Bearer ${key}` } })).json();
    expect(again.name).toBe('demo');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 90_000);
});
