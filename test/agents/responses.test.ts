import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { llmEnvPerTest } from '../support/llm-env.js';

/** POST /v1/responses with the OpenAI SDK: its event parser, conversations kept as jobs, delete. */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', OPENAI_API_KEY: 'sk-openai-test' }, { listen: true, openai: true });
const keyOf = () => e.auth.authorization!.replace(/^Bearer /, '');
const openai = () => new OpenAI({ baseURL: `${e.base}/v1`, apiKey: keyOf() });
const tools: OpenAI.Responses.FunctionTool[] = [{ type: 'function', name: 'get_weather', description: 'The weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true }];

describe('the Responses API through PromptLab', () => {
  it('streams typed events the SDK assembles (text, then a function call), each in order, with one id', async () => {
    e.t.worker();
    e.llm.setDefault(reply.agent());
    const events: string[] = [];
    const s = openai().responses.stream({ model: 'gpt-4o-mini', input: 'Weather in Paris?', tools });
    s.on('event', (ev) => events.push(ev.type));
    const final = await s.finalResponse();
    expect(final.output).toEqual([expect.objectContaining({ type: 'function_call', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' })]);
    expect(events.filter((t, i) => t !== events[i - 1])).toEqual(['response.created', 'response.in_progress', 'response.output_item.added',
      'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done', 'response.completed']);
    // Continued with the tool's output: the text streams as output_text deltas.
    const call = final.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    const texts: string[] = [];
    const next = openai().responses.stream({ model: 'gpt-4o-mini', previous_response_id: final.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny' }], tools });
    next.on('response.output_text.delta', (d) => texts.push(d.delta));
    const done = await next.finalResponse();
    expect(done.output_text).toBe('The tool said: sunny');
    expect(texts.join('')).toBe(done.output_text);
    expect(e.llm.calls).toHaveLength(2);
    // The provider got the whole conversation: the question, the call, its output.
    expect(e.llm.calls[1]!.body.messages).toMatchObject([{ role: 'user', content: 'Weather in Paris?' }, { role: 'assistant', tool_calls: [{ id: call.call_id }] }, { role: 'tool', tool_call_id: call.call_id, content: 'sunny' }]);
  });

  it('previous_response_id continues a conversation; the same conversation sent whole is the same input (a cache hit)', async () => {
    e.t.worker();
    const first = await openai().responses.create({ model: 'claude-haiku-4-5', instructions: 'Be brief.', input: 'My name is Ada.' });
    const second = await openai().responses.create({ model: 'claude-haiku-4-5', instructions: 'Be brief.', previous_response_id: first.id, input: 'What is my name?' });
    expect(e.llm.calls[1]!.body).toMatchObject({ system: 'Be brief.', messages: [{ role: 'user', content: 'My name is Ada.' }, { role: 'assistant' }, { role: 'user', content: 'What is my name?' }] });
    const whole = await openai().responses.create({
      model: 'claude-haiku-4-5', instructions: 'Be brief.',
      input: [{ role: 'user', content: 'My name is Ada.' }, { role: 'assistant', content: first.output_text }, { role: 'user', content: 'What is my name?' }],
    });
    expect(whole.id).toBe(second.id);
    expect(e.llm.calls).toHaveLength(2);
    // GET answers the stored response as the SDK reads it.
    const got = await openai().responses.retrieve(second.id);
    expect(got).toMatchObject({ id: second.id, status: 'completed', output_text: second.output_text, instructions: 'Be brief.' });
  });

  it('DELETE forgets a response: not served, not continued from, and the same input is a new generation', async () => {
    e.t.worker();
    const r = await openai().responses.create({ model: 'gpt-4o-mini', input: 'Forget me' });
    await openai().responses.delete(r.id);
    const gone = await openai().responses.retrieve(r.id).catch((err) => err);
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError);
    expect(gone).toMatchObject({ code: 'response_not_found' });
    expect(await openai().responses.create({ model: 'gpt-4o-mini', previous_response_id: r.id, input: 'and?' }).catch((err) => err)).toBeInstanceOf(OpenAI.NotFoundError);
    const again = await openai().responses.create({ model: 'gpt-4o-mini', input: 'Forget me' });
    expect(again.id).not.toBe(r.id);
    expect(e.llm.calls).toHaveLength(2);
  });

  it('reasoning from a Claude model comes back as a reasoning item and goes back to it unchanged', async () => {
    e.t.worker();
    const thinking = { thinking: 'Think first.', signature: 'sig-789' };
    e.llm.script({ ...reply.agent(), thinking }, { text: 'Done.' });
    const r = await openai().responses.create({ model: 'claude-haiku-4-5', input: 'Weather in Oslo?', tools, reasoning: { effort: 'high' } });
    expect(r.output.map((o) => o.type)).toEqual(['reasoning', 'function_call']);
    expect(r.output[0]).toMatchObject({ summary: [{ type: 'summary_text', text: 'Think first.' }] });
    const call = r.output[1] as OpenAI.Responses.ResponseFunctionToolCall;
    await openai().responses.create({ model: 'claude-haiku-4-5', input: [{ role: 'user', content: 'Weather in Oslo?' }, ...r.output, { type: 'function_call_output', call_id: call.call_id, output: 'cold' }] as OpenAI.Responses.ResponseInput, tools, reasoning: { effort: 'high' } });
    expect((e.llm.calls[1]!.body.messages![1]!.content as unknown[])[0]).toEqual({ type: 'thinking', ...thinking });
  });

  it('what PromptLab does not run is a 400 naming it: built-in tools, background, files by id', async () => {
    const bad = (body: object) => openai().responses.create({ model: 'gpt-4o-mini', input: 'x', ...body } as never).catch((err) => err);
    expect(await bad({ tools: [{ type: 'web_search' }] })).toMatchObject({ status: 400, param: 'tools[0].type' });
    expect(await bad({ background: true })).toMatchObject({ status: 400 });
    expect(await bad({ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] })).toMatchObject({ status: 400, message: expect.stringContaining('PromptLab keeps no files') });
    expect(e.llm.calls).toHaveLength(0);
  });
});
