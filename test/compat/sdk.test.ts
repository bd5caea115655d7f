import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { llmEnvPerTest } from '../support/llm-env.js';

/** The real OpenAI and Anthropic SDKs as clients of PromptLab, the fake LLM server behind it. */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', OPENAI_API_KEY: 'sk-openai-test' }, { listen: true, openai: true });

const keyOf = () => e.auth.authorization!.replace(/^Bearer /, '');
const openai = (apiKey = keyOf()) => new OpenAI({ baseURL: `${e.base}/v1`, apiKey, maxRetries: 0 });
const anthropic = (apiKey = keyOf()) => new Anthropic({ baseURL: e.base, apiKey, maxRetries: 0 });

describe('OpenAI SDK → POST /v1/chat/completions', () => {
  it('answers from the provider, then the same call from the cache with the same id', async () => {
    e.t.worker();
    e.llm.script(reply.ok('hello from the fake', { inputTokens: 12, outputTokens: 4 }));
    const params = { model: 'gpt-4o-mini', messages: [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'Say hello' }], max_tokens: 50 };
    const { data: first, response } = await openai().chat.completions.create(params).withResponse();
    expect(first).toMatchObject({
      object: 'chat.completion', model: 'gpt-4o-mini', id: expect.stringMatching(/^gen_/),
      choices: [{ index: 0, message: { role: 'assistant', content: 'hello from the fake' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 },
    });
    expect(response.headers.get('x-cache')).toBe('MISS');
    expect(e.llm.calls).toHaveLength(1);
    expect(e.llm.calls[0]).toMatchObject({ dialect: 'openai', system: 'Be brief.', prompt: 'Say hello', body: { model: 'gpt-4o-mini', max_tokens: 50 } });

    const { data: again, response: r2 } = await openai().chat.completions.create(params).withResponse();
    expect(again.id).toBe(first.id);
    expect(again.choices[0]!.message.content).toBe('hello from the fake');
    expect(r2.headers.get('x-cache')).toBe('HIT');
    expect(e.llm.calls).toHaveLength(1);

    const job = (await e.t.app.inject({ method: 'GET', url: `/v1/jobs/${first.id}`, headers: e.auth })).json();
    expect(job).toMatchObject({ status: 'completed', templateId: null, provider: 'openai', model: 'gpt-4o-mini', usage: { inputTokens: 12, outputTokens: 4 } });
    expect(job.costUsd).toBeGreaterThan(0);
    const { data } = (await e.t.app.inject({ method: 'GET', url: '/v1/jobs', headers: e.auth })).json();
    expect(data.map((j: { id: string }) => j.id)).toEqual([first.id]);
  });

  it('response_format json_schema: the model is asked for JSON, and the text answered is it', async () => {
    e.t.worker();
    e.llm.script(reply.ok('{"colour":"blue"}'));
    const res = await openai().chat.completions.create({
      model: 'gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'text', text: 'A colour?' }] }],
      response_format: { type: 'json_schema', json_schema: { name: 'c', schema: { type: 'object', properties: { colour: { type: 'string' } }, required: ['colour'] } } },
    });
    expect(JSON.parse(res.choices[0]!.message.content!)).toEqual({ colour: 'blue' });
    expect(e.llm.calls[0]!.system).toContain('JSON Schema');
  });

  it('an unsupported parameter, an unknown model and a wrong key are the SDK\'s own errors', async () => {
    const unsupported = await openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], n: 2 }).catch((err) => err);
    expect(unsupported).toBeInstanceOf(OpenAI.BadRequestError);
    expect(unsupported).toMatchObject({ status: 400, type: 'invalid_request_error', param: 'n' });
    const penalty = await openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], presence_penalty: 0.5 }).catch((err) => err);
    expect(penalty).toBeInstanceOf(OpenAI.BadRequestError);
    expect(penalty).toMatchObject({ param: 'presence_penalty', code: 'bad_request' });
    expect(penalty.message).toContain("'presence_penalty'");
    const unknown = await openai().chat.completions.create({ model: 'mystery-1', messages: [{ role: 'user', content: 'x' }] }).catch((err) => err);
    expect(unknown).toBeInstanceOf(OpenAI.BadRequestError);
    expect(unknown).toMatchObject({ code: 'unknown_model', param: 'model' });
    const denied = await openai('pl_wrong_key_0123456789').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }).catch((err) => err);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(denied.status).toBe(401);
    expect(e.llm.calls).toHaveLength(0);
  });

  it('claude-haiku-4-5 from the OpenAI format goes to the Anthropic dialect', async () => {
    e.t.worker();
    const res = await openai().chat.completions.create({ model: 'claude-haiku-4-5', messages: [{ role: 'system', content: 'Sys.' }, { role: 'user', content: 'Hi there' }] });
    expect(res.choices[0]!.message.content).toBe('fake upstream reply to: Hi there');
    expect(e.llm.calls).toHaveLength(1);
    expect(e.llm.calls[0]).toMatchObject({ dialect: 'anthropic', system: 'Sys.', body: { model: 'claude-haiku-4-5', max_tokens: 1024 } });
  });

  it('5 concurrent identical calls share one job and one provider call', async () => {
    e.t.worker();
    e.llm.setDefault(reply.slow(300, reply.ok('shared answer')));
    const answers = await Promise.all(Array.from({ length: 5 }, () =>
      openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'same' }] })));
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    expect(answers.map((a) => a.choices[0]!.message.content)).toEqual(Array(5).fill('shared answer'));
    expect(e.llm.calls).toHaveLength(1);
  });

  it('Idempotency-Key replays the first response', async () => {
    e.t.worker();
    const params = { model: 'fake-1', messages: [{ role: 'user' as const, content: 'once' }] };
    const first = await openai().chat.completions.create(params, { headers: { 'Idempotency-Key': 'k1' } });
    const { data: again, response } = await openai().chat.completions.create(params, { headers: { 'Idempotency-Key': 'k1' } }).withResponse();
    expect(again).toEqual(first);
    expect(response.headers.get('idempotent-replayed')).toBe('true');
    const reused = await openai().chat.completions.create({ ...params, max_tokens: 5 }, { headers: { 'Idempotency-Key': 'k1' } }).catch((err) => err);
    expect(reused).toBeInstanceOf(OpenAI.UnprocessableEntityError);
  });

  it('models.list() lists the enabled providers\' priced models, each routable', async () => {
    const models = [];
    for await (const m of openai().models.list()) models.push(m);
    expect(models).toContainEqual(expect.objectContaining({ id: 'gpt-4o-mini', object: 'model', owned_by: 'openai' }));
    expect(models).toContainEqual(expect.objectContaining({ id: 'claude-haiku-4-5', owned_by: 'anthropic' }));
    expect(models).toContainEqual(expect.objectContaining({ owned_by: 'fake' }));
  });
});

describe('Anthropic SDK → POST /v1/messages', () => {
  it('answers a message, with x-api-key auth', async () => {
    e.t.worker();
    e.llm.script(reply.ok('bonjour', { inputTokens: 7, outputTokens: 2 }));
    const msg = await anthropic().messages.create({
      model: 'claude-haiku-4-5', max_tokens: 64, system: [{ type: 'text', text: 'French.' }],
      messages: [{ role: 'user', content: 'Hello' }], stop_sequences: ['END'],
      temperature: 0.2, // accepted by the API though this SDK's types no longer list it
    } as Anthropic.MessageCreateParamsNonStreaming);
    expect(msg).toMatchObject({
      id: expect.stringMatching(/^gen_/), type: 'message', role: 'assistant', model: 'claude-haiku-4-5',
      content: [{ type: 'text', text: 'bonjour' }], stop_reason: 'end_turn', usage: { input_tokens: 7, output_tokens: 2 },
    });
    expect(e.llm.calls[0]).toMatchObject({ dialect: 'anthropic', system: 'French.', body: { max_tokens: 64, stop_sequences: ['END'], temperature: 0.2 } });
  });

  it('gpt-4o-mini from the Anthropic format goes to the OpenAI dialect', async () => {
    e.t.worker();
    const msg = await anthropic().messages.create({ model: 'gpt-4o-mini', max_tokens: 30, messages: [{ role: 'user', content: [{ type: 'text', text: 'Routed?' }] }] });
    expect(msg.content).toEqual([{ type: 'text', text: 'fake upstream reply to: Routed?' }]);
    expect(e.llm.calls).toHaveLength(1);
    expect(e.llm.calls[0]).toMatchObject({ dialect: 'openai', body: { model: 'gpt-4o-mini', max_tokens: 30 } });
  });

  it('errors come in Anthropic\'s shape as the SDK\'s own classes', async () => {
    const missing = await anthropic().messages.create({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'x' }] } as never).catch((err) => err);
    expect(missing).toBeInstanceOf(Anthropic.BadRequestError);
    expect(missing.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const mcp = await anthropic().messages.create({ model: 'claude-haiku-4-5', max_tokens: 5, mcp_servers: [], messages: [{ role: 'user', content: 'x' }] } as never).catch((err) => err);
    expect(mcp).toBeInstanceOf(Anthropic.BadRequestError);
    expect(mcp.message).toContain("'mcp_servers'");
    const denied = await anthropic('pl_wrong_key_0123456789').messages.create({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((err) => err);
    expect(denied).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(denied.error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });
});

describe('one request context for every route that admits a generation', () => {
  it('Prefer: wait, Cancel-After and X-PromptLab-Priority mean on the wire formats what they mean on /v1/generate', async () => {
    e.t.worker();
    e.llm.setDefault(reply.slow(3000));
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Take your time' }] };
    // Held for 1 s instead of COMPAT_WAIT_SECONDS, said so, then the 504 naming the job (which goes on).
    const { response } = await openai().chat.completions.create(ask, { headers: { prefer: 'wait=1' }, maxRetries: 0 }).withResponse().catch((err) => ({ response: err }));
    expect(response.status).toBe(504);
    expect(response.headers.get('preference-applied')).toBe('wait=1');
    // Canceled at its deadline, on the Anthropic format too, and in the class it asked for.
    const res = await e.t.app.inject({
      method: 'POST', url: '/v1/messages', headers: { ...e.auth, 'cancel-after': '1s', 'x-promptlab-priority': 'low', prefer: 'wait=5' },
      payload: { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'Cancel me' }] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('canceled') } });
    const job = (await e.t.app.inject({ method: 'GET', url: `/v1/jobs/${res.headers['x-promptlab-job-id']}`, headers: e.auth })).json();
    expect(job).toMatchObject({ status: 'canceled', priority: 'low' });
  });
});
