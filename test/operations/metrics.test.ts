import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error.js';
import { recordCacheLookup, recordCostSaved } from '../../src/metrics/registry.js';
import { reply } from '../fakes/llm-server.js';
import { cloneDatabase, deletePrefix, REDIS_URL } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';
import { llmEnvPerTest } from '../support/llm-env.js';
import { parseMetrics, sample } from '../support/metrics.js';
import { unreadyApp } from './unready-app.js';

const env = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-metrics' });

const scrape = async () => {
  const res = await env.t.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(res.body);
};

describe('GET /metrics', () => {
  it('parses as Prometheus text, names everything promptlab_, and its counters move after a generation', async () => {
    env.t.worker();
    const before = await scrape();
    for (const name of before.keys()) expect(name).toMatch(/^promptlab_/);

    const tpl = (await env.t.app.inject({ method: 'POST', url: '/v1/templates', headers: env.auth, payload: { name: 'm', body: 'Count {{n}}', provider: 'anthropic' } })).json().id;
    env.llm.script(reply.serverError(), reply.ok('counted', { inputTokens: 1000, outputTokens: 2000 }));
    const { jobId } = (await env.t.app.inject({ method: 'POST', url: '/v1/generate', headers: env.auth, payload: { templateId: tpl, variables: { n: 1 } } })).json();
    await waitForStatus(env.t.app, env.auth, jobId, ['completed']);
    // The row completes a moment before the worker records the attempt and BullMQ marks the job.
    let after = await scrape();
    for (let i = 0; i < 100 && sample(after, 'promptlab_queue_jobs', { queue: 'generation', state: 'completed' }) < 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = await scrape();
    }

    const delta = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
    const model = { provider: 'anthropic', model: 'claude-haiku-4-5' };
    expect(delta('promptlab_http_request_duration_seconds', { method: 'POST', route: '/v1/generate', status: '202' })).toBe(1);
    expect(delta('promptlab_http_request_duration_seconds', { method: 'POST', route: '/v1/templates', status: '201' })).toBe(1);
    expect(delta('promptlab_provider_requests_total', { ...model, outcome: 'provider_server_error' })).toBe(1);
    expect(delta('promptlab_provider_requests_total', { ...model, outcome: 'success' })).toBe(1);
    expect(delta('promptlab_provider_request_duration_seconds', model)).toBe(2);
    expect(delta('promptlab_tokens_total', { ...model, type: 'input' })).toBe(1000);
    expect(delta('promptlab_tokens_total', { ...model, type: 'output' })).toBe(2000);
    expect(delta('promptlab_cost_usd_total', model)).toBeCloseTo(1000 * 1e-6 + 2000 * 5e-6, 9);
    expect(delta('promptlab_jobs_total', { status: 'completed' })).toBe(1);
    expect(delta('promptlab_job_duration_seconds', { status: 'completed' })).toBe(1);
    // Read from BullMQ at scrape time: the completed job is kept for Bull Board.
    expect(sample(after, 'promptlab_queue_jobs', { queue: 'generation', state: 'completed' })).toBe(1);
    expect(sample(after, 'promptlab_queue_jobs', { queue: 'dead-letter', state: 'waiting' })).toBe(0);
  });

  it('exports the cache and cost-saved helpers the generation service records with', async () => {
    const before = await scrape();
    recordCacheLookup('hit', 'redis');
    recordCostSaved(0.25, 'anthropic', 'claude-haiku-4-5');
    const after = await scrape();
    expect(sample(after, 'promptlab_cache_requests_total', { result: 'hit', tier: 'redis' }) - sample(before, 'promptlab_cache_requests_total', { result: 'hit', tier: 'redis' })).toBe(1);
    expect(sample(after, 'promptlab_cost_saved_usd_total') - sample(before, 'promptlab_cost_saved_usd_total')).toBeCloseTo(0.25, 9);
  });

  it('labels unknown routes as unmatched, never by raw URL', async () => {
    await env.t.app.inject({ method: 'GET', url: '/no/such/route/42' });
    const after = await scrape();
    const routes = new Set(after.get('promptlab_http_request_duration_seconds')!.samples.map((s) => s.labels.route));
    expect(routes.has('unmatched')).toBe(true);
    expect([...routes].some((r) => r?.includes('42'))).toBe(false);
  });

  it('counts 429 rate_limited answers by route and caller tier', async () => {
    // The limiter's rejection as it reaches the app: AppError('rate_limited'), whichever plugin throws it.
    const clone = await cloneDatabase();
    const built = await unreadyApp(clone.url, REDIS_URL, 'plt_metrics_rl');
    try {
      built.app.get('/v1/limited-probe', async () => { throw new AppError('rate_limited'); });
      const before = parseMetrics((await built.app.inject({ method: 'GET', url: '/metrics' })).body);
      const res = await built.app.inject({ method: 'GET', url: '/v1/limited-probe', headers: env.t.admin });
      expect(res.statusCode).toBe(429);
      const after = parseMetrics((await built.app.inject({ method: 'GET', url: '/metrics' })).body);
      const labels = { route: '/v1/limited-probe', tier: 'enterprise' };
      expect(sample(after, 'promptlab_rate_limit_rejections_total', labels) - sample(before, 'promptlab_rate_limit_rejections_total', labels)).toBe(1);
    } finally {
      await built.close();
      await clone.drop();
      await deletePrefix('plt_metrics_rl');
    }
  });
});
