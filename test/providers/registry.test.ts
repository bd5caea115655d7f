import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ConfigSchema, loadConfig } from '../../src/config/index.js';
import { REDACT } from '../../src/logger.js';
import { PRICING } from '../../src/providers/built-in.js';
import { BUILT_IN_PROVIDERS } from '../../src/providers/built-in.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';

/**
 * PROVIDERS_JSON: an OpenAI-compatible server under its own name, reached through the
 * real openai SDK at the fake LLM server, priced by its own list, its key read once
 * from the variable it names and never shown.
 */
const KEY = 'sk-local-0123456789-secret';
const WRONG_KEY = 'sk-wrong-9876543210-secret';

let llm: FakeLlm;
let t: TestEnv;
let auth: Record<string, string>;
let logs: string[];

const providersJson = (baseUrl: string) => JSON.stringify([
  { name: 'local', baseUrl, apiKeyEnv: 'LOCAL_LLM_KEY', models: [{ name: 'llama3.2', input: 0.5, output: 1.5 }, { name: 'qwen3', input: 0, output: 0 }] },
  { name: 'badkey', baseUrl, apiKeyEnv: 'BAD_LLM_KEY', models: [{ name: 'llama3.2', input: 0, output: 0 }] },
]);

const createTemplate = (payload: Record<string, unknown>) =>
  t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'reg', body: 'Say {{x}}', ...payload } });
const generate = (payload: Record<string, unknown>) =>
  t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { variables: { x: 'hi' }, ...payload } });

describe('a PROVIDERS_JSON provider is usable by name', () => {
  beforeAll(async () => { llm = await startFakeLlm({ apiKey: KEY }); });
  afterAll(() => llm.close());
  beforeEach(async () => {
    t = await createTestEnv({ PROVIDERS_JSON: providersJson(llm.openaiBaseUrl), LOCAL_LLM_KEY: KEY, BAD_LLM_KEY: WRONG_KEY });
    auth = await t.keyHeader('enterprise');
    llm.reset();
    logs = [];
    const sink = new Writable({ write(chunk, _enc, done) { logs.push(String(chunk)); done(); } });
    t.worker({ log: pino({ level: 'trace', redact: { paths: REDACT, censor: '[redacted]' } }, sink) });
  });
  afterEach(() => t.close());

  it('generates through the openai SDK at its base URL with its key, and costs per its prices', async () => {
    const tpl = (await createTemplate({ provider: 'local', model: 'llama3.2' })).json();
    expect(tpl.provider).toBe('local');
    llm.script(reply.ok('hello from local', { inputTokens: 1000, outputTokens: 2000 }));
    const res = await generate({ templateId: tpl.id });
    expect([200, 202]).toContain(res.statusCode);
    const job = await waitForStatus(t.app, auth, res.json().jobId, ['completed']);
    expect(job).toMatchObject({ provider: 'local', model: 'llama3.2', result: { text: 'hello from local' } });
    expect(job.costUsd).toBeCloseTo(1000 * 0.5e-6 + 2000 * 1.5e-6, 9);
    expect(llm.calls).toHaveLength(1);
    const call = llm.calls[0]!;
    expect(call).toMatchObject({ dialect: 'openai', path: '/v1/chat/completions', body: { model: 'llama3.2' } });
    expect(call.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(call.headers['user-agent']).toMatch(/^OpenAI\/JS/);
  });

  it('uses its default model (the first listed) when none is named, and a request may pick it', async () => {
    const tpl = (await createTemplate({})).json();
    const res = await generate({ templateId: tpl.id, provider: 'local' });
    const job = await waitForStatus(t.app, auth, res.json().jobId, ['completed']);
    expect(job).toMatchObject({ provider: 'local', model: 'llama3.2' });
    expect(llm.calls.map((c) => c.body.model)).toEqual(['llama3.2']);
  });

  it('refuses a model it does not list, as for any provider', async () => {
    const tpl = (await createTemplate({ provider: 'local' })).json();
    const res = await generate({ templateId: tpl.id, model: 'gpt-4o' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('unknown_model');
    expect(llm.calls).toHaveLength(0);
  });

  it('an unknown provider is a 400 provider_unavailable on templates and on generate', async () => {
    const created = await createTemplate({ provider: 'mistral' });
    expect(created.statusCode).toBe(400);
    expect(created.json().error).toMatchObject({ code: 'provider_unavailable', details: { provider: 'mistral' } });
    const tpl = (await createTemplate({ provider: 'local' })).json();
    const patched = await t.app.inject({ method: 'PATCH', url: `/v1/templates/${tpl.id}`, headers: auth, payload: { provider: 'mistral' } });
    expect(patched.statusCode).toBe(400);
    expect(patched.json().error.code).toBe('provider_unavailable');
    const res = await generate({ templateId: tpl.id, provider: 'mistral' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'provider_unavailable', details: { provider: 'mistral' } });
    expect(llm.calls).toHaveLength(0);
  });

  it('its key never appears in logs, job errors or responses, even when the upstream refuses it', async () => {
    const tpl = (await createTemplate({ provider: 'badkey' })).json();
    const res = await generate({ templateId: tpl.id });
    const job = await waitForStatus(t.app, auth, res.json().jobId, ['dead']);
    expect(job.error.code).toBe('provider_auth_failed');
    expect(llm.calls[0]!.headers.authorization).toBe(`Bearer ${WRONG_KEY}`);
    const ok = (await createTemplate({ provider: 'local' })).json();
    await waitForStatus(t.app, auth, (await generate({ templateId: ok.id })).json().jobId, ['completed']);
    const seen = [...logs, JSON.stringify(job), res.body].join('\n');
    expect(logs.length).toBeGreaterThan(0);
    expect(seen).not.toContain(KEY);
    expect(seen).not.toContain(WRONG_KEY);
  });
});

describe('the built-in definitions', () => {
  it('each reads only config variables that exist, is priced in the one table, and prices its default model', () => {
    expect(BUILT_IN_PROVIDERS.map((d) => d.name)).toEqual(Object.keys(PRICING));
    for (const d of BUILT_IN_PROVIDERS) {
      for (const v of d.configVariables) expect(Object.keys(ConfigSchema.properties), `${d.name}: ${v}`).toContain(v);
      expect(d.prices).toBe(PRICING[d.name]);
      expect(d.prices[d.defaultModel], d.name).toBeDefined();
    }
  });
});

describe('PROVIDERS_JSON is checked at boot', () => {
  const entry = (extra: Record<string, unknown> = {}) => ({ name: 'local', baseUrl: 'http://127.0.0.1:11434/v1', models: [{ name: 'llama3.2', input: 0, output: 0 }], ...extra });
  /** What a process does at boot: parse the environment, then build the provider registry, which checks what needs it. */
  const boot = (e: Record<string, string>) => new ProviderRegistry(loadConfig(e));
  const env = (value: unknown) => ({ PROVIDERS_JSON: typeof value === 'string' ? value : JSON.stringify(value), LOCAL_LLM_KEY: KEY });

  it('builds the registry: built-ins first, then the configured names, each with its default model', () => {
    const config = loadConfig(env([entry({ apiKeyEnv: 'LOCAL_LLM_KEY', defaultModel: 'llama3.2' }), { ...entry(), name: 'vllm' }]));
    const registry = new ProviderRegistry(config);
    expect(registry.names).toEqual(['anthropic', 'openai', 'fake', 'local', 'vllm']);
    expect(registry.defaultModel('local')).toBe('llama3.2');
    expect(registry.isEnabled('local')).toBe(true);
    expect(registry.defaultProvider).toBe('fake');
    expect(new ProviderRegistry(loadConfig({ ...env([entry()]), DEFAULT_PROVIDER: 'local' })).defaultProvider).toBe('local');
    expect(Object.keys(registry.createProviders()).sort()).toEqual(['fake', 'local', 'vllm']);
  });

  it('routes a model name to its provider: provider/model, a listed model, then the built-ins\' prefixes', () => {
    const registry = new ProviderRegistry(loadConfig(env([entry({ models: [{ name: 'llama3.2', input: 0, output: 0 }, { name: 'gpt-oss', input: 0, output: 0 }] })])));
    const route = (m: string) => registry.routeModel(m);
    expect(route('claude-haiku-4-5')).toEqual({ provider: 'anthropic', model: 'claude-haiku-4-5' });
    for (const m of ['gpt-4o-mini', 'o1-mini', 'o3', 'o4-mini']) expect(route(m)).toEqual({ provider: 'openai', model: m });
    expect(route('fake-1')).toEqual({ provider: 'fake', model: 'fake-1' });
    expect(route('llama3.2')).toEqual({ provider: 'local', model: 'llama3.2' });
    expect(route('gpt-oss')).toEqual({ provider: 'local', model: 'gpt-oss' });
    expect(route('openai/gpt-oss')).toEqual({ provider: 'openai', model: 'gpt-oss' });
    expect(route('local/anything')).toEqual({ provider: 'local', model: 'anything' });
    for (const m of ['mystery', 'nowhere/gpt', 'openai/', 'omni']) expect(route(m), m).toBeUndefined();
    // Only enabled providers are listed: fake and local here.
    expect(new Set(registry.models().map((m) => m.provider))).toEqual(new Set(['fake', 'local']));
    const priced = new ProviderRegistry(loadConfig({ ...env([entry()]), PRICING_JSON: JSON.stringify({ fake: { 'fake-2': { input: 0, output: 0 } } }) }));
    expect(priced.models()).toContainEqual({ provider: 'fake', model: 'fake-2' });
  });

  it('keeps the key out of a logged config', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const config = loadConfig(env([entry({ apiKeyEnv: 'LOCAL_LLM_KEY' })]));
    expect(config.compatibleProviders?.[0]?.apiKey).toBe(KEY);
    pino({ redact: { paths: REDACT, censor: '[redacted]' } }, sink).info({ config }, 'boot');
    expect(lines.join('')).toContain('[redacted]');
    expect(lines.join('')).not.toContain(KEY);
  });

  it('lets PRICING_JSON and DEFAULT_PROVIDER name a configured provider, and nothing else', () => {
    expect(() => boot({ ...env([entry()]), PRICING_JSON: '{"local":{"llama3.2":{"input":1,"output":1}}}' })).not.toThrow();
    expect(() => boot({ PRICING_JSON: '{"local":{"llama3.2":{"input":1,"output":1}}}' }))
      .toThrow(/PRICING_JSON names unknown provider "local" \(known: anthropic, openai, fake\)/);
    expect(() => boot({ DEFAULT_PROVIDER: 'local' })).toThrow(/DEFAULT_PROVIDER="local": not a provider/);
  });

  it.each([
    ['not JSON', '[{"name":', /PROVIDERS_JSON is not valid JSON/],
    ['not an array', { name: 'local' }, /PROVIDERS_JSON \(root\) must be array/],
    ['a built-in name', [entry({ name: 'openai' })], /PROVIDERS_JSON \/0\/name "openai" is a built-in provider/],
    ['a duplicate name', [entry(), entry()], /PROVIDERS_JSON \/1\/name "local" is used twice/],
    ['an uppercase name', [entry({ name: 'Local' })], /PROVIDERS_JSON \/0\/name/],
    ['a negative price', [entry({ models: [{ name: 'llama3.2', input: -1, output: 0 }] })], /PROVIDERS_JSON \/0\/models\/0\/input must be >= 0/],
    ['no models', [entry({ models: [] })], /PROVIDERS_JSON \/0\/models/],
    ['a base URL that is not http(s)', [entry({ baseUrl: 'ftp://x' })], /PROVIDERS_JSON \/0\/baseUrl/],
    ['a default model it does not list', [entry({ defaultModel: 'gpt-4o' })], /PROVIDERS_JSON \/0\/defaultModel "gpt-4o" is not one of its models/],
    ['an unknown field', [entry({ apiKey: KEY })], /PROVIDERS_JSON \/0 has unknown field "apiKey"/],
    ['a key variable that is not set', [entry({ apiKeyEnv: 'MISSING_KEY' })], /PROVIDERS_JSON \/0\/apiKeyEnv names MISSING_KEY, which is not set/],
  ])('refuses %s, naming PROVIDERS_JSON and never a key', (_what, value, message) => {
    let err: unknown;
    try {
      boot(env(value));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain(KEY);
  });
});
