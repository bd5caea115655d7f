import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { EVERY_PROJECT, type Caller } from '../../src/auth/caller.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { AppError } from '../../src/errors/app-error.js';
import { PRICING } from '../../src/providers/built-in.js';
import { allowedModelsOf, assertModelAllowed, isModelAllowed } from '../../src/spend/allow-list.js';
import { ADMIN_KEY, createTestEnv, openApp, type TestEnv } from '../support/context.js';
import { storedRows } from '../support/rows.js';

const key = (tier: Caller['tier'], allowedModels?: string[]): Caller => ({ keyId: 'key_x', tier, admin: false, role: 'admin', projectId: 'default', ...(allowedModels ? { allowedModels } : {}) });

describe('patterns', () => {
  it.each([
    ['*', 'anthropic', 'claude-opus-4-1', true],
    ['openai/*', 'openai', 'gpt-4o', true],
    ['openai/*', 'anthropic', 'gpt-4o', false],
    ['anthropic/claude-haiku-*', 'anthropic', 'claude-haiku-4-5-20251001', true],
    ['anthropic/claude-haiku-*', 'anthropic', 'claude-3-5-haiku-latest', false],
    ['openai/gpt-4o-mini', 'openai', 'gpt-4o-mini', true],
    ['openai/gpt-4o-mini', 'openai', 'gpt-4o-mini-2024-07-18', false],
    ['openai/gpt-4.1-mini*', 'openai', 'gpt-4.1-mini', true],
    ['openai/gpt-4.1-mini*', 'openai', 'gpt-4x1-mini', false], // `.` is a literal, not "any character"
    ['*/fake-1', 'fake', 'fake-1', true],
    ['*/fake-1', 'openai', 'fake-1', true],
    ['openai/meta-llama/*', 'openai', 'meta-llama/Llama-3-8B', true],
    ['openai/a*b*c', 'openai', 'aXbYc', true],
    ['openai/a*b*c', 'openai', 'abc', true],
    ['openai/a*b*c', 'openai', 'acb', false],
    ['openai/a*a', 'openai', 'a', false],
    ['open*/gpt-5*', 'openai', 'gpt-5-nano', true],
  ])('%s vs %s/%s → %s', (pattern, provider, model, allowed) => {
    expect(isModelAllowed([pattern], provider, model)).toBe(allowed);
  });

  it('many stars against a long name: answered without backtracking blow-up', () => {
    expect(isModelAllowed([`openai/${'*a'.repeat(40)}*b`], 'openai', 'a'.repeat(200))).toBe(false);
  });

  it('a refusal is a 403 model_not_allowed naming the model and what is allowed', () => {
    const patterns = ['fake/*', 'openai/gpt-4o-mini*'];
    let error: unknown;
    try {
      assertModelAllowed(patterns, 'anthropic', 'claude-opus-4-1');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    const e = error as AppError;
    expect([e.code, e.statusCode]).toEqual(['model_not_allowed', 403]);
    expect(e.message).toMatch(/anthropic\/claude-opus-4-1.*fake\/\*, openai\/gpt-4o-mini\*/);
    expect(e.details).toEqual({ provider: 'anthropic', model: 'claude-opus-4-1', allowed: patterns });
    expect(() => assertModelAllowed(patterns, 'openai', 'gpt-4o-mini')).not.toThrow();
  });

  it('whose list applies: the key\'s own, else its tier\'s; the admin key everything', () => {
    const config = loadConfig({ MODELS_PRO: 'openai/*, anthropic/*' });
    expect(allowedModelsOf(config, key('pro'))).toEqual(['openai/*', 'anthropic/*']);
    expect(allowedModelsOf(config, key('enterprise'))).toEqual(['*']);
    expect(allowedModelsOf(config, key('pro', ['fake/*']))).toEqual(['fake/*']);
    expect(allowedModelsOf(config, key('free', []))).toEqual([]);
    expect(allowedModelsOf(config, { keyId: 'admin', tier: 'enterprise', admin: true, role: 'global_admin', projectId: null })).toEqual(['*']);
    expect(allowedModelsOf(config, key('pro'))).toBe(allowedModelsOf(config, key('pro'))); // parsed once
  });

  it('the free tier\'s default is exactly the priced models at most $1 per million input tokens', () => {
    const free = allowedModelsOf(loadConfig({}), key('free'));
    for (const [provider, models] of Object.entries(PRICING)) {
      for (const [model, price] of Object.entries(models)) {
        const cheap = price.inputPerMTok <= 1;
        expect(isModelAllowed(free, provider, model), `${provider}/${model}`).toBe(cheap);
        expect(isModelAllowed(free, provider, `${model}-20251001`), `${provider}/${model}-20251001`).toBe(cheap);
      }
    }
  });
});

describe('configuration', () => {
  it.each(['anthropic', 'openai/gpt(4', 'openai/*,', 'openai/ gpt-4o', 'openai/gpt-4o;fake/*', '/gpt-4o'])('MODELS_FREE=%j fails at boot, naming the variable', (value) => {
    expect(() => loadConfig({ MODELS_FREE: value })).toThrow(/\bMODELS_FREE=/);
  });

  it('lists take spaces around commas', () => {
    const config = loadConfig({ MODELS_ENTERPRISE: ' openai/* , fake/fake-1 ' });
    expect(allowedModelsOf(config, key('enterprise'))).toEqual(['openai/*', 'fake/fake-1']);
  });
});

let t: TestEnv | undefined;
const others: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of others.splice(0)) await o.close();
  await t?.close();
  t = undefined;
});

/** No call reaches it: a refused request never gets that far, and no worker runs. */
const env = () => createTestEnv({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', RATE_LIMIT_FREE: '10000', RATE_LIMIT_PRO: '10000' });

/** A second API process on the same database and Redis prefix. */
async function secondApp(config: Config): Promise<FastifyInstance> {
  const opened = await openApp(config);
  others.push(opened);
  return opened.app;
}

async function newKey(app: FastifyInstance, body: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: { authorization: `Bearer ${ADMIN_KEY}` }, payload: { name: 'k', ...body } });
  expect(res.statusCode, res.body).toBe(201);
  const { id, key: secret } = res.json();
  return { id: id as string, auth: { authorization: `Bearer ${secret}` } };
}

async function template(t: TestEnv): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: t.admin, payload: { name: 'a', body: 'Say {{x}}', provider: 'fake' } });
  return res.json().id;
}

let n = 0;
const generate = (app: FastifyInstance, auth: Record<string, string>, tpl: string, provider: string, model: string) =>
  app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { x: `v${n++}` }, provider, model } });

describe('on POST /v1/generate', () => {
  it('a free key asking for anthropic/claude-opus-4-1: 403 naming what is allowed, nothing stored', async () => {
    t = await env();
    const tpl = await template(t);
    const free = await newKey(t.app, { tier: 'free' });
    const res = await generate(t.app, free.auth, tpl, 'anthropic', 'claude-opus-4-1');
    expect(res.statusCode).toBe(403);
    const { error } = res.json();
    expect(error.code).toBe('model_not_allowed');
    expect(error.details).toEqual({ provider: 'anthropic', model: 'claude-opus-4-1', allowed: allowedModelsOf(t.config, key('free')) });
    expect(error.message).toContain('anthropic/claude-haiku-4-5*');
    expect((await storedRows(t)).generations).toBe(0);

    expect((await generate(t.app, free.auth, tpl, 'anthropic', 'claude-haiku-4-5')).statusCode).toBe(202);
    expect((await t.app.inject({ method: 'POST', url: '/v1/generate', headers: free.auth, payload: { templateId: tpl, variables: { x: 'default model' } } })).statusCode).toBe(202);
  }, 60_000);

  it('a pro key may use any model', async () => {
    t = await env();
    const tpl = await template(t);
    const pro = await newKey(t.app, { tier: 'pro' });
    expect((await generate(t.app, pro.auth, tpl, 'anthropic', 'claude-opus-4-1')).statusCode).toBe(202);
    expect((await generate(t.app, pro.auth, tpl, 'anthropic', 'claude-sonnet-4-5')).statusCode).toBe(202);
  }, 60_000);

  it('a key\'s own list replaces its tier\'s, narrower or wider', async () => {
    t = await env();
    const tpl = await template(t);
    const narrow = await newKey(t.app, { tier: 'enterprise', allowedModels: ['fake/*'] });
    const res = await generate(t.app, narrow.auth, tpl, 'anthropic', 'claude-haiku-4-5');
    expect([res.statusCode, res.json().error.details.allowed]).toEqual([403, ['fake/*']]);
    expect((await generate(t.app, narrow.auth, tpl, 'fake', 'fake-1')).statusCode).toBe(202);

    const wide = await newKey(t.app, { tier: 'free', allowedModels: ['anthropic/claude-opus-*', 'fake/*'] });
    expect((await generate(t.app, wide.auth, tpl, 'anthropic', 'claude-opus-4-1')).statusCode).toBe(202);
    expect((await generate(t.app, wide.auth, tpl, 'anthropic', 'claude-haiku-4-5')).statusCode).toBe(403);
  }, 60_000);
});

describe('/v1/api-keys', () => {
  it('GET and PATCH show the key without its secret; null goes back to the tier\'s list', async () => {
    t = await env();
    const { id, auth } = await newKey(t.app, { tier: 'free', allowedModels: ['fake/*'] });
    const got = await t.app.inject({ method: 'GET', url: `/v1/api-keys/${id}`, headers: t.admin });
    expect(got.json()).toMatchObject({ id, name: 'k', tier: 'free', allowedModels: ['fake/*'], budgets: [] });
    const patched = await t.app.inject({ method: 'PATCH', url: `/v1/api-keys/${id}`, headers: t.admin, payload: { allowedModels: null } });
    expect([patched.statusCode, patched.json()]).toMatchObject([200, { id, name: 'k', tier: 'free', allowedModels: null, budgets: [] }]);
    // The display prefix (`pl_live_` and 4 characters) only: never the secret or its hash.
    expect(patched.json().prefix).toMatch(/^pl_live_.{4}$/);
    expect(patched.body).not.toContain(auth.authorization.slice('Bearer '.length));
    expect(patched.body).not.toMatch(/hash/i);
  }, 60_000);

  it('an unknown id is a 404; a bad pattern, too many, or an empty patch a 400 that stores nothing; a key may not PATCH', async () => {
    t = await env();
    const missing = await t.app.inject({ method: 'PATCH', url: '/v1/api-keys/key_nope', headers: t.admin, payload: { allowedModels: ['*'] } });
    expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'api_key_not_found']);
    expect((await t.app.inject({ method: 'GET', url: '/v1/api-keys/key_nope', headers: t.admin })).json().error.code).toBe('api_key_not_found');

    const before = await storedRows(t);
    for (const allowedModels of [['openai'], ['openai/gpt(4'], ['openai/*', ''], Array.from({ length: 101 }, (_, i) => `openai/m${i}`), 'openai/*']) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name: 'bad', allowedModels } });
      expect([res.statusCode, res.json().error.code]).toEqual([400, 'bad_request']);
    }
    expect(await storedRows(t)).toEqual(before);

    const { id, auth } = await newKey(t.app, { tier: 'free' });
    expect((await t.app.inject({ method: 'PATCH', url: `/v1/api-keys/${id}`, headers: t.admin, payload: {} })).statusCode).toBe(400);
    expect((await t.app.inject({ method: 'PATCH', url: `/v1/api-keys/${id}`, headers: t.admin, payload: { allowedModels: ['nope'] } })).statusCode).toBe(400);
    const self = await t.app.inject({ method: 'PATCH', url: `/v1/api-keys/${id}`, headers: auth, payload: { allowedModels: ['*'] } });
    expect([self.statusCode, self.json().error.code]).toEqual([403, 'forbidden']);
    expect((await t.app.svc.apiKeys.get(id, EVERY_PROJECT)).allowedModels).toBeNull();
  }, 60_000);

  it('a PATCH in one process applies in another at once (invalidation bus), though callers are cached 60 s', async () => {
    t = await env();
    const other = await secondApp(t.config);
    // Both processes subscribed to the invalidation channel before anything is published.
    for (let i = 0; ; i++) {
      const [, subscribers] = (await t.redis.pubsub('NUMSUB', `${t.config.REDIS_PREFIX}:invalidate`)) as [string, number];
      if (subscribers >= 2) break;
      if (i > 200) throw new Error('the second process never subscribed');
      await new Promise((r) => setTimeout(r, 25));
    }
    const tpl = await template(t);
    const { id, auth } = await newKey(t.app, { tier: 'free' });
    // The other process resolves the key now: its caller is cached there with the tier's list.
    expect((await generate(other, auth, tpl, 'anthropic', 'claude-opus-4-1')).statusCode).toBe(403);

    const firstSeen = async (want: number) => {
      const patchedAt = Date.now();
      for (;;) {
        const startedAt = Date.now();
        const res = await generate(other, auth, tpl, 'anthropic', 'claude-opus-4-1');
        if (res.statusCode === want) return startedAt - patchedAt;
        if (startedAt - patchedAt > 10_000) throw new Error(`still ${res.statusCode} after 10 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    expect((await t.app.inject({ method: 'PATCH', url: `/v1/api-keys/${id}`, headers: t.admin, payload: { allowedModels: ['anthropic/*'] } })).statusCode).toBe(200);
    expect(await firstSeen(202)).toBeLessThan(1000);
    expect((await t.app.inject({ method: 'PATCH', url: `/v1/api-keys/${id}`, headers: t.admin, payload: { allowedModels: null } })).statusCode).toBe(200);
    expect(await firstSeen(403)).toBeLessThan(1000);
  }, 60_000);
});
