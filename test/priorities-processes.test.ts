import { afterEach, describe, expect, it } from 'vitest';
import type { Caller } from '../src/auth/caller.js';
import type { GenerationRequest } from '../src/llm/request.js';
import { reply } from './fakes/llm-server.js';
import { waitForStatus } from './support/jobs.js';
import { llmEnvPerTest } from './support/llm-env.js';
import { spawnEntry, type Proc } from './support/spawn.js';

/**
 * Fairness and cancel where they must hold: workers in processes of their own, sharing
 * nothing with the API but Redis and Postgres. Counted at the fake provider.
 */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', CACHE_LOCAL_TTL_MS: '0' });
const procs: Proc[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) p.child.kill('SIGKILL');
});

async function workerProcess(): Promise<Proc> {
  const p = spawnEntry('workers/main.ts', {
    ...e.t.env, ANTHROPIC_BASE_URL: e.llm.anthropicBaseUrl, ANTHROPIC_API_KEY: 'sk-ant-test',
    WORKER_CONCURRENCY: '1', WORKER_PREFETCH: '0', WORKER_METRICS_PORT: '0', LOG_LEVEL: 'info',
  });
  procs.push(p);
  await p.waitFor(/worker started/, 30_000);
  return p;
}

const caller = (keyId: string): Caller => ({ keyId, tier: 'enterprise', admin: false, role: 'member', projectId: 'default' });
const request = (prompt: string): GenerationRequest => ({ provider: 'anthropic', model: 'claude-haiku-4-5', messages: [{ role: 'user', content: prompt }], params: { maxTokens: 8 } });
const admit = (keyId: string, prompt: string) =>
  e.t.app.svc.generation.generateRequest(request(prompt), { caller: caller(keyId), requestId: 'req_test', bypassCache: false, waitMs: 0 });
const until = async (check: () => boolean, ms = 30_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('across worker processes', () => {
  it('key A floods 5,000 jobs; key B\'s job starts within K + H = 3 starts over 2 worker processes', async () => {
    e.llm.setDefault(reply.slow(3));
    for (let i = 0; i < 5000; i += 250) await Promise.all(Array.from({ length: 250 }, (_, j) => admit('key_flood', `a-${i + j}`)));
    await Promise.all([workerProcess(), workerProcess()]);
    await until(() => e.llm.calls.length >= 50);
    const b = await admit('key_victim', 'b-one');
    const admittedAt = Date.now();
    await until(() => e.llm.calls.some((c) => c.prompt === 'b-one'));
    const bIndex = e.llm.calls.findIndex((c) => c.prompt === 'b-one');
    const ahead = e.llm.calls.slice(0, bIndex).filter((c) => c.at >= admittedAt).length;
    console.log(`fairness (2 worker processes): B started after ${ahead} starts; ${5000 - bIndex} of A's jobs still waiting`);
    expect(ahead).toBeLessThanOrEqual(3);
    expect(5000 - bIndex).toBeGreaterThan(4000);
    await waitForStatus(e.t.app, e.auth, b.body.jobId, ['completed']);
  }, 120_000);

  it('a cancel reaches the attempt running in another process: connection closed, row canceled', async () => {
    await workerProcess();
    e.llm.script(reply.slow(20_000));
    const job = await admit('key_a', 'long one');
    await until(() => e.llm.calls.length === 1);
    await waitForStatus(e.t.app, e.auth, job.body.jobId, ['active']);
    const res = await e.t.app.inject({ method: 'POST', url: `/v1/jobs/${job.body.jobId}/cancel`, headers: e.auth });
    expect(res.statusCode).toBe(202);
    await waitForStatus(e.t.app, e.auth, job.body.jobId, ['canceled'], 10_000);
    await until(() => e.llm.calls[0]!.closedEarly === true, 10_000);
  }, 60_000);
});
