import Anthropic from '@anthropic-ai/sdk';
import { ChatOpenAI } from '@langchain/openai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { reply } from '../fakes/llm-server.js';
import { llmEnvPerTest } from '../support/llm-env.js';

/**
 * The real clients with their default retries on (the OpenAI and Anthropic SDKs retry a 5xx twice,
 * LangChain six times): every call is paid exactly once at the fake upstream, whatever it ends with.
 */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', OPENAI_API_KEY: 'sk-openai-test' }, { listen: true, openai: true });

const keyOf = () => e.auth.authorization!.replace(/^Bearer /, '');
const openai = () => new OpenAI({ baseURL: `${e.base}/v1`, apiKey: keyOf() });
const anthropic = () => new Anthropic({ baseURL: e.base, apiKey: keyOf() });
const jobs = async () => (await e.t.app.inject({ method: 'GET', url: '/v1/jobs', headers: e.auth })).json().data as { status: string }[];

describe('a cut-off answer is an answer: paid once, returned with its finish reason, cached', () => {
  it('OpenAI format, held then streamed: finish_reason length, one provider call, the repeat from the cache', async () => {
    e.t.worker();
    e.llm.script(reply.truncated('cut off at the li'));
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Write a long poem' }], max_tokens: 5 };
    const first = await openai().chat.completions.create(ask);
    expect(first.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: 'cut off at the li' } });
    const { data: again, response } = await openai().chat.completions.create(ask).withResponse();
    expect(again).toMatchObject({ id: first.id, choices: [{ finish_reason: 'length' }] });
    expect(response.headers.get('x-cache')).toBe('HIT');
    const stream = await openai().chat.completions.create({ ...ask, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect({ text, finish }).toEqual({ text: 'cut off at the li', finish: 'length' });
    expect(e.llm.calls).toHaveLength(1);

    e.llm.script(reply.truncated('streamed and cut'));
    const live = await openai().chat.completions.create({ ...ask, messages: [{ role: 'user', content: 'Another long poem' }], stream: true });
    const finishes: (string | null)[] = [];
    for await (const chunk of live) finishes.push(chunk.choices[0]?.finish_reason ?? null);
    expect(finishes.at(-1)).toBe('length');
    expect(e.llm.calls).toHaveLength(2);
  });

  it('Anthropic format, held then streamed: stop_reason max_tokens, one provider call, the repeat from the cache', async () => {
    e.t.worker();
    e.llm.script(reply.truncated('cut off'));
    const ask = { model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user' as const, content: 'Write a long poem' }] };
    const first = await anthropic().messages.create(ask);
    expect(first).toMatchObject({ stop_reason: 'max_tokens', content: [{ type: 'text', text: 'cut off' }] });
    const streamed = await anthropic().messages.stream(ask).finalMessage();
    expect(streamed).toMatchObject({ id: first.id, stop_reason: 'max_tokens', content: [{ text: 'cut off' }] });
    expect(e.llm.calls).toHaveLength(1);
    const job = (await e.t.app.inject({ method: 'GET', url: `/v1/jobs/${first.id}`, headers: e.auth })).json();
    expect(job).toMatchObject({ status: 'completed', finishReason: 'length' });
  });
});

describe('schemas are compiled before anything is paid', () => {
  it('LangChain withStructuredOutput (zod 4, $schema 2020-12, strict): works, one provider call', async () => {
    e.t.worker();
    e.llm.script(reply.ok('{"name":"Ada","age":36,"tags":["math"]}'));
    const person = z.object({ name: z.string().describe('Full name'), age: z.number().int(), tags: z.array(z.string()).optional() }).describe('A person');
    const model = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: keyOf(), configuration: { baseURL: `${e.base}/v1` } });
    const got = await model.withStructuredOutput(person, { name: 'extract' }).invoke('Extract: Ada, 36');
    expect(got).toEqual({ name: 'Ada', age: 36, tags: ['math'] });
    expect(e.llm.calls).toHaveLength(1);
    expect(e.llm.calls[0]!.system).toContain('2020-12');
  });

  it('a schema that does not compile is a 400 naming it: no job, no provider call, no retry', async () => {
    e.t.worker();
    for (const schema of [{ type: 'nonsense' }, { type: 'string', pattern: '(a)\\1' }, { $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' }]) {
      const err = await openai().chat.completions.create({
        model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }],
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema } },
      }).catch((x) => x);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err).toMatchObject({ status: 400, param: 'response_format.json_schema.schema', message: expect.stringMatching(/^400 response_format\.json_schema\.schema /) });
    }
    expect(e.llm.calls).toHaveLength(0);
    expect(await jobs()).toEqual([]);
  });

  it('an answer that fails its schema on every attempt: 400, exactly the worker\'s 3 attempts at the upstream, whatever the client retries', async () => {
    e.t.worker();
    e.llm.setDefault(reply.ok('not json at all'));
    const rf = { type: 'json_schema' as const, json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] } } };
    const err = await openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'one' }], response_format: rf }).catch((x) => x);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, code: 'generation_unrecoverable', message: expect.stringContaining('output_invalid') });
    expect(e.llm.calls).toHaveLength(3);

    const model = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: keyOf(), configuration: { baseURL: `${e.base}/v1` } });
    const lc = await model.withStructuredOutput(z.object({ a: z.number().int() }), { name: 'x' }).invoke('two').catch((x) => x);
    expect(String(lc)).toMatch(/output_invalid/);
    expect(e.llm.calls).toHaveLength(6);
  });

  it('the provider refusing the request is paid (and answered) once, whatever the client retries', async () => {
    e.t.worker();
    e.llm.setDefault(reply.error(400, 'upstream says no'));
    const viaOpenAI = await openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'no' }] }).catch((x) => x);
    expect(viaOpenAI).toMatchObject({ status: 400, code: 'generation_unrecoverable' });
    const viaAnthropic = await anthropic().messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'no' }] }).catch((x) => x);
    expect(viaAnthropic).toBeInstanceOf(Anthropic.BadRequestError);
    const viaLangChain = await new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: keyOf(), configuration: { baseURL: `${e.base}/v1` } }).invoke('no, again').catch((x) => x);
    expect(String(viaLangChain)).toMatch(/provider_bad_request/);
    expect(e.llm.calls).toHaveLength(3);
  });
});
