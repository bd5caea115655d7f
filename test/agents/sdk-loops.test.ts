import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { llmEnvPerTest } from '../support/llm-env.js';

/**
 * The official SDKs, default settings, running a real tool loop through PromptLab: the model asks
 * for a tool, the client runs it and sends the result back, the model answers. The upstreams are
 * the fake servers speaking each provider's wire format (so the providers' SDKs are exercised
 * too), which answer like a tool-calling model; every provider call is counted there.
 */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', OPENAI_API_KEY: 'sk-openai-test' }, { listen: true, openai: true });
const keyOf = () => e.auth.authorization!.replace(/^Bearer /, '');
const openai = () => new OpenAI({ baseURL: `${e.base}/v1`, apiKey: keyOf() });
const anthropic = () => new Anthropic({ baseURL: e.base, apiKey: keyOf() });
const weather = (city: string) => JSON.stringify({ city, tempC: 21 });

const chatTools: OpenAI.Chat.ChatCompletionTool[] = [{
  type: 'function', function: { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
}];
const anthropicTools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'The weather in a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];

/** A Chat Completions tool loop, held or streamed (the SDK's stream helper assembles the tool calls): the final text, and the turns it took. */
async function chatLoop(model: string, stream: boolean): Promise<{ text: string; turns: number }> {
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
  for (let turn = 1; turn <= 4; turn++) {
    const answer = stream
      ? await openai().chat.completions.stream({ model, messages, tools: chatTools, stream_options: { include_usage: true } }).finalChatCompletion()
      : await openai().chat.completions.create({ model, messages, tools: chatTools });
    const choice = answer.choices[0]!;
    if (choice.finish_reason !== 'tool_calls') return { text: choice.message.content ?? '', turns: turn };
    messages.push(choice.message as OpenAI.Chat.ChatCompletionMessageParam);
    for (const c of choice.message.tool_calls ?? []) {
      if (c.type !== 'function') continue;
      messages.push({ role: 'tool', tool_call_id: c.id, content: weather(JSON.parse(c.function.arguments).city) });
    }
  }
  throw new Error('the loop did not end');
}

/** A Messages tool loop, held or streamed (`messages.stream().finalMessage()`). */
async function messagesLoop(model: string, stream: boolean): Promise<{ text: string; turns: number; last: Anthropic.Message }> {
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
  for (let turn = 1; turn <= 4; turn++) {
    const params = { model, max_tokens: 256, messages, tools: anthropicTools };
    const m = stream ? await anthropic().messages.stream(params).finalMessage() : await anthropic().messages.create(params);
    if (m.stop_reason !== 'tool_use') return { text: m.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join(''), turns: turn, last: m };
    messages.push({ role: 'assistant', content: m.content });
    messages.push({ role: 'user', content: m.content.flatMap((b) => (b.type === 'tool_use' ? [{ type: 'tool_result' as const, tool_use_id: b.id, content: weather((b.input as { city: string }).city) }] : [])) });
  }
  throw new Error('the loop did not end');
}

describe('tool loops with the official SDKs, each format and across formats', () => {
  it.each([
    ['OpenAI SDK → gpt-4o-mini (OpenAI upstream)', 'openai', 'gpt-4o-mini'],
    ['OpenAI SDK → claude-haiku-4-5 (Anthropic upstream)', 'openai', 'claude-haiku-4-5'],
    ['Anthropic SDK → claude-haiku-4-5 (Anthropic upstream)', 'anthropic', 'claude-haiku-4-5'],
    ['Anthropic SDK → gpt-4o-mini (OpenAI upstream)', 'anthropic', 'gpt-4o-mini'],
  ] as const)('%s: held, streamed, then the same loop twice from the cache, one provider call per turn', async (_, client, model) => {
    e.t.worker();
    e.llm.setDefault(reply.agent());
    const loop = client === 'openai' ? chatLoop : messagesLoop;
    const held = await loop(model, false);
    expect(held).toMatchObject({ text: `The tool said: ${weather('Paris')}`, turns: 2 });
    expect(e.llm.calls).toHaveLength(2);
    // The upstream got the tool in its own format, and the tool result back in its own format.
    const [first, second] = e.llm.calls;
    expect(first!.dialect).toBe(model.startsWith('claude') ? 'anthropic' : 'openai');
    expect(JSON.stringify(first!.body.tools)).toContain('get_weather');
    expect(JSON.stringify(second!.body.messages)).toContain(model.startsWith('claude') ? 'tool_result' : '"role":"tool"');
    // The same loop streamed, and held again: every turn is the same input, answered from the cache.
    expect(await loop(model, true)).toMatchObject({ text: held.text, turns: 2 });
    expect(await loop(model, false)).toMatchObject({ text: held.text, turns: 2 });
    expect(e.llm.calls).toHaveLength(2);
  });

  it('a streamed tool loop reaches the upstream in streaming mode, each turn once', async () => {
    e.t.worker();
    e.llm.setDefault(reply.agent());
    expect(await chatLoop('claude-haiku-4-5', true)).toMatchObject({ turns: 2 });
    expect(await messagesLoop('gpt-4o-mini', true)).toMatchObject({ turns: 2 });
    expect(e.llm.calls.map((c) => [c.dialect, c.body.stream])).toEqual([['anthropic', true], ['anthropic', true], ['openai', true], ['openai', true]]);
  });

  it('concurrent identical tool calls share one job: one upstream call, the same tool call id everywhere', async () => {
    e.t.worker();
    e.llm.setDefault({ ...reply.agent(), delayMs: 300 });
    const ask = () => openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: chatTools });
    const answers = await Promise.all(Array.from({ length: 8 }, ask));
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    expect(new Set(answers.map((a) => a.choices[0]!.message.tool_calls![0]!.id)).size).toBe(1);
    expect(e.llm.calls).toHaveLength(1);
  });

  it('reasoning comes back with its signature and goes back to the provider unchanged, held and streamed', async () => {
    e.t.worker();
    const thinking = { thinking: 'The user wants the weather; call the tool.', signature: 'sig-abc123' };
    e.llm.script({ ...reply.agent(), thinking }, { text: 'Sunny.' }, { ...reply.agent(), thinking });
    const params = { model: 'claude-haiku-4-5', max_tokens: 2048, thinking: { type: 'enabled' as const, budget_tokens: 1024 }, tools: anthropicTools };
    const first = await anthropic().messages.create({ ...params, messages: [{ role: 'user', content: 'Weather in Lima?' }] });
    expect(first.content[0]).toEqual({ type: 'thinking', ...thinking });
    expect(e.llm.calls[0]!.body.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
    await anthropic().messages.create({
      ...params,
      messages: [{ role: 'user', content: 'Weather in Lima?' }, { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: (first.content[1] as Anthropic.ToolUseBlock).id, content: 'sunny' }] }],
    });
    expect((e.llm.calls[1]!.body.messages![1]!.content as unknown[])[0]).toEqual({ type: 'thinking', ...thinking });
    const streamed = await anthropic().messages.stream({ ...params, messages: [{ role: 'user', content: 'Weather in Quito?' }] }).finalMessage();
    expect(streamed.content[0]).toEqual({ type: 'thinking', ...thinking });
  });

  it('a multi-MB base64 image reaches the upstream byte for byte, in each format and across formats', async () => {
    e.t.worker({ config: { ...e.t.config, LOCAL_START: false } }); // through BullMQ: what its job carries is checked below
    const data = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7919) % 256)).toString('base64');
    const viaOpenAI = await openai().chat.completions.create({
      model: 'claude-haiku-4-5', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${data}` } }] }],
    });
    expect(viaOpenAI.choices[0]!.finish_reason).toBe('stop');
    const sentToAnthropic = (e.llm.calls[0]!.body.messages![0]!.content as { type: string; source?: { data?: string; media_type?: string } }[])[1]!;
    expect(sentToAnthropic).toMatchObject({ type: 'image', source: { type: 'base64', media_type: 'image/png' } });
    expect(sentToAnthropic.source!.data === data).toBe(true);
    // The record holds the image; the job's Redis hash does not (the worker read it from the row).
    const job = await e.t.queues.generation.getJob(viaOpenAI.id);
    expect(job!.data).toMatchObject({ messagesInRow: true, messages: [] });
    expect(JSON.stringify(job!.data).length).toBeLessThan(10_000);
    await anthropic().messages.create({
      model: 'gpt-4o-mini', max_tokens: 64, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data } }, { type: 'text', text: 'And this?' }] }],
    });
    const sentToOpenAI = (e.llm.calls[1]!.body.messages![0]!.content as { type: string; image_url?: { url: string } }[])[0]!;
    expect(sentToOpenAI.image_url!.url === `data:image/jpeg;base64,${data}`).toBe(true);
    // The image is part of the input: another image is another generation, the same one a cache hit.
    const again = await anthropic().messages.create({
      model: 'gpt-4o-mini', max_tokens: 64, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data } }, { type: 'text', text: 'And this?' }] }],
    });
    expect((again as unknown as { promptlab: { cached: boolean } }).promptlab.cached).toBe(true);
    expect(e.llm.calls).toHaveLength(2);
  });

  it('count_tokens asks Anthropic for Claude models (free) and estimates the rest; nothing is admitted', async () => {
    const counted = await anthropic().messages.countTokens({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'Count these words please' }] });
    expect(counted.input_tokens).toBe(Math.ceil('Count these words please'.length / 4));
    expect(e.llm.calls.map((c) => c.dialect)).toEqual(['count_tokens']);
    const estimated = await anthropic().messages.countTokens({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(400) }] });
    expect(estimated.input_tokens).toBeGreaterThanOrEqual(100);
    expect(e.llm.calls).toHaveLength(1);
    expect((await e.t.app.inject({ method: 'GET', url: '/v1/jobs', headers: e.auth })).json().data).toHaveLength(0);
  });

  it('user and metadata are kept on the job, not part of the input: two users share one generation; GET /v1/jobs?endUser= finds theirs', async () => {
    e.t.worker();
    const ask = (user: string) => openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Same question' }], user, metadata: { team: 'blue' } });
    const [a, b] = [await ask('u-ann'), await ask('u-bob')];
    expect(b.id).toBe(a.id);
    expect(e.llm.calls).toHaveLength(1);
    const job = (await e.t.app.inject({ method: 'GET', url: `/v1/jobs/${a.id}`, headers: e.auth })).json();
    expect(job).toMatchObject({ endUser: 'u-ann', metadata: { team: 'blue' } });
    const mine = (await e.t.app.inject({ method: 'GET', url: '/v1/jobs?endUser=u-ann', headers: e.auth })).json().data;
    expect(mine.map((j: { id: string }) => j.id)).toEqual([a.id]);
    expect((await e.t.app.inject({ method: 'GET', url: '/v1/jobs?endUser=u-bob', headers: e.auth })).json().data).toEqual([]);
  });
});
