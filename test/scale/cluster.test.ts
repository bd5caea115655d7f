import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, openApp, type TestEnv } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';
import { startRedisCluster, waitFailover, type RedisCluster } from '../support/redis-cluster.js';
import { readSse } from '../support/sse.js';

/**
 * The cluster variant of each behaviour, once: a real local Redis Cluster of 3 masters and 3
 * replicas (redis-server --cluster-enabled yes, joined by redis-cli --cluster create), every
 * PromptLab connection a cluster client (REDIS_CLUSTER_NODES). What is counted is counted at its
 * source: calls at the fake upstream, rows in Postgres.
 */
let cluster: RedisCluster;
let llm: FakeLlm;
let t: TestEnv | undefined;

beforeAll(async () => {
  [cluster, llm] = await Promise.all([startRedisCluster(3, 1), startFakeLlm()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([cluster?.stop(), llm?.close()]);
});
afterEach(async () => {
  await t?.close();
  t = undefined;
  llm.reset();
});

async function env(extra: Record<string, string> = {}) {
  t = await createTestEnv({ ...cluster.env, ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: llm.openaiBaseUrl, ...extra });
  return t;
}

const rows = async (e: TestEnv) => ((await e.database.db.execute('select status, count(*)::int as n from generations group by status')) as unknown as { rows: { status: string; n: number }[] }).rows;

describe('on a Redis Cluster (3 masters, 3 replicas)', () => {
  it('the pipeline: 40 identical and 60 distinct requests → 61 upstream calls, 61 rows, then all from the cache', async () => {
    const e = await env();
    e.worker();
    const auth = await e.keyHeader('enterprise');
    llm.setDefault(reply.slow(200, reply.ok('clustered')));
    const tpl = (await e.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 't', body: 'About {{topic}}', provider: 'anthropic' } })).json().id;
    const gen = (topic: string) => e.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { topic } } });
    const answers = await Promise.all([...Array.from({ length: 40 }, () => gen('same')), ...Array.from({ length: 60 }, (_, i) => gen(`t${i}`))]);
    expect(answers.every((a) => a.statusCode === 202)).toBe(true);
    const ids = [...new Set(answers.map((a) => a.json().jobId as string))];
    expect(ids).toHaveLength(61);
    for (const id of ids) await waitForStatus(e.app, auth, id, ['completed']);
    expect(llm.calls).toHaveLength(61);
    expect(await rows(e)).toEqual([{ status: 'completed', n: 61 }]);
    const again = await Promise.all([gen('same'), gen('t7')]);
    expect(again.map((a) => a.headers['x-cache'])).toEqual(['HIT', 'HIT']);
    expect(llm.calls).toHaveLength(61);
  }, 60_000);

  it('streams through the job and serves its events over SSE', async () => {
    const e = await env();
    e.worker();
    const key = (await e.keyHeader('enterprise')).authorization!.replace(/^Bearer /, '');
    const base = await e.app.listen({ port: 0, host: '127.0.0.1' });
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'stream on a cluster' }], stream: true });
    let text = '';
    let id = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      id = chunk.id;
    }
    expect(text).toContain('fake upstream reply');
    expect(llm.calls).toHaveLength(1);
    const sse = await readSse(`${base}/v1/jobs/${id}/events`, { authorization: `Bearer ${key}` });
    expect(sse.events.map((ev) => ev.event).filter((ev) => ev !== 'delta')).toEqual(['queued', 'active', 'completed']);
  }, 30_000);

  it('the limiter stays exact across slots: 4 API instances, 3 keys, 750 concurrent requests, 100 each', async () => {
    const e = await env();
    const others = await Promise.all([1, 2, 3].map(() => openApp(e.config)));
    try {
      const apps = [e.app, ...others.map((o) => o.app)];
      const keys = await Promise.all([0, 1, 2].map(async () => (await e.keyHeader('pro')).authorization!));
      const answers = await Promise.all(Array.from({ length: 750 }, (_, i) => apps[i % 4]!.inject({ method: 'GET', url: '/v1/me', headers: { authorization: keys[i % 3]! } })));
      for (const k of keys) {
        const mine = answers.filter((_, i) => keys[i % 3] === k);
        expect(mine.filter((a) => a.statusCode === 200)).toHaveLength(100);
        expect(mine.filter((a) => a.statusCode === 429)).toHaveLength(150);
      }
      // At the source: each key's window holds exactly 100 admissions, and the keys sit in different slots.
      const lists = await scanAll(e, `${e.config.REDIS_PREFIX}:rl:k:*`);
      expect(lists.length).toBeGreaterThanOrEqual(3);
      const lens = await Promise.all(lists.map((k) => e.redis.llen(k)));
      expect(lens.filter((n) => n === 100)).toHaveLength(3);
      expect(new Set(lists.map((k) => calculateSlot(k))).size).toBeGreaterThan(1);
    } finally {
      await Promise.all(others.map((o) => o.close()));
    }
  }, 60_000);

  it('fair queuing: with key A holding 500 queued jobs, key B\'s job starts within the bound over 2 workers', async () => {
    const e = await env({ WORKER_CONCURRENCY: '1', WORKER_PREFETCH: '0', CACHE_LOCAL_TTL_MS: '0' });
    llm.setDefault(reply.slow(3));
    const caller = (keyId: string) => ({ keyId, tier: 'enterprise' as const, admin: false, role: 'member' as const, projectId: 'default' });
    const admit = (keyId: string, prompt: string) => e.app.svc.generation.generateRequest(
      { provider: 'anthropic', model: 'claude-haiku-4-5', messages: [{ role: 'user', content: prompt }], params: { maxTokens: 8 } },
      { caller: caller(keyId), requestId: 'req_test', bypassCache: false, waitMs: 0 });
    for (let i = 0; i < 500; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => admit('key_flood', `a-${i + j}`)));
    e.worker();
    e.worker();
    while (llm.calls.length < 20) await new Promise((r) => setTimeout(r, 10));
    const startedBefore = llm.calls.length;
    await admit('key_victim', 'b-one');
    while (!llm.calls.some((c) => c.prompt === 'b-one')) await new Promise((r) => setTimeout(r, 10));
    const ahead = llm.calls.findIndex((c) => c.prompt === 'b-one') - startedBefore;
    expect(ahead).toBeLessThanOrEqual(3); // K + H: one other key, two jobs held by the workers
    expect(llm.calls.length).toBeLessThan(200);
  }, 60_000);

  it('a key revoked on one instance is refused by another within a second (the bus over cluster pub/sub)', async () => {
    const e = await env();
    const other = await openApp(e.config);
    try {
      const created = (await e.app.inject({ method: 'POST', url: '/v1/api-keys', headers: e.admin, payload: { name: 'r', tier: 'pro' } })).json();
      const headers = { authorization: `Bearer ${created.key}` };
      expect((await other.app.inject({ method: 'GET', url: '/v1/me', headers })).statusCode).toBe(200); // cached there
      expect((await e.app.inject({ method: 'DELETE', url: `/v1/api-keys/${created.id}`, headers: e.admin })).statusCode).toBe(200);
      const t0 = Date.now();
      while ((await other.app.inject({ method: 'GET', url: '/v1/me', headers })).statusCode !== 401) {
        expect(Date.now() - t0).toBeLessThan(1000);
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await other.close();
    }
  }, 30_000);

  it('the dead-letter flow: a job the provider refuses goes dead and dead-lettered, and a replay completes it', async () => {
    const e = await env();
    e.worker();
    const auth = await e.keyHeader('enterprise');
    llm.script(reply.unauthorized());
    const tpl = (await e.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 't', body: 'About {{topic}}', provider: 'anthropic' } })).json().id;
    const id = (await e.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { topic: 'dlq' } } })).json().jobId;
    await waitForStatus(e.app, auth, id, ['dead']);
    const dead = (await e.app.inject({ method: 'GET', url: '/v1/admin/dead-letters', headers: e.admin })).json();
    expect(dead.data.map((d: { jobId?: string; id?: string }) => d.jobId ?? d.id)).toContain(id);
    expect((await e.app.inject({ method: 'POST', url: `/v1/admin/dead-letters/${id}/replay`, headers: e.admin })).statusCode).toBe(202);
    await waitForStatus(e.app, auth, id, ['completed']);
    expect(llm.calls).toHaveLength(2);
  }, 30_000);
});

describe('a master killed under load (3 masters, 3 replicas)', () => {
  it('the limiter refuses (503) only while a slot has no master and never admits past its limit, the cache fails open, and every accepted job completes', async () => {
    const e = await env({ RATE_LIMIT_TIMEOUT_MS: '500' });
    e.worker();
    const admin = await e.keyHeader('enterprise');
    const paced = await e.keyHeader('pro'); // 100 requests a minute
    llm.setDefault(reply.slow(50, reply.ok('through the failover')));
    const tpl = (await e.app.inject({ method: 'POST', url: '/v1/templates', headers: admin, payload: { name: 't', body: 'About {{topic}}', provider: 'anthropic' } })).json().id;
    const cachedId = (await e.app.inject({ method: 'POST', url: '/v1/generate?wait=10', headers: admin, payload: { templateId: tpl, variables: { topic: 'cached' } } })).json().jobId;
    const victim = cluster.nodes[0]!;
    const answers: { status: number; jobId?: string; who: string; at: number }[] = [];
    let killedAt = 0;
    let okAt = 0;
    const t0 = Date.now();
    const send = async (i: number) => {
      const who = i % 3 === 0 ? 'paced' : 'admin';
      const res = await e.app.inject({ method: 'POST', url: '/v1/generate', headers: who === 'paced' ? paced : admin, payload: { templateId: tpl, variables: { topic: i % 10 === 0 ? 'cached' : `load ${i}` } } });
      answers.push({ status: res.statusCode, jobId: res.json().jobId, who, at: Date.now() - t0 });
    };
    const load = (async () => {
      for (let i = 0; Date.now() - t0 < 8000; i++) {
        await Promise.all(Array.from({ length: 5 }, (_, j) => send(i * 5 + j)));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    await victim.kill();
    killedAt = Date.now() - t0;
    await waitFailover(cluster, victim.port);
    okAt = Date.now() - t0;
    await load;
    const byStatus: Record<number, number> = {};
    for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    const refused = answers.filter((a) => a.status === 503);
    const pacedAdmitted = answers.filter((a) => a.who === 'paced' && (a.status === 200 || a.status === 202)).length;
    console.log(`failover: killed at ${killedAt} ms, promoted and ok at ${okAt} ms; answers ${JSON.stringify(byStatus)}; 503s from ${refused[0]?.at ?? '-'} to ${refused.at(-1)?.at ?? '-'} ms; the 100/min key admitted ${pacedAdmitted}`);
    expect(Object.keys(byStatus).map(Number).every((s) => [200, 202, 429, 503].includes(s))).toBe(true);
    // 503 only while a slot had no master (with a 1 s margin for the clients to learn the new map).
    for (const r of refused) {
      expect(r.at).toBeGreaterThanOrEqual(killedAt - 50);
      expect(r.at).toBeLessThanOrEqual(okAt + 1000);
    }
    // The paced key never got past its 100 a minute, failover or not.
    expect(pacedAdmitted).toBeLessThanOrEqual(100);
    // The cached input was answered (from Redis or from Postgres) throughout: never a 5xx other than the limiter's.
    expect(answers.filter((a) => a.jobId === cachedId).every((a) => a.status === 200)).toBe(true);
    // Every accepted job completes, counted in Postgres.
    const accepted = [...new Set(answers.filter((a) => a.status === 202).map((a) => a.jobId!))];
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = (await e.database.db.execute(`select status, count(*)::int as n from generations where id in (${accepted.map((id) => `'${id}'`).join(',')}) group by status`)) as unknown as { rows: { status: string; n: number }[] };
      const done = r.rows.find((x) => x.status === 'completed')?.n ?? 0;
      if (done === accepted.length) break;
      if (Date.now() > deadline) throw new Error(`not all accepted jobs completed: ${JSON.stringify(r.rows)} of ${accepted.length}`);
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(accepted.length).toBeGreaterThan(50);
  }, 120_000);
});

/** Every key matching `pattern` on every master. */
async function scanAll(e: TestEnv, pattern: string): Promise<string[]> {
  const out: string[] = [];
  for (const node of (e.redis as Cluster).nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
  }
  return out;
}
