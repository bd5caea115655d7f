import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { ADMIN_KEY, createTestEnv, type TestEnv } from '../support/context.js';
import { parseMetrics, sample } from '../support/metrics.js';
import { freePort, spawnEntry, type Proc } from '../support/spawn.js';
import { readSse } from '../support/sse.js';

const ANTHROPIC_KEY = 'sk-ant-observe-secret-1b2c3d';
const OPENAI_KEY = 'sk-openai-observe-secret-4e5f6a';
const BOGUS_KEY = 'pl_bogus-presented-key-7a8b9c';

let llm: FakeLlm;
let t: TestEnv;
let api: Proc;
let worker: Proc;
let base: string;
let workerMetrics: string;

beforeAll(async () => {
  llm = await startFakeLlm();
  const [port, metricsPort] = [await freePort(), await freePort()];
  t = await createTestEnv({
    ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: llm.anthropicBaseUrl,
    OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: llm.openaiBaseUrl,
    LOG_LEVEL: 'trace', PORT: String(port), WORKER_METRICS_PORT: String(metricsPort),
  });
  api = spawnEntry('src/server.ts', t.env);
  worker = spawnEntry('workers/main.ts', t.env);
  await Promise.all([api.waitFor(/Server listening/), worker.waitFor(/worker started/)]);
  base = `http://127.0.0.1:${port}`;
  workerMetrics = `http://127.0.0.1:${metricsPort}/metrics`;
}, 60_000);
afterAll(async () => {
  for (const p of [api, worker]) p?.child.kill('SIGKILL');
  await t?.close();
  await llm?.close();
});

const post = (path: string, key: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json();
const logLines = (p: Proc) => p.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);

describe('an API process and a worker process', () => {
  let apiKey: string;

  it('SSE delivers the whole sequence of a job run by the separate worker; both processes serve metrics', async () => {
    apiKey = (await json(post('/v1/api-keys', ADMIN_KEY, { name: 'observer', tier: 'enterprise' }))).key;
    const tpl = (await json(post('/v1/templates', apiKey, { name: 'o', body: 'Observe {{x}}', provider: 'anthropic' }))).id;
    llm.script(reply.serverError(), reply.ok('seen through', { inputTokens: 7, outputTokens: 9 }));
    const gen = await post('/v1/generate', apiKey, { templateId: tpl, variables: { x: 1 } }, { 'x-request-id': 'req-observe-1' });
    expect(gen.status).toBe(202);
    expect(gen.headers.get('x-request-id')).toBe('req-observe-1');
    const { jobId } = await json(gen);

    const sse = await readSse(`${base}/v1/jobs/${jobId}/events`, { authorization: `Bearer ${apiKey}` });
    expect(sse.events.map((e) => e.event)).toEqual(['queued', 'active', 'retrying', 'active', 'completed']);
    expect(sse.events.at(-1)!.data).toMatchObject({ jobId, status: 'completed', attempts: 2, result: { text: 'seen through' } });

    const openaiTpl = (await json(post('/v1/templates', apiKey, { name: 'o2', body: 'Also {{x}}', provider: 'openai' }))).id;
    const viaOpenai = await json(post('/v1/generate?wait=20', apiKey, { templateId: openaiTpl, variables: { x: 2 } }));
    expect(viaOpenai).toMatchObject({ status: 'completed' });

    const w = parseMetrics(await (await fetch(workerMetrics)).text());
    expect(sample(w, 'promptlab_provider_requests_total', { provider: 'anthropic', outcome: 'provider_server_error' })).toBe(1);
    expect(sample(w, 'promptlab_provider_requests_total', { provider: 'anthropic', outcome: 'success' })).toBe(1);
    expect(sample(w, 'promptlab_provider_requests_total', { provider: 'openai', model: 'gpt-4o-mini', outcome: 'success' })).toBe(1);
    expect(sample(w, 'promptlab_jobs_total', { status: 'completed' })).toBe(2);
    expect(sample(w, 'promptlab_tokens_total', { provider: 'anthropic', type: 'output' })).toBe(9);
    const a = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    expect(sample(a, 'promptlab_http_request_duration_seconds', { route: '/v1/generate', status: '202' })).toBe(1);
    expect(sample(a, 'promptlab_queue_jobs', { queue: 'generation', state: 'completed' })).toBe(2);
  });

  it('logs one line per request and the job lines under the same request id; no secret in any log', async () => {
    expect((await fetch(`${base}/v1/jobs`, { headers: { authorization: `Bearer ${BOGUS_KEY}` } })).status).toBe(401);
    const basic = `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}`;
    expect((await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization: basic } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200)); // let the last lines reach the pipes

    const requests = logLines(api).filter((l) => l.msg === 'request completed');
    const generate = requests.filter((l) => l.requestId === 'req-observe-1');
    expect(generate).toHaveLength(1);
    expect(generate[0]).toMatchObject({ method: 'POST', route: '/v1/generate', status: 202, keyId: expect.stringMatching(/^key_/), durationMs: expect.any(Number) });
    expect(requests.find((l) => l.path === '/v1/jobs' && l.status === 401)).toBeDefined();
    expect(logLines(api).some((l) => l.msg === 'incoming request')).toBe(false);

    const jobLines = logLines(worker).filter((l) => l.requestId === 'req-observe-1');
    expect(jobLines.map((l) => l.msg)).toEqual(expect.arrayContaining(['attempt failed, will retry', 'job completed']));
    expect(jobLines.find((l) => l.msg === 'job completed')).toMatchObject({
      jobId: expect.stringMatching(/^gen_/), attempt: 2, provider: 'anthropic', model: 'claude-haiku-4-5',
      inputTokens: 7, outputTokens: 9, costUsd: expect.any(Number), durationMs: expect.any(Number),
    });

    // Every secret was used: the admin key (API and board), an API key, a wrong key, both provider keys.
    expect(requests.filter((l) => l.keyId === 'admin').map((l) => l.route)).toEqual(['/v1/api-keys', '/admin/queues/api/queues']);
    expect(new Set(llm.calls.map((c) => c.dialect))).toEqual(new Set(['anthropic', 'openai']));
    const everything = api.output() + worker.output();
    for (const secret of [ADMIN_KEY, apiKey, ANTHROPIC_KEY, OPENAI_KEY, BOGUS_KEY, basic.slice(6)]) {
      expect(everything.includes(secret), `a log contains ${secret.slice(0, 12)}…`).toBe(false);
    }
  });

  it('SIGTERM: the API stops accepting, finishes the request in flight, and exits 0', async () => {
    const tpl = (await json(post('/v1/templates', apiKey, { name: 'slow', body: 'Slowly {{x}}', provider: 'anthropic' }))).id;
    llm.script(reply.slow(1500, reply.ok('worth the wait')));
    const calls = llm.calls.length;
    const inFlight = post('/v1/generate?wait=20', apiKey, { templateId: tpl, variables: { x: 3 } });
    while (llm.calls.length === calls) await new Promise((r) => setTimeout(r, 20));
    api.child.kill('SIGTERM');
    await api.waitFor(/draining/);
    await expect(fetch(`${base}/health`)).rejects.toThrow(); // no longer listening
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: 'completed', result: { text: 'worth the wait' } });
    expect(await api.exited).toBe(0);
  });
});
