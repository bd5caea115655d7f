import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing } from '../../src/telemetry/tracing.js';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { startOtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { spawnEntry, type Proc } from '../support/spawn.js';

/**
 * OpenTelemetry traces, received by an in-process OTLP/HTTP receiver that decodes what it gets:
 * the API in this process exports OTLP/JSON, a separate worker process OTLP/protobuf, and one
 * request is one trace across both (the job carries its admission's trace context).
 */
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let llm: FakeLlm;
let t: TestEnv;
let stopTracing: () => Promise<void>;
let worker: Proc;
let auth: Record<string, string>;
let tpl: string;
const OTEL = (protocol: string, url: string) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_BSP_SCHEDULE_DELAY: '100' });

beforeAll(async () => {
  [receiver, llm] = await Promise.all([startOtlpReceiver(), startFakeLlm()]);
  Object.assign(process.env, OTEL('http/json', receiver.url));
  stopTracing = await startTracing('api');
  t = await createTestEnv({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: llm.anthropicBaseUrl, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: llm.openaiBaseUrl, JOB_BACKOFF_MS: '50' });
  worker = spawnEntry('workers/main.ts', { ...t.env, WORKER_METRICS_PORT: '0', LOG_LEVEL: 'info', ...OTEL('http/protobuf', receiver.url) });
  await worker.waitFor(/worker started/, 30_000);
  auth = await t.keyHeader('enterprise');
  tpl = (await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 't', body: 'About {{topic}}', provider: 'anthropic' } })).json().id;
}, 60_000);
afterAll(async () => {
  worker?.child.kill('SIGKILL');
  await t?.close();
  await stopTracing?.();
  await Promise.all([receiver?.close(), llm?.close()]);
  for (const k of Object.keys(OTEL('', ''))) delete process.env[k];
});

const generate = (topic: string) => t.app.inject({ method: 'POST', url: '/v1/generate?wait=10', headers: auth, payload: { templateId: tpl, variables: { topic } } });
const until = async (check: () => boolean, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('spans not received in time');
    await new Promise((r) => setTimeout(r, 50));
  }
};
const traceOf = (jobId: string) => receiver.spans.find((s) => s.name === 'promptlab.admission' && s.attributes['promptlab.job_id'] === jobId)?.traceId;
const inTrace = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
const byName = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);

describe('traces', () => {
  it('a miss run by a separate worker process is one trace: route, admission, enqueue, then the attempt and its provider call with the GenAI attributes', async () => {
    const res = await generate('traced');
    expect(res.json().status).toBe('completed');
    const jobId = res.json().jobId as string;
    await until(() => !!traceOf(jobId) && byName(inTrace(traceOf(jobId)!), 'chat claude-haiku-4-5').length === 1);
    const spans = inTrace(traceOf(jobId)!);
    const [route] = byName(spans, 'POST /v1/generate');
    const [admission] = byName(spans, 'promptlab.admission');
    const [enqueue] = byName(spans, 'promptlab.enqueue');
    const [attempt] = byName(spans, 'promptlab.attempt');
    const [call] = byName(spans, 'chat claude-haiku-4-5');
    expect(route).toMatchObject({ service: 'promptlab-api', contentType: 'application/json', parentSpanId: '', attributes: { 'http.route': '/v1/generate', 'http.response.status_code': 200 } });
    expect(admission!.parentSpanId).toBe(route!.spanId);
    expect(admission!.attributes).toMatchObject({ 'promptlab.cache': 'MISS', 'promptlab.job_id': jobId });
    expect(enqueue!.parentSpanId).toBe(admission!.spanId);
    // The worker's spans arrived as protobuf from its own process, in the same trace.
    expect(attempt).toMatchObject({ service: 'promptlab-worker', contentType: 'application/x-protobuf', attributes: { 'promptlab.job_id': jobId, 'promptlab.attempt': 1 } });
    expect([admission!.spanId, enqueue!.spanId]).toContain(attempt!.parentSpanId);
    expect(call!.parentSpanId).toBe(attempt!.spanId);
    expect(call!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-haiku-4-5',
      'gen_ai.usage.input_tokens': expect.any(Number), 'gen_ai.usage.output_tokens': expect.any(Number), 'gen_ai.response.finish_reasons': ['stop'],
      'promptlab.job_id': jobId, 'promptlab.key_id': expect.stringMatching(/^key_/), 'promptlab.cost_usd': expect.any(Number),
    });
    expect(call!.attributes['gen_ai.response.model']).toEqual(expect.any(String));
    // The worker's log lines of the job carry the trace id.
    expect(worker.output().split('\n').find((l) => l.includes(jobId) && l.includes('job completed'))).toContain(`"traceId":"${route!.traceId}"`);
    // No message content unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true.
    for (const s of spans) expect(Object.keys(s.attributes).filter((k) => k.endsWith('.messages'))).toEqual([]);
  }, 30_000);

  it('a cached hit is a trace of its own: the route and an admission answered from the cache, no enqueue, no attempt', async () => {
    const res = await generate('traced');
    expect(res.headers['x-cache']).toBe('HIT');
    await until(() => receiver.spans.some((s) => s.name === 'promptlab.admission' && s.attributes['promptlab.cache'] === 'HIT'));
    const admission = receiver.spans.find((s) => s.name === 'promptlab.admission' && s.attributes['promptlab.cache'] === 'HIT')!;
    const spans = inTrace(admission.traceId);
    expect(spans.map((s) => s.name).sort()).toEqual(['POST /v1/generate', 'promptlab.admission']);
    expect(admission.attributes['promptlab.cache_tier']).toEqual(expect.any(String));
  });

  it('a request that joins an in-flight job links to its trace, and the job shows that trace id', async () => {
    llm.script(reply.slow(600));
    const first = t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { topic: 'joined' } } });
    const jobId = (await first).json().jobId as string;
    const joiner = await t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { topic: 'joined' } } });
    expect(joiner.json()).toMatchObject({ jobId, status: expect.stringMatching(/queued|active/) });
    const joinedAdmission = () => receiver.spans.find((s) => s.name === 'promptlab.admission' && s.attributes['promptlab.job_id'] === jobId && s.traceId !== traceOf(jobId));
    await until(() => !!traceOf(jobId) && !!joinedAdmission());
    const [admitted] = byName(inTrace(traceOf(jobId)!), 'POST /v1/generate');
    // Its own trace, linked to the admitting request's route span (the traceparent kept on the row).
    expect(joinedAdmission()!.links).toEqual([{ traceId: admitted!.traceId, spanId: expect.any(String) }]);
    expect(inTrace(traceOf(jobId)!).map((s) => s.spanId)).toContain(joinedAdmission()!.links[0]!.spanId);
    const job = await t.app.inject({ method: 'GET', url: `/v1/jobs/${jobId}`, headers: auth });
    expect(job.json().traceId).toBe(admitted!.traceId);
  }, 30_000);

  it('a retried attempt is two attempt spans of the same trace, each with its provider call', async () => {
    llm.script(reply.serverError(500));
    const res = await generate('retried');
    expect(res.json().status).toBe('completed');
    const jobId = res.json().jobId as string;
    // Spans leave in export batches: an attempt span ends after its provider call's, so wait for both kinds.
    await until(() => !!traceOf(jobId) && byName(inTrace(traceOf(jobId)!), 'chat claude-haiku-4-5').length === 2
      && byName(inTrace(traceOf(jobId)!), 'promptlab.attempt').length === 2);
    const spans = inTrace(traceOf(jobId)!);
    expect(byName(spans, 'promptlab.attempt').map((s) => s.attributes['promptlab.attempt']).sort()).toEqual([1, 2]);
    expect(byName(spans, 'chat claude-haiku-4-5').filter((s) => s.attributes['gen_ai.usage.input_tokens'] !== undefined)).toHaveLength(1);
  }, 30_000);

  it('a streamed call through the OpenAI SDK is one trace across the API and the worker', async () => {
    const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: auth.authorization!.replace(/^Bearer /, '') });
    let id = '';
    for await (const chunk of await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'stream, traced' }], stream: true })) id = chunk.id;
    // Each process exports its spans in batches of its own: wait for the route's (it ends last) and the provider call's.
    await until(() => !!traceOf(id) && byName(inTrace(traceOf(id)!), 'chat gpt-4o-mini').length === 1 && byName(inTrace(traceOf(id)!), 'POST /v1/chat/completions').length === 1);
    const names = inTrace(traceOf(id)!).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['POST /v1/chat/completions', 'promptlab.admission', 'promptlab.attempt', 'chat gpt-4o-mini']));
  }, 30_000);
});
