import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { waitForStatus } from '../support/jobs.js';
import { createTestEnv } from '../support/context.js';
import { llmEnvPerTest } from '../support/llm-env.js';

/** PromptLab's own errors (429, 402, 403, 400, 502, 504) on the drop-in routes: same status and headers, the format's body. */
const e = llmEnvPerTest({
  ANTHROPIC_API_KEY: 'sk-ant-test', OPENAI_API_KEY: 'sk-openai-test', RATE_LIMIT_PRO: '3', COMPAT_WAIT_SECONDS: '1', JOB_ATTEMPTS: '1',
}, { listen: true, openai: true });

const keyOf = (h: Record<string, string>) => h.authorization!.replace(/^Bearer /, '');
const openai = (apiKey: string) => new OpenAI({ baseURL: `${e.base}/v1`, apiKey, maxRetries: 0 });
const anthropic = (apiKey: string) => new Anthropic({ baseURL: e.base, apiKey, maxRetries: 0 });
const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

async function key(payload: Record<string, unknown>) {
  const res = await e.t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: e.t.admin, payload: { name: 'k', ...payload } });
  expect(res.statusCode).toBe(201);
  return res.json().key as string;
}

describe('catalogue errors on the drop-in routes', () => {
  it('429 rate_limited keeps Retry-After and the rate-limit headers, in each format', async () => {
    const k = await key({ tier: 'pro' });
    for (let i = 0; i < 3; i++) await openai(k).models.list();
    const limited = await openai(k).chat.completions.create(ask).catch((err) => err);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limited).toMatchObject({ status: 429, code: 'rate_limited', type: 'rate_limit_error' });
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('3');
    const viaAnthropic = await anthropic(k).messages.create({ ...ask, max_tokens: 5 }).catch((err) => err);
    expect(viaAnthropic).toBeInstanceOf(Anthropic.RateLimitError);
    expect(viaAnthropic.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(e.llm.calls).toHaveLength(0);
  });

  it('403 model_not_allowed and 402 budget_exceeded', async () => {
    const free = await key({ tier: 'free' });
    const denied = await openai(free).chat.completions.create({ ...ask, model: 'claude-opus-4-1' }).catch((err) => err);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(denied).toMatchObject({ code: 'model_not_allowed' });
    const deniedA = await anthropic(free).messages.create({ ...ask, model: 'claude-opus-4-1', max_tokens: 5 }).catch((err) => err);
    expect(deniedA).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(deniedA.error).toMatchObject({ error: { type: 'permission_error', message: expect.stringContaining('claude-opus-4-1') } });

    const poor = await key({ tier: 'enterprise', budgets: [{ usd: 0.000001, period: 'day' }] });
    const broke = await openai(poor).chat.completions.create(ask).catch((err) => err);
    expect(broke).toBeInstanceOf(OpenAI.APIError);
    expect(broke).toMatchObject({ status: 402, code: 'budget_exceeded' });
    const brokeA = await anthropic(poor).messages.create({ ...ask, max_tokens: 5 }).catch((err) => err);
    expect(brokeA).toMatchObject({ status: 402, error: { error: { type: 'billing_error' } } });
    expect(e.llm.calls).toHaveLength(0);
  });

  it('a job still running after COMPAT_WAIT_SECONDS is a 504 naming it; the job goes on and then answers from the cache', async () => {
    e.t.worker();
    e.llm.script(reply.slow(1500, reply.ok('late but here')));
    const slow = await openai(keyOf(e.auth)).chat.completions.create(ask).catch((err) => err);
    expect(slow).toMatchObject({ status: 504, code: 'generation_timeout', type: 'timeout_error' });
    const jobId = slow.headers.get('x-promptlab-job-id');
    expect(slow.message).toContain(jobId);
    await waitForStatus(e.t.app, e.auth, jobId, ['completed']);
    const { data, response } = await openai(keyOf(e.auth)).chat.completions.create(ask).withResponse();
    expect(data).toMatchObject({ id: jobId, choices: [{ message: { content: 'late but here' } }] });
    expect(response.headers.get('x-cache')).toBe('HIT');
    expect(e.llm.calls).toHaveLength(1);
  });

  it('a job that dies of what a retry cannot fix is a 400 generation_unrecoverable with its error, never retried', async () => {
    e.t.worker();
    e.llm.script(reply.error(400, 'upstream says no'));
    const failed = await anthropic(keyOf(e.auth)).messages.create({ ...ask, model: 'claude-haiku-4-5', max_tokens: 5 }).catch((err) => err);
    expect(failed).toBeInstanceOf(Anthropic.BadRequestError);
    expect(failed.status).toBe(400);
    expect(failed.error.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('provider_bad_request') });
    expect(failed.headers.get('x-should-retry')).toBe('false');
  });

  it('a job that dies of what a retry may fix (the provider kept failing) is a 502 generation_failed', async () => {
    e.t.worker();
    e.llm.setDefault(reply.serverError(500));
    const failed = await anthropic(keyOf(e.auth)).messages.create({ ...ask, model: 'claude-haiku-4-5', max_tokens: 5 }).catch((err) => err);
    expect(failed).toBeInstanceOf(Anthropic.InternalServerError);
    expect(failed.status).toBe(502);
    expect(failed.error.error).toMatchObject({ type: 'api_error', message: expect.stringContaining('provider_server_error') });
    expect(failed.headers.get('x-should-retry')).toBe('true');
  });
});

describe('errors name what to change', () => {
  it('a content part PromptLab does not take is a 400 naming the part and its type, in each format', async () => {
    const video = await openai(keyOf(e.auth)).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'video_url', video_url: { url: 'https://example.com/a.mp4' } } as never] }],
    }).catch((err) => err);
    expect(video).toBeInstanceOf(OpenAI.BadRequestError);
    expect(video).toMatchObject({ param: 'messages[0].content[1]', message: expect.stringContaining("messages[0].content[1] is a content part of type 'video_url'") });
    const search = await anthropic(keyOf(e.auth)).messages.create({
      model: 'claude-haiku-4-5', max_tokens: 10,
      messages: [{ role: 'user', content: [{ type: 'search_result', source: 'x', title: 't', content: [] } as never] }],
    }).catch((err) => err);
    expect(search).toBeInstanceOf(Anthropic.BadRequestError);
    expect(search.message).toContain("messages[0].content[0] is a content block of type 'search_result'");
    // A part a provider cannot take is named too, before anything is paid: top_k has no place in the OpenAI format.
    const topK = await anthropic(keyOf(e.auth)).messages.create({ model: 'gpt-4o-mini', max_tokens: 10, top_k: 3, messages: [{ role: 'user', content: 'x' }] } as never).catch((err) => err);
    expect(topK).toBeInstanceOf(Anthropic.BadRequestError);
    expect(topK.message).toContain('Provider openai cannot take top_k');
    expect(e.llm.calls).toHaveLength(0);
  });

  it('a model no provider serves here names the models that would answer', async () => {
    const unknown = await openai(keyOf(e.auth)).chat.completions.create({ model: 'mystery-1', messages: [{ role: 'user', content: 'x' }] }).catch((err) => err);
    expect(unknown).toMatchObject({ code: 'unknown_model', message: expect.stringMatching(/No provider serves the model 'mystery-1'; models that answer here: .*claude-haiku-4-5.*claude-\*.*gpt-\*.*fake-\* \(GET \/v1\/models lists them\)/) });
  });
});

describe('on a fresh npm start (only the fake provider)', () => {
  it('a model of a provider not configured here says how to enable it and which models answer', async () => {
    const t = await createTestEnv();
    try {
      const key = (await t.keyHeader('pro')).authorization!.replace(/^Bearer /, '');
      const res = await t.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${key}` }, payload: { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'x' }] } });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatchObject({
        code: 'provider_unavailable',
        message: 'Provider anthropic is not configured here (set ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL to enable it); models that answer here: fake-1, fake-embed-1, fake-* (GET /v1/models lists them).',
      });
    } finally {
      await t.close();
    }
  });
});

describe('the wire formats take bodies up to COMPAT_BODY_LIMIT_MB (images travel inline)', () => {
  it('a body over it is a 413 in the format\'s own error body, with nothing stored; under it a 2 MB image is taken', async () => {
    const t = await createTestEnv({ COMPAT_BODY_LIMIT_MB: '3' });
    try {
      const headers = { ...(await t.keyHeader('enterprise')), 'content-type': 'application/json' };
      const image = (mb: number) => Buffer.alloc(mb * 1024 * 1024, 1).toString('base64');
      const messages = (mb: number) => [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: image(mb) } }, { type: 'text', text: 'What is it?' }] }];
      const big = await t.app.inject({ method: 'POST', url: '/v1/messages', headers, payload: { model: 'fake-1', max_tokens: 10, messages: messages(3) } });
      expect(big.statusCode).toBe(413);
      expect(big.json()).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
      const chat = await t.app.inject({ method: 'POST', url: '/v1/chat/completions', headers, payload: { model: 'fake-1', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${image(3)}` } }] }] } });
      expect([chat.statusCode, chat.json().error.code]).toEqual([413, 'payload_too_large']);
      const jobs = await t.app.inject({ method: 'GET', url: '/v1/jobs', headers });
      expect(jobs.json().data).toHaveLength(0);
      const fits = await t.app.inject({ method: 'POST', url: '/v1/messages', headers: { ...headers, prefer: 'wait=0' }, payload: { model: 'fake-1', max_tokens: 10, messages: messages(1.5) } });
      expect(fits.statusCode, fits.body).not.toBe(413);
    } finally {
      await t.close();
    }
  });
});
