import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { findFlaw, MAX_INPUT_DEPTH } from '../src/http/input-guard.js';
import { render } from '../src/templates/render.js';
import { ADMIN_KEY, createTestEnv, type TestEnv } from './support/context.js';
import { storedRows } from './support/rows.js';

/** `value` wrapped in `levels` arrays, built without recursion. */
const nested = (levels: number, value: unknown = 1): unknown => {
  let v = value;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
};
const b64 = (s: string) => Buffer.from(s).toString('base64url');

describe('findFlaw', () => {
  it('finds U+0000 and unpaired surrogates in values and keys, with their path', () => {
    expect(findFlaw({ a: ['ok', 'x\u0000'] })).toEqual({ path: ['a', '1'], message: expect.stringMatching(/U\+0000/) });
    expect(findFlaw({ a: { '\ud800': 1 } })?.path).toEqual(['a', '\ud800']);
    expect(findFlaw({ a: { b: 'x\udc00y' } })?.message).toMatch(/unpaired UTF-16 surrogate/);
    expect(findFlaw('\udbff')?.message).toMatch(/surrogate/);
    expect(findFlaw({ emoji: '💩 \udbff\udfff é \u202e', n: 1e308, z: null, t: true })).toBeUndefined();
  });

  it(`accepts ${MAX_INPUT_DEPTH} levels, refuses one more, and walks no deeper than that`, () => {
    expect(findFlaw(nested(MAX_INPUT_DEPTH))).toBeUndefined();
    expect(findFlaw(nested(MAX_INPUT_DEPTH + 1))?.message).toMatch(/nested more than 64 levels/);
    expect(findFlaw(nested(100_000))?.path).toHaveLength(MAX_INPUT_DEPTH);
  });
});

describe('render', () => {
  it('fills placeholders from own properties only', () => {
    expect(render('{{toString}}|{{a}}', { toString: 'own', a: 1 })).toBe('own|1');
    expect(render('{{constructor}}{{hasOwnProperty}}', {})).not.toMatch(/function|native code/);
  });
});

describe('PROMPTLAB_ADMIN_KEY', () => {
  it('needs at least 32 characters', () => {
    expect(() => loadConfig({ PROMPTLAB_ADMIN_KEY: 'Xr4v9QmZ2bK7tLw1Yc8NpD3sHf6Gj0A' })).toThrow(/PROMPTLAB_ADMIN_KEY=.*fewer than 32 characters/);
    expect(loadConfig({ PROMPTLAB_ADMIN_KEY: 'Xr4v9QmZ2bK7tLw1Yc8NpD3sHf6Gj0Ae' }).PROMPTLAB_ADMIN_KEY).toHaveLength(32);
    expect(ADMIN_KEY.length).toBeGreaterThanOrEqual(32);
  });

  it('is refused when it is easy to guess, in one line saying how to make one, the key never shown', () => {
    const hex = 'c4a01d90b0ef3a8fa9de322294ae4833'; // openssl rand -hex 16
    expect(loadConfig({ PROMPTLAB_ADMIN_KEY: hex }).PROMPTLAB_ADMIN_KEY).toBe(hex);
    for (const weak of ['a'.repeat(32), 'password'.repeat(4), 'abcdefghijklmnopqrstuvwxyz012345', 'pl_test_admin_key_0123456789abcdef']) {
      let message = '';
      try {
        loadConfig({ PROMPTLAB_ADMIN_KEY: weak });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, weak).toMatch(/PROMPTLAB_ADMIN_KEY=\(secret, not shown\): too easy to guess \(about \d+ bits; at least 128 needed\): generate one with `openssl rand -base64 32`/);
      expect(message).not.toContain(weak.slice(0, 16));
    }
  });
});

describe('over HTTP', () => {
  let t: TestEnv;
  let auth: Record<string, string>;
  let tplId: string;
  const json = { 'content-type': 'application/json' };

  beforeAll(async () => {
    t = await createTestEnv();
    auth = await t.keyHeader('enterprise');
    const res = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'g', body: 'Say {{a}}' } });
    tplId = res.json().id;
  });
  afterAll(() => t.close());

  /** Sends a raw JSON body (so JSON escapes like \ud800 reach the parser as written); expects 400 at `path`, nothing stored. */
  async function rejects(method: 'POST' | 'PATCH', url: string, raw: string, path: string, headers: Record<string, string> = auth) {
    const before = await storedRows(t);
    const res = await t.app.inject({ method, url, headers: { ...headers, ...json }, payload: raw });
    expect(res.statusCode, raw.slice(0, 80)).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'bad_request', details: { issues: [{ path }] } });
    expect(await storedRows(t)).toEqual(before);
  }

  it.each([
    ['name', '{"name":"a\\u0000b","body":"x"}', 'body/name'],
    ['body', '{"name":"n","body":"x\\u0000"}', 'body/body'],
    ['system', '{"name":"n","body":"x","system":"\\u0000"}', 'body/system'],
    ['model', '{"name":"n","body":"x","model":"m\\u0000"}', 'body/model'],
    ['name (surrogate)', '{"name":"\\ud800","body":"x"}', 'body/name'],
    ['outputSchema value', '{"name":"n","body":"x","outputSchema":{"type":"object","title":"\\udc00"}}', 'body/outputSchema/title'],
    ['outputSchema key', '{"name":"n","body":"x","outputSchema":{"properties":{"a\\ud800":{}}}}', 'body/outputSchema/properties/a\ufffd'],
    ['keyFields', '{"name":"n","body":"x","keyFields":["\\u0000"]}', 'body/keyFields/0'],
  ])('POST /v1/templates refuses %s', (_, raw, path) => rejects('POST', '/v1/templates', raw, path));

  it('PATCH /v1/templates/:id refuses the same', async () => {
    await rejects('PATCH', `/v1/templates/${tplId}`, '{"body":"Say {{a}}\\u0000"}', 'body/body');
    await rejects('PATCH', `/v1/templates/${tplId}`, '{"outputSchema":{"x":"\\ud83d"}}', 'body/outputSchema/x');
  });

  it.each([
    ['input', (id: string) => `{"templateId":"${id}","input":"\\u0000"}`, 'body/input'],
    ['a variable', (id: string) => `{"templateId":"${id}","variables":{"a":"x\\u0000"}}`, 'body/variables/a'],
    ['a nested variable key', (id: string) => `{"templateId":"${id}","variables":{"a":{"\\udfff":1}}}`, 'body/variables/a/\ufffd'],
    ['model', (id: string) => `{"templateId":"${id}","variables":{"a":"x"},"model":"\\ud800"}`, 'body/model'],
  ])('POST /v1/generate refuses %s', (_, raw, path) => rejects('POST', '/v1/generate', raw(tplId), path));

  it('POST /v1/generate refuses variables nested 5,000 deep (before parsing them) or 65 deep, takes 64 levels', async () => {
    const deep = (n: number) => `{"templateId":"${tplId}","variables":{"a":${'['.repeat(n)}1${']'.repeat(n)}}}`;
    await rejects('POST', '/v1/generate', deep(5000), 'body');
    await rejects('POST', '/v1/generate', deep(MAX_INPUT_DEPTH - 1), 'body');
    const ok = await t.app.inject({ method: 'POST', url: '/v1/generate', headers: { ...auth, ...json }, payload: deep(MAX_INPUT_DEPTH - 2) });
    expect(ok.statusCode).toBe(202);
  });

  it('POST /v1/generate refuses an Idempotency-Key with U+0000', async () => {
    await rejects('POST', '/v1/generate', `{"templateId":"${tplId}","variables":{"a":"x"}}`, 'headers/idempotency-key', { ...auth, 'idempotency-key': 'k\u0000' });
  });

  it('POST /v1/api-keys refuses a name with U+0000', () =>
    rejects('POST', '/v1/api-keys', '{"name":"ci\\u0000"}', 'body/name', t.admin));

  it('refuses a body nested five million deep, or an object of a million keys, while reading it: 400 before any parse, in the route\'s format', async () => {
    // POST /v1/batches takes 32 MiB: each of these fits, and each would cost seconds and hundreds of MB to parse.
    const million = `{"templateId":"${tplId}","items":[{"variables":{${Array.from({ length: 1_000_000 }, (_, i) => `"k${i}":1`).join(',')}}}]}`;
    const deep = `{"templateId":"${tplId}","items":${'['.repeat(5_000_000)}${']'.repeat(5_000_000)}}`;
    const wide = `{"templateId":"${tplId}","items":[${'{},'.repeat(200_000)}{}]}`;
    for (const [raw, says] of [[million, 'has an object of more than 10000 members'], [deep, 'is nested more than 64 levels deep'], [wide, 'has an array of more than 100000 elements']] as const) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/batches', headers: { ...auth, ...json }, payload: raw });
      expect(res.statusCode, says).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'bad_request', message: `The body ${says}.` });
    }
    const compat = await t.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { ...auth, ...json }, payload: `{"model":"fake-1","messages":${'['.repeat(100)}${']'.repeat(100)}}` });
    expect(compat.json()).toMatchObject({ error: { type: 'invalid_request_error', message: 'The body is nested more than 64 levels deep.' } });
  });

  it('a template using {{__proto__}}, which no request body can carry, is refused at create', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'p', body: 'Say {{__proto__}}' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'invalid_template', message: expect.stringContaining('__proto__') });
  });

  it('refuses U+0000 in querystrings and params', async () => {
    for (const url of ['/v1/jobs?templateId=tpl_a%00', '/v1/templates/tpl_%00', '/v1/usage?from=2024-01-01%00']) {
      const res = await t.app.inject({ method: 'GET', url, headers: auth });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.code).toBe('bad_request');
    }
  });

  describe('cursors', () => {
    it.each([
      ['not base64 of a cursor', 'zzz'],
      ['a year past 9999', b64('+010000-01-01T00:00:00.000Z|gen_a')],
      ['year 0', b64('0000-01-01T00:00:00.000Z|gen_a')],
      ['before 1970', b64('1969-12-31T23:59:59.999Z|gen_a')],
      ['a day that does not exist', b64('2024-02-30T00:00:00.000Z|gen_a')],
      ['U+0000 in the id', b64('2024-01-01T00:00:00.000Z|gen_\u0000')],
      ['another prefix', b64('2024-01-01T00:00:00.000Z|tpl_a')],
      ['trailing bytes', b64('2024-01-01T00:00:00.000Z|gen_a|x')],
      ['invalid UTF-8', Buffer.from([0xed, 0xa0, 0x80]).toString('base64url')],
    ])('%s → 400 invalid cursor', async (_, cursor) => {
      for (const [url, headers] of [['/v1/jobs', auth], ['/v1/admin/dead-letters', t.admin]] as const) {
        const res = await t.app.inject({ method: 'GET', url: `${url}?cursor=${cursor}`, headers });
        expect(res.statusCode, url).toBe(400);
        expect(res.json().error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/^invalid cursor/) });
      }
    });

    it('a nextCursor the API gave still pages', async () => {
      for (let i = 0; i < 3; i++) {
        await t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tplId, variables: { a: `page ${i}` } } });
      }
      const first = (await t.app.inject({ method: 'GET', url: '/v1/jobs?limit=1', headers: auth })).json();
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await t.app.inject({ method: 'GET', url: `/v1/jobs?limit=1&cursor=${first.nextCursor}`, headers: auth });
      expect(second.statusCode).toBe(200);
      expect(second.json().data[0].id).not.toBe(first.data[0].id);
    });
  });

  describe('/v1/usage dates', () => {
    it.each(['0000-01-01', '1969-12-31', '10000-01-01', '2024-02-30', '2024-13-01', '+02024-01-01', '2024-1-1'])('from=%s → 400', async (day) => {
      const res = await t.app.inject({ method: 'GET', url: `/v1/usage?from=${encodeURIComponent(day)}&to=2024-12-31`, headers: auth });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('bad_request');
    });

    it('takes 1970-01-01 to 9999-12-31, refuses from after to', async () => {
      const all = await t.app.inject({ method: 'GET', url: '/v1/usage?from=1970-01-01&to=9999-12-31', headers: t.admin });
      expect(all.statusCode).toBe(200);
      expect(all.json()).toMatchObject({ from: '1970-01-01', to: '9999-12-31' });
      const reversed = await t.app.inject({ method: 'GET', url: '/v1/usage?from=2024-02-01&to=2024-01-31', headers: auth });
      expect(reversed.statusCode).toBe(400);
      const far = await t.app.inject({ method: 'GET', url: '/v1/usage?to=0000-01-01', headers: auth });
      expect(far.statusCode).toBe(400);
    });
  });

  it('a template using {{constructor}} without that variable is missing_variables', async () => {
    const tpl = (await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'proto', body: 'Hi {{constructor}} {{toString}}' } })).json();
    const before = await storedRows(t);
    const res = await t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl.id, variables: {} } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'missing_variables', details: { missing: ['constructor', 'toString'] } });
    expect(await storedRows(t)).toEqual(before);
  });
});
