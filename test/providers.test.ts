import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { anthropicErrors, createAnthropicProvider } from '../src/providers/anthropic/index.js';
import { parseRetryAfter, PROVIDER_ERROR_TABLE, ProviderError, toProviderError } from '../src/providers/errors.js';
import { createFakeProvider } from '../src/providers/fake/index.js';
import { DEFAULT_MODELS } from '../src/providers/index.js';
import { createOpenAIProvider, openaiErrors } from '../src/providers/openai/index.js';
import { ProviderRegistry } from '../src/providers/registry.js';
import { costUsd } from '../src/llm/price.js';
import { priceFor } from '../src/providers/prices.js';
import type { ProviderCall, Provider } from '../src/providers/types.js';
import { reply, startFakeLlm, type FakeLlm } from './fakes/llm-server.js';

const KEY = 'test-key';
const user = (content: string): ProviderCall['messages'] => [{ role: 'user', content }];
const dialects = [
  {
    name: 'anthropic',
    model: 'claude-haiku-4-5',
    make: (llm: FakeLlm, timeoutMs = 5000): Provider =>
      createAnthropicProvider({ apiKey: KEY, baseURL: llm.anthropicBaseUrl, timeoutMs }),
  },
  {
    name: 'openai',
    model: 'gpt-4o-mini',
    make: (llm: FakeLlm, timeoutMs = 5000): Provider =>
      createOpenAIProvider({ apiKey: KEY, baseURL: llm.openaiBaseUrl, timeoutMs }),
  },
] as const;

/** The ProviderError a rejected promise carries. */
async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

describe.each(dialects)('$name provider against the fake server', ({ name, model, make }) => {
  let llm: FakeLlm;
  let provider: Provider;
  const req = (extra: Partial<ProviderCall> = {}): ProviderCall => ({ model, messages: user('Say hi'), params: { maxTokens: 64 }, ...extra });

  beforeEach(async () => {
    llm = await startFakeLlm({ apiKey: KEY });
    provider = make(llm);
  });
  afterEach(() => llm.close());

  it('maps text, usage, stop reason and model, sending system and prompt', async () => {
    llm.script(reply.ok('hello there', { inputTokens: 11, outputTokens: 7 }));
    const result = await provider.generate(req({ system: 'Be brief.', params: { maxTokens: 64, temperature: 0.2 } }));
    expect(result).toEqual({ text: 'hello there', inputTokens: 11, outputTokens: 7, stopReason: 'end', model });
    expect(llm.calls).toHaveLength(1);
    expect(llm.calls[0]).toMatchObject({ dialect: name, system: 'Be brief.', prompt: 'Say hi' });
    expect(llm.calls[0]?.body).toMatchObject({ temperature: 0.2, max_tokens: 64 });
  });

  it('streams: each text delta in order, then the same result generate gives', async () => {
    llm.script(reply.ok('hello there, streamed', { inputTokens: 11, outputTokens: 7 }));
    const deltas: string[] = [];
    const result = await provider.stream!(req({ system: 'Be brief.' }), (d) => d.type === 'text' && deltas.push(d.text));
    expect(result).toEqual({ text: 'hello there, streamed', inputTokens: 11, outputTokens: 7, stopReason: 'end', model });
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('hello there, streamed');
    expect(llm.calls[0]).toMatchObject({ dialect: name, system: 'Be brief.', body: { stream: true } });
  });

  it('a streamed call refused before it starts is the same ProviderError', async () => {
    llm.script(reply.rateLimited(2));
    expect(await failure(provider.stream!(req(), () => {}))).toMatchObject({ code: 'provider_rate_limited', retryAfterMs: 2000 });
  });

  it('turns 429 with retry-after seconds into a retryable error with retryAfterMs', async () => {
    llm.script(reply.rateLimited(2));
    const err = await failure(provider.generate(req()));
    expect(err).toMatchObject({ code: 'provider_rate_limited', status: 429, retryable: true, retryAfterMs: 2000 });
    expect(llm.calls).toHaveLength(1);
  });

  it('prefers retry-after-ms over retry-after', async () => {
    llm.script(reply.error(429, 'slow down', { 'retry-after-ms': '1500', 'retry-after': '9' }));
    expect(await failure(provider.generate(req()))).toMatchObject({ retryAfterMs: 1500 });
  });

  it.each([
    [500, 'provider_server_error'],
    [503, 'provider_server_error'],
    [529, 'provider_overloaded'],
  ])('treats %i as retryable %s, with one HTTP call', async (status, code) => {
    llm.script(reply.error(status));
    const err = await failure(provider.generate(req()));
    expect(err).toMatchObject({ code, status, retryable: true });
    expect(err.retryAfterMs).toBeUndefined();
    expect(llm.calls).toHaveLength(1);
  });

  it.each([
    [400, 'provider_bad_request'],
    [401, 'provider_auth_failed'],
    [403, 'provider_forbidden'],
    [404, 'provider_not_found'],
    [422, 'provider_bad_request'],
  ])('treats %i as non-retryable %s', async (status, code) => {
    llm.script(reply.error(status));
    expect(await failure(provider.generate(req()))).toMatchObject({ code, status, retryable: false });
    expect(llm.calls).toHaveLength(1);
  });

  it("lets the upstream's x-should-retry header override the table", async () => {
    llm.script(reply.error(500, 'permanent', { 'x-should-retry': 'false' }));
    expect(await failure(provider.generate(req()))).toMatchObject({ code: 'provider_server_error', retryable: false });
  });

  it('times out a reply slower than timeoutMs as retryable provider_timeout', async () => {
    llm.script(reply.slow(2000));
    const err = await failure(make(llm, 100).generate(req()));
    expect(err).toMatchObject({ code: 'provider_timeout', retryable: true });
    expect(llm.calls).toHaveLength(1);
  });

  it.each([
    ['reset', 'provider_unreachable', reply.reset()],
    ['reset mid-body', 'provider_unreachable', reply.resetMidBody()],
    // The SDK timeout ends at the headers; the provider's own deadline covers the body.
    ['stalled body', 'provider_timeout', reply.stalledBody()],
  ])('reports a %s connection as retryable %s', async (_, code, scripted) => {
    llm.script(scripted);
    expect(await failure(make(llm, 300).generate(req()))).toMatchObject({ code, retryable: true });
    expect(llm.calls).toHaveLength(1);
  });

  it('reports an aborted call as provider_aborted', async () => {
    llm.script(reply.slow(2000));
    const controller = new AbortController();
    const pending = provider.generate(req({ signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    expect(await failure(pending)).toMatchObject({ code: 'provider_aborted', retryable: true });
  });

  it('maps a cut-off answer to max_tokens and a refusal to refusal', async () => {
    llm.script(reply.truncated('partial'), reply.refusal('No.'));
    expect(await provider.generate(req())).toMatchObject({ text: 'partial', stopReason: 'max_tokens' });
    expect(await provider.generate(req())).toMatchObject({ stopReason: 'refusal' });
  });

  it('asks for JSON in the system prompt when responseFormat is set', async () => {
    const jsonSchema = { type: 'object', properties: { sentiment: { enum: ['pos', 'neg'] } }, required: ['sentiment'] };
    await provider.generate(req({ system: 'You classify.', responseFormat: { type: 'json_schema', schema: jsonSchema } }));
    const system = llm.calls[0]?.system ?? '';
    expect(system.startsWith('You classify.')).toBe(true);
    expect(system).toContain('JSON Schema');
    expect(system).toContain(JSON.stringify(jsonSchema, null, 2));
  });
});

describe('openai provider details', () => {
  let llm: FakeLlm;
  beforeEach(async () => (llm = await startFakeLlm()));
  afterEach(() => llm.close());

  it('can send max_completion_tokens instead', async () => {
    const provider = createOpenAIProvider({ baseURL: llm.openaiBaseUrl, timeoutMs: 5000, tokenLimitField: 'max_completion_tokens' });
    await provider.generate({ model: 'gpt-5', messages: user('hi'), params: { maxTokens: 5 } });
    expect(llm.calls[0]?.body).toMatchObject({ max_completion_tokens: 5 });
    expect(llm.calls[0]?.body).not.toHaveProperty('max_tokens');
  });

  it('works without an API key against a local compatible server, sending max_tokens', async () => {
    const provider = createOpenAIProvider({ baseURL: llm.openaiBaseUrl, timeoutMs: 5000 });
    await provider.generate({ model: 'llama3', messages: user('hi'), params: { maxTokens: 5 } });
    expect(llm.calls[0]?.headers.authorization).toBe('Bearer not-needed');
    expect(llm.calls[0]?.body.max_tokens).toBe(5);
    expect(llm.calls[0]?.system).toBeUndefined();
  });

  it('keeps content_filter apart from a refusal', async () => {
    llm.script({ text: '', stopReason: 'content_filter' });
    const provider = createOpenAIProvider({ baseURL: llm.openaiBaseUrl, timeoutMs: 5000 });
    expect(await provider.generate({ model: 'gpt-4o', messages: user('x'), params: { maxTokens: 5 } })).toMatchObject({ stopReason: 'content_filter' });
  });
});

describe('error classification', () => {
  it('parses retry-after as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:30 GMT' }), now)).toBe(30_000);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(parseRetryAfter(new Headers(), now)).toBeUndefined();
  });

  it('keeps ProviderErrors and fails unknown errors at once', () => {
    const own = new ProviderError('provider_timeout', 'x', { retryable: true });
    expect(toProviderError(own)).toBe(own);
    expect(toProviderError(new TypeError('bug'))).toMatchObject({ code: 'provider_error', retryable: false });
  });

  it('each SDK provider declares how its errors read; the one table says what they mean', () => {
    const registry = new ProviderRegistry(loadConfig({ PROVIDERS_JSON: JSON.stringify([{ name: 'local', baseUrl: 'http://127.0.0.1:1/v1', models: [{ name: 'm', input: 0, output: 0 }] }]) }));
    expect(registry.names).toEqual(['anthropic', 'openai', 'fake', 'local']);
    for (const d of registry.names.map((n) => registry.get(n)!)) expect(d.errors !== undefined, d.name).toBe(d.dialect !== 'none');
    const sdks = [
      { mapping: anthropicErrors, sdk: Anthropic },
      { mapping: openaiErrors, sdk: OpenAI },
    ] as const;
    for (const { mapping, sdk } of sdks) {
      const limited = toProviderError(sdk.APIError.generate(429, { error: { message: 'slow down' } }, 'slow down', new Headers({ 'retry-after': '2' })), mapping);
      expect(limited).toMatchObject({ code: 'provider_rate_limited', retryable: true, status: 429, retryAfterMs: 2000 });
      expect(toProviderError(sdk.APIError.generate(400, { error: { message: 'no' } }, 'no', new Headers()), mapping)).toMatchObject({ code: 'provider_bad_request', retryable: false });
      expect(toProviderError(new sdk.APIConnectionTimeoutError(), mapping)).toMatchObject({ code: 'provider_timeout', retryable: true });
      expect(toProviderError(new sdk.APIConnectionError({ message: 'refused' }), mapping)).toMatchObject({ code: 'provider_unreachable', retryable: true });
      expect(toProviderError(new sdk.APIUserAbortError(), mapping)).toMatchObject({ code: 'provider_aborted' });
    }
    // Another SDK's error is not this provider's: unknown, not retried.
    expect(toProviderError(new OpenAI.APIConnectionTimeoutError(), anthropicErrors)).toMatchObject({ code: 'provider_error', retryable: false });
  });

  it('has one table saying which statuses are retryable', () => {
    const retryable = Object.entries(PROVIDER_ERROR_TABLE).filter(([k, r]) => /^\d+$/.test(k) && r.retryable);
    expect(retryable.map(([k]) => Number(k))).toEqual([408, 409, 429, 500, 502, 503, 504, 529]);
  });
});

describe('providers factory', () => {
  it('always has fake, anthropic only with a key, openai with a key or a base URL', () => {
    const base = { PROVIDER_TIMEOUT_MS: '1000', FAKE_LATENCY_MS: '0' };
    expect(Object.keys(new ProviderRegistry(loadConfig(base)).createProviders())).toEqual(['fake']);
    expect(Object.keys(new ProviderRegistry(loadConfig({ ...base, ANTHROPIC_BASE_URL: 'http://x' })).createProviders())).toEqual(['fake']);
    const all = new ProviderRegistry(loadConfig({ ...base, ANTHROPIC_API_KEY: 'a', OPENAI_BASE_URL: 'http://127.0.0.1:1/v1' })).createProviders();
    expect(Object.keys(all).sort()).toEqual(['anthropic', 'fake', 'openai']);
    expect(DEFAULT_MODELS).toEqual({ anthropic: 'claude-haiku-4-5', openai: 'gpt-4o-mini', fake: 'fake-1' });
  });
});

describe('fake provider', () => {
  const fake = createFakeProvider({ latencyMs: 0 });
  const req: ProviderCall = { model: 'fake-1', system: 'sys', messages: user('Summarise the meeting'), params: { maxTokens: 256 } };

  it('is deterministic, named fake-1, with tokens estimated from length', async () => {
    const a = await fake.generate(req);
    expect(await fake.generate({ ...req })).toEqual(a);
    expect(a.text).toMatch(/^\[fake\] [0-9a-f]{12} Summarise the meeting$/);
    const inputTokens = Math.ceil('sys\nSummarise the meeting'.length / 4);
    expect(a).toMatchObject({ model: 'fake-1', stopReason: 'end', inputTokens, outputTokens: Math.ceil(a.text.length / 4) });
    expect((await fake.generate({ ...req, system: 'other' })).text).not.toBe(a.text);
  });

  it('streams its deterministic text in a few pieces', async () => {
    const deltas: string[] = [];
    const streamed = await fake.stream!(req, (d) => d.type === 'text' && deltas.push(d.text));
    expect(streamed).toEqual(await fake.generate(req));
    expect(deltas.length).toBe(4);
    expect(deltas.join('')).toBe(streamed.text);
  });

  it('answers with 0 ms latency before any timer could fire', async () => {
    let done = false;
    const pending = fake.generate(req).then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(true);
    await pending;
  });

  it('cuts output at maxTokens and honours an abort', async () => {
    const cut = await fake.generate({ ...req, params: { maxTokens: 2 } });
    expect(cut).toMatchObject({ text: expect.stringMatching(/^\[fake\] [0-9a-f]$/), stopReason: 'max_tokens', outputTokens: 2 });
    const slow = createFakeProvider({ latencyMs: 10_000 });
    const controller = new AbortController();
    const pending = slow.generate({ ...req, signal: controller.signal });
    controller.abort();
    expect(await failure(pending)).toMatchObject({ code: 'provider_aborted' });
    expect(await failure(fake.generate({ ...req, signal: AbortSignal.abort() }))).toMatchObject({ code: 'provider_aborted' });
  });

  it('answers a JSON document conforming to responseFormat', async () => {
    const jsonSchema = {
      type: 'object',
      required: ['summary', 'score', 'ratio', 'tags', 'meta'],
      properties: {
        summary: { type: 'string', minLength: 40, maxLength: 50 },
        score: { type: 'integer', minimum: 3, maximum: 9 },
        ratio: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
        done: { type: 'boolean' },
        tags: { type: 'array', minItems: 2, items: { enum: ['a', 'b'] } },
        meta: { type: 'object', properties: { on: { type: ['string', 'null'], format: 'date' }, kind: { const: 'k' } } },
        either: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
      },
    };
    const result = await fake.generate({ ...req, responseFormat: { type: 'json_schema', schema: jsonSchema } });
    const doc = JSON.parse(result.text);
    expect(doc).toMatchObject({ score: 3, done: true, tags: ['a', 'a'], meta: { on: '2024-01-01', kind: 'k' }, either: 1 });
    expect(doc.summary.length).toBeGreaterThanOrEqual(40);
    expect(doc.summary.length).toBeLessThanOrEqual(50);
    expect(doc.ratio).toBeGreaterThan(0);
    expect(doc.ratio).toBeLessThan(1);
    expect((await fake.generate({ ...req, responseFormat: { type: 'json_schema', schema: jsonSchema } })).text).toBe(result.text);
  });
});

describe('pricing', () => {
  it('matches a model exactly, then by the longest prefix', () => {
    expect(priceFor('anthropic', 'claude-haiku-4-5')).toEqual({ inputPerMTok: 1, outputPerMTok: 5, cacheReadPerMTok: 0.1, cacheWritePerMTok: 1.25 });
    expect(priceFor('anthropic', 'claude-haiku-4-5-20251001')).toMatchObject({ inputPerMTok: 1, outputPerMTok: 5 });
    expect(priceFor('openai', 'gpt-4o-mini-2024-07-18')).toEqual({ inputPerMTok: 0.15, outputPerMTok: 0.6, cacheReadPerMTok: 0.075 });
    expect(priceFor('openai', 'gpt-4o-2024-08-06')).toMatchObject({ inputPerMTok: 2.5, outputPerMTok: 10 });
    expect(priceFor('fake', 'fake-1')).toMatchObject({ inputPerMTok: 1, outputPerMTok: 2 });
    expect(priceFor('openai', 'llama3')).toBeUndefined();
    expect(priceFor('openai', 'toString')).toBeUndefined();
    expect(priceFor('anthropic', 'gpt-4o')).toBeUndefined();
  });

  it('lets overrides replace and add prices', () => {
    const overrides = { openai: { 'gpt-4o': { input: 2, output: 8, cacheRead: 1 }, llama3: { input: 0, output: 0 } } };
    expect(priceFor('openai', 'gpt-4o-2024-08-06', overrides)).toEqual({ inputPerMTok: 2, outputPerMTok: 8, cacheReadPerMTok: 1 });
    expect(priceFor('openai', 'llama3:8b', overrides)).toEqual({ inputPerMTok: 0, outputPerMTok: 0 });
    expect(priceFor('openai', 'gpt-4o-mini', overrides)).toMatchObject({ inputPerMTok: 0.15, outputPerMTok: 0.6 });
  });

  it('computes cost in whole nano-dollars without float noise', () => {
    const price = (inputPerMTok: number, outputPerMTok: number) => ({ inputPerMTok, outputPerMTok });
    expect(costUsd({ inputTokens: 1_000_000, outputTokens: 1_000_000 }, price(1, 5))).toBe(6);
    expect(costUsd({ inputTokens: 1, outputTokens: 1 }, price(0.15, 0.6))).toBe(0.00000075);
    expect(costUsd({ inputTokens: 3, outputTokens: 0 }, price(0.1, 0))).toBe(0.0000003);
    expect(costUsd({ inputTokens: 1, outputTokens: 0 }, price(0.0005, 0))).toBe(0.000000001);
    expect(costUsd({ inputTokens: 1, outputTokens: 0 }, price(0.0004, 0))).toBe(0);
    expect(costUsd({ inputTokens: 1234, outputTokens: 567 }, price(3, 15))).toBe(0.012207);
    // Prompt-cache reads and writes at their own prices; without one, at the input price.
    const cached = { inputPerMTok: 3, outputPerMTok: 15, cacheReadPerMTok: 0.3, cacheWritePerMTok: 3.75 };
    expect(costUsd({ inputTokens: 1_000_000, outputTokens: 0, cacheReadTokens: 600_000, cacheWriteTokens: 200_000 }, cached)).toBe(0.6 + 0.18 + 0.75);
    expect(costUsd({ inputTokens: 1_000_000, outputTokens: 0, cacheReadTokens: 1_000_000 }, price(3, 15))).toBe(3);
  });
});
