import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applyDelta, deltasOf, remainder } from '../../src/llm/answer.js';
import { worstCaseTokens } from '../../src/llm/estimate.js';
import { canonicalHash, canonicalJson, inputHash, shareTokens } from '../../src/llm/hash.js';
import type { OutputBlock } from '../../src/llm/message.js';
import type { GenerationRequest } from '../../src/llm/request.js';
import type { StreamDelta } from '../../src/llm/result.js';
import { requestOf, storedRequest } from '../../src/llm/stored.js';
import { createFakeProvider } from '../../src/providers/fake/index.js';

const fake = createFakeProvider({ latencyMs: 0 });
const weather = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const ask = (extra: Partial<GenerationRequest> = {}) => ({ model: 'fake-1', messages: [{ role: 'user' as const, content: 'Weather?' }], params: { maxTokens: 100 }, ...extra });

describe('the input hash', () => {
  it('hashing in place is the hash of the canonical JSON, for any value', () => {
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    fc.assert(fc.property(fc.jsonValue(), (v) => canonicalHash(v) === sha(canonicalJson(v))));
    const big = { data: 'A'.repeat(1_000_000), n: [1, null, 'x'] };
    expect(canonicalHash(big)).toBe(sha(canonicalJson(big)));
  });

  it('a text-only request hashes as it did before blocks existed; tools, tool choice and images each change it', () => {
    const base: GenerationRequest = { provider: 'fake', ...ask() };
    expect(inputHash(base)).toBe(canonicalHash({ request: base }));
    const hashes = new Set([
      inputHash(base),
      inputHash({ ...base, tools: [weather] }),
      inputHash({ ...base, tools: [weather], toolChoice: 'required' }),
      inputHash({ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' } }] }] }),
    ]);
    expect(hashes.size).toBe(4);
  });

  it('a request comes back from its stored form whole (tools, choice, reasoning, system blocks)', () => {
    const r: GenerationRequest = {
      provider: 'anthropic', model: 'claude-haiku-4-5', system: [{ type: 'text', text: 'Be brief.', cacheControl: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'hi' }], params: { maxTokens: 10, topK: 5, reasoning: { budgetTokens: 2048 } },
      tools: [weather], toolChoice: { name: 'get_weather' }, parallelToolCalls: false,
    };
    expect(requestOf(JSON.parse(JSON.stringify(storedRequest(r))))).toEqual(r);
  });

  it('token shares add up to the whole', () => {
    fc.assert(fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 20 }), fc.nat(100_000), (texts, total) => shareTokens(texts, total).reduce((a, b) => a + b, 0) === total));
  });
});

describe('streamed answers', () => {
  const blocks: OutputBlock[] = [
    { type: 'thinking', thinking: 'hmm, the weather', signature: 'sig' },
    { type: 'text', text: 'Let me look.' },
    { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
  ];

  it('any prefix of the pieces, completed by the remainder, is the whole answer', () => {
    const all = deltasOf(blocks, 3);
    for (let cut = 0; cut <= all.length; cut++) {
      const sent: OutputBlock[] = [];
      for (const d of all.slice(0, cut)) applyDelta(sent, d);
      const rest = remainder(blocks, sent, 3)!;
      for (const d of rest) applyDelta(sent, d);
      expect(sent, `cut at ${cut}`).toEqual(blocks);
    }
  });

  it('pieces that are not the answer\'s start cannot be completed', () => {
    const sent: OutputBlock[] = [];
    applyDelta(sent, { type: 'text', block: 1, text: 'Something else' } as StreamDelta);
    expect(remainder(blocks, sent, 3)).toBeUndefined();
  });
});

describe('the fake provider as a tool-calling model', () => {
  it('calls the named tool, else the first; not with tool_choice none; answers in text after a tool result on auto', async () => {
    const other = { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } };
    const first = await fake.generate(ask({ tools: [weather, other] }));
    expect(first).toMatchObject({ stopReason: 'tool_use', text: '', blocks: [{ type: 'tool_call', name: 'get_weather' }] });
    expect(JSON.parse((first.blocks![0] as { arguments: string }).arguments)).toHaveProperty('city');
    expect((await fake.generate(ask({ tools: [weather, other], toolChoice: { name: 'get_time' } }))).blocks![0]).toMatchObject({ name: 'get_time' });
    expect(await fake.generate(ask({ tools: [weather], toolChoice: 'none' }))).toMatchObject({ stopReason: 'end' });
    const call = first.blocks![0] as { id: string };
    const after = await fake.generate(ask({
      tools: [weather],
      messages: [{ role: 'user', content: 'Weather?' }, { role: 'assistant', content: first.blocks! }, { role: 'user', content: [{ type: 'tool_result', toolCallId: call.id, content: 'sunny' }] }],
    }));
    expect(after).toMatchObject({ stopReason: 'end', text: expect.stringContaining('the tool said: sunny') });
    // required keeps calling tools, a tool result or not.
    const required = await fake.generate(ask({
      tools: [weather], toolChoice: 'required',
      messages: [{ role: 'user', content: 'Weather?' }, { role: 'assistant', content: first.blocks! }, { role: 'user', content: [{ type: 'tool_result', toolCallId: call.id, content: 'sunny' }] }],
    }));
    expect(required.stopReason).toBe('tool_use');
  });

  it('thinks when asked, counts images in its input tokens, and embeds only with fake-embed models', async () => {
    expect((await fake.generate(ask({ params: { maxTokens: 100, reasoning: { effort: 'high' } } }))).blocks![0]).toMatchObject({ type: 'thinking' });
    const image = { type: 'image' as const, source: { kind: 'base64' as const, mediaType: 'image/png', data: 'A'.repeat(40_000) } };
    const plain = await fake.generate(ask());
    const withImage = await fake.generate(ask({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Weather?' }, image] }] }));
    expect(withImage.inputTokens - plain.inputTokens).toBe(85 + Math.ceil(30_000 / 750));
    const embedded = await fake.embed!({ model: 'fake-embed-1', messages: [], params: { maxTokens: 0 }, embed: { inputs: ['a', 'b'], dimensions: 4 } });
    expect(embedded.embeddings!.map((v) => Buffer.from(v, 'base64').length)).toEqual([16, 16]);
    await expect(fake.embed!({ model: 'fake-1', messages: [], params: { maxTokens: 0 }, embed: { inputs: ['a'] } })).rejects.toMatchObject({ code: 'provider_bad_request' });
  });

  it('the worst case holds every part: an image, a tool definition and a tool result count', () => {
    const text = worstCaseTokens(ask());
    const rich = worstCaseTokens(ask({ tools: [weather], messages: [{ role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image', source: { kind: 'url', url: 'https://x/y.png' } }] }] }));
    expect(rich.inputTokens - text.inputTokens).toBeGreaterThanOrEqual(2_000 + JSON.stringify([weather]).length);
    expect(worstCaseTokens({ messages: [], params: { maxTokens: 0 }, embed: { inputs: ['abcd', 'efgh'] } })).toEqual({ inputTokens: 16 + 10, outputTokens: 0 });
  });
});
