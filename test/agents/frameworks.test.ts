import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatAnthropic } from '@langchain/anthropic';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessageChunk, HumanMessage, ToolMessage, type BaseMessage } from '@langchain/core/messages';
import { tool as lcTool } from '@langchain/core/tools';
import { ChatOpenAI } from '@langchain/openai';
import { Agent, run, setDefaultOpenAIClient, setTracingDisabled, tool as agentTool } from '@openai/agents';
import { generateText, stepCountIs, streamText, tool, type LanguageModel } from 'ai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { reply } from '../fakes/llm-server.js';
import { llmEnvPerTest } from '../support/llm-env.js';

/**
 * The frameworks agents are written with, in their default settings (their own retries, their
 * default endpoints: the AI SDK's `openai(model)` and the Agents SDK speak the Responses API),
 * each running a tool loop through PromptLab held and streamed, then again: the second run is
 * served from the cache, one upstream call per turn in all. The upstreams are the fake servers
 * in each provider's wire format, answering like a tool-calling model.
 */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', OPENAI_API_KEY: 'sk-openai-test' }, { listen: true, openai: true });
const keyOf = () => e.auth.authorization!.replace(/^Bearer /, '');
const ANSWER = `The tool said: ${JSON.stringify({ city: 'Paris', tempC: 21 })}`;
const getWeather = async ({ city }: { city: string }) => JSON.stringify({ city, tempC: 21 });
const PROMPT = 'What is the weather in Paris?';

/** Runs `loop` held and streamed: two upstream calls for the first run, none for the rest. */
async function twiceFromCache(loop: (stream: boolean) => Promise<string>) {
  e.t.worker();
  e.llm.setDefault(reply.agent());
  expect(await loop(false)).toBe(ANSWER);
  expect(e.llm.calls).toHaveLength(2);
  expect(await loop(true)).toBe(ANSWER);
  expect(await loop(false)).toBe(ANSWER);
  expect(e.llm.calls).toHaveLength(2);
}

describe('the Vercel AI SDK (ai 7): generateText and streamText with tools, five steps at most', () => {
  const aiLoop = (model: () => LanguageModel) => async (stream: boolean) => {
    const args = { model: model(), prompt: PROMPT, stopWhen: stepCountIs(5), tools: { get_weather: tool({ description: 'The weather in a city', inputSchema: z.object({ city: z.string() }), execute: getWeather }) } };
    return stream ? await streamText(args).text : (await generateText(args)).text;
  };
  const openai = () => createOpenAI({ baseURL: `${e.base}/v1`, apiKey: keyOf() });

  it('openai(model): the Responses API', async () => {
    await twiceFromCache(aiLoop(() => openai()('gpt-4o-mini')));
    expect(e.llm.calls.every((c) => c.dialect === 'openai')).toBe(true);
  });
  it('openai.chat(model): Chat Completions, to a Claude model', async () => {
    await twiceFromCache(aiLoop(() => openai().chat('claude-haiku-4-5')));
    expect(e.llm.calls.every((c) => c.dialect === 'anthropic')).toBe(true);
  });
  it('anthropic(model): Messages', async () => {
    await twiceFromCache(aiLoop(() => createAnthropic({ baseURL: `${e.base}/v1`, apiKey: keyOf() })('claude-haiku-4-5')));
  });
});

describe('LangChain: bindTools and a tool loop, invoke and stream', () => {
  const weatherTool = lcTool(getWeather, { name: 'get_weather', description: 'The weather in a city', schema: z.object({ city: z.string() }) });
  const lcLoop = (model: () => BaseChatModel) => async (stream: boolean) => {
    const bound = model().bindTools!([weatherTool]);
    const messages: BaseMessage[] = [new HumanMessage(PROMPT)];
    for (let turn = 0; turn < 4; turn++) {
      let ai: AIMessageChunk | undefined;
      if (stream) for await (const chunk of await bound.stream(messages)) ai = ai ? ai.concat(chunk) : chunk;
      else ai = (await bound.invoke(messages)) as AIMessageChunk;
      messages.push(ai!);
      if (!ai!.tool_calls?.length) return ai!.text;
      for (const c of ai!.tool_calls) messages.push(new ToolMessage({ tool_call_id: c.id!, content: await getWeather(c.args as { city: string }) }));
    }
    throw new Error('the loop did not end');
  };

  it('ChatOpenAI, to an OpenAI model', async () => {
    await twiceFromCache(lcLoop(() => new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: keyOf(), configuration: { baseURL: `${e.base}/v1` } })));
  });
  it('ChatAnthropic, to an OpenAI model', async () => {
    await twiceFromCache(lcLoop(() => new ChatAnthropic({ model: 'gpt-4o-mini', apiKey: keyOf(), anthropicApiUrl: e.base })));
    expect(e.llm.calls.every((c) => c.dialect === 'openai')).toBe(true);
  });
});

describe('the OpenAI Agents SDK: an agent with a tool, over the Responses API', () => {
  it('run, held and streamed, then again from the cache', async () => {
    setTracingDisabled(true);
    setDefaultOpenAIClient(new OpenAI({ baseURL: `${e.base}/v1`, apiKey: keyOf() }));
    const agent = new Agent({
      name: 'weather', instructions: 'Be brief.', model: 'claude-haiku-4-5',
      tools: [agentTool({ name: 'get_weather', description: 'The weather in a city', parameters: z.object({ city: z.string() }), execute: getWeather })],
    });
    await twiceFromCache(async (stream) => {
      if (!stream) return String((await run(agent, PROMPT)).finalOutput);
      const s = await run(agent, PROMPT, { stream: true });
      for await (const _ of s) { /* the SDK parses each event */ }
      await s.completed;
      return String(s.finalOutput);
    });
    expect(e.llm.calls.every((c) => c.dialect === 'anthropic')).toBe(true);
  });
});
