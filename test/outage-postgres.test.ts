import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKey } from '../src/auth/secret.js';
import { loadConfig } from '../src/config/index.js';
import { rowsOf, type Database } from '../src/db/client.js';
import { IdempotencyStore } from '../src/idempotency/store.js';
import { createRedis, waitReady } from '../src/redis/client.js';
import { ADMIN_KEY, cloneDatabase, deletePrefix, openApp, REDIS_URL } from './support/context.js';
import { dbUrl, PG_ADMIN_URL } from './support/pg.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

/** One API process whose Postgres goes through `proxy`; several may share a database and a Redis prefix. */
interface Api {
  app: FastifyInstance;
  database: Database;
  close(): Promise<void>;
}

interface World {
  proxy: TcpProxy;
  prefix: string;
  /** Opens one more API process on the shared database (through the proxy) and prefix. */
  api(overrides?: Record<string, string>): Promise<Api>;
  close(): Promise<void>;
}

async function world(): Promise<World> {
  const clone = await cloneDatabase();
  const proxy = await startTcpProxy(Number(new URL(PG_ADMIN_URL).port || 5432), new URL(PG_ADMIN_URL).hostname);
  const url = new URL(dbUrl(clone.name));
  url.host = `127.0.0.1:${proxy.port}`;
  const prefix = `plt_${randomBytes(5).toString('hex')}`;
  const apis: Api[] = [];
  return {
    proxy,
    prefix,
    async api(overrides = {}) {
      const config = loadConfig({
        DATABASE_URL: url.toString(), REDIS_URL, REDIS_PREFIX: prefix, PROMPTLAB_ADMIN_KEY: ADMIN_KEY,
        LOG_LEVEL: 'silent', FAKE_LATENCY_MS: '0', RATE_LIMIT_TIMEOUT_MS: '1000', CACHE_LOCAL_TTL_MS: '0', ...overrides,
      });
      const api = await openApp(config);
      apis.push(api);
      return api;
    },
    async close() {
      for (const a of apis) await a.close();
      await proxy.close();
      await clone.drop();
      await deletePrefix(prefix);
    },
  };
}

const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

let w: World;
let api: Api;
const call = (opts: InjectOptions) => api.app.inject(opts);

async function newKey(): Promise<string> {
  const res = await call({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { name: 'outage', tier: 'enterprise' } });
  expect(res.statusCode).toBe(201);
  return res.json().key;
}

async function newTemplate(key: string): Promise<string> {
  const res = await call({ method: 'POST', url: '/v1/templates', headers: bearer(key), payload: { name: 't', body: 'About {{topic}}' } });
  expect(res.statusCode).toBe(201);
  return res.json().id;
}

const expectUnavailable = (res: Awaited<ReturnType<typeof call>>, what: string) => {
  expect(res.statusCode, what).toBe(503);
  expect(res.json().error.code, what).toBe('service_unavailable');
  expect(Number(res.headers['retry-after']), what).toBeGreaterThan(0);
  expect(res.body, what).not.toMatch(/at .*\.ts|Failed query/);
};

beforeEach(async () => {
  w = await world();
});
afterEach(() => w.close());

describe('Postgres unreachable', () => {
  it('answers 503 with Retry-After on every route, 401 for keys known to be wrong, and recovers', async () => {
    api = await w.api();
    const key = await newKey();
    const tpl = await newTemplate(key);
    expect((await call({ method: 'GET', url: '/v1/jobs', headers: bearer(key) })).statusCode).toBe(200);
    const wrong = generateKey();
    expect((await call({ method: 'GET', url: '/v1/jobs', headers: bearer(wrong) })).statusCode).toBe(401);

    w.proxy.setDown(true);
    expectUnavailable(await call({ method: 'GET', url: '/v1/jobs', headers: bearer(key) }), 'GET /v1/jobs');
    expectUnavailable(await call({ method: 'POST', url: '/v1/generate', headers: bearer(key), payload: { templateId: tpl, variables: { topic: 'x' } } }), 'POST /v1/generate');
    expectUnavailable(await call({ method: 'POST', url: '/v1/templates', headers: bearer(key), payload: { name: 'u', body: 'Hi' } }), 'POST /v1/templates');
    expectUnavailable(await call({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { name: 'x' } }), 'POST /v1/api-keys');
    // Known without Postgres: not the shape of an issued key, or rejected moments ago.
    for (const k of ['pl_nope', 'sk-something-else', `${generateKey()}x`, wrong]) {
      const res = await call({ method: 'GET', url: '/v1/jobs', headers: bearer(k) });
      expect(res.statusCode, k).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    }
    // Well-formed, never seen: only Postgres could tell.
    expectUnavailable(await call({ method: 'GET', url: '/v1/jobs', headers: bearer(generateKey()) }), 'unknown well-formed key');

    w.proxy.setDown(false);
    expect((await call({ method: 'GET', url: '/v1/jobs', headers: bearer(key) })).statusCode).toBe(200);
    expect((await call({ method: 'POST', url: '/v1/templates', headers: bearer(key), payload: { name: 'u', body: 'Hi' } })).statusCode).toBe(201);
    expect((await call({ method: 'POST', url: '/v1/generate', headers: bearer(key), payload: { templateId: tpl, variables: { topic: 'x' } } })).statusCode).toBe(202);
    expect((await call({ method: 'GET', url: '/v1/jobs', headers: bearer(await newKey()) })).statusCode).toBe(200);
  });

  it('a key read before Postgres went away keeps working past its one-second recheck, and a revocation is seen once Postgres is back', async () => {
    api = await w.api();
    const key = await newKey();
    expect((await call({ method: 'GET', url: '/v1/models', headers: bearer(key) })).statusCode).toBe(200);
    w.proxy.setDown(true);
    await new Promise((r) => setTimeout(r, 1200)); // past the key's freshness: the next request asks Postgres, which is gone
    for (let i = 0; i < 3; i++) expect((await call({ method: 'GET', url: '/v1/models', headers: bearer(key) })).statusCode).toBe(200);
    w.proxy.setDown(false);
    // Revoked in SQL (no bus message): refused once its copy is a second old and Postgres answers again.
    await api.database.db.execute(sql`update api_keys set revoked_at = now() where name = 'outage'`);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await call({ method: 'GET', url: '/v1/models', headers: bearer(key) })).statusCode).toBe(401);
  });

  it('still answers 500 for a query Postgres refuses', async () => {
    api = await w.api();
    const key = await newKey();
    await api.database.db.execute(sql`alter table templates add constraint no_templates check (false) not valid`);
    const res = await call({ method: 'POST', url: '/v1/templates', headers: bearer(key), payload: { name: 'u', body: 'Hi' } });
    expect(res.statusCode).toBe(500);
    expect(res.json().error.code).toBe('internal_error');
  });
});

describe('wrong keys per client IP', () => {
  const from = (ip: string, key: string): InjectOptions => ({ method: 'GET', url: '/v1/jobs', headers: bearer(key), remoteAddress: ip });

  it('answers 429 once an IP failed RATE_LIMIT_AUTH_FAILURES lookups, without asking Postgres', async () => {
    api = await w.api({ RATE_LIMIT_AUTH_FAILURES: '3' });
    const good = await newKey();
    const fresh = await newKey(); // valid, but never presented from the blocked IP: not known valid there
    expect((await call(from('10.0.0.1', good))).statusCode).toBe(200);

    for (let i = 0; i < 3; i++) expect((await call(from('10.0.0.1', generateKey()))).statusCode).toBe(401);
    const over = await call(from('10.0.0.1', generateKey()));
    expect(over.statusCode).toBe(429);
    expect(over.json().error).toMatchObject({ code: 'rate_limited', details: { limit: 3 } });
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(Date.parse(over.json().error.details.resetAt)).toBeGreaterThan(Date.now());
    const redis = createRedis(REDIS_URL);
    await waitReady(redis);
    expect(await redis.llen(`${w.prefix}:rl:authfail:10.0.0.1`)).toBe(3);
    redis.disconnect();

    expect((await call(from('10.0.0.1', fresh))).statusCode).toBe(429);
    expect((await call(from('10.0.0.1', 'pl_nope'))).statusCode).toBe(429);
    expect((await call(from('10.0.0.1', good))).statusCode).toBe(200); // known valid: never refused
    expect((await call(from('10.0.0.2', generateKey()))).statusCode).toBe(401); // another client
    expect((await call(from('10.0.0.1', ADMIN_KEY))).statusCode).toBe(200);

    // With Postgres gone, a query attempted would be a 503: a 429 proves none was.
    w.proxy.setDown(true);
    expect((await call(from('10.0.0.1', generateKey()))).statusCode).toBe(429);
    // So does another API process, which learns the IP is over its limit from Redis.
    const other = await w.api({ RATE_LIMIT_AUTH_FAILURES: '3' });
    const res = await other.app.inject(from('10.0.0.1', generateKey()));
    expect(res.statusCode).toBe(429);
    expect(res.json().error.code).toBe('rate_limited');
    expectUnavailable(await other.app.inject(from('10.0.0.3', generateKey())), 'unblocked IP, unknown key');
  });
});

describe('Idempotency-Key', () => {
  const generate = (key: string, tpl: string, idem: string, topic = 'x') =>
    call({ method: 'POST', url: '/v1/generate', headers: { ...bearer(key), 'idempotency-key': idem }, payload: { templateId: tpl, variables: { topic } } });
  const stateOf = async (idem: string) =>
    rowsOf<{ state: string }>(await api.database.db.execute(sql`select state from idempotency_keys where key = ${idem}`))[0]?.state;

  it('is released when its response cannot be stored', async () => {
    api = await w.api();
    const key = await newKey();
    const tpl = await newTemplate(key);
    // Postgres refuses to store any response, as it refused the one holding a lone surrogate.
    await api.database.db.execute(sql.raw(`
      create function refuse_done() returns trigger language plpgsql as $$
      begin if new.state = 'done' then raise exception 'cannot store this response'; end if; return new; end $$;
      create trigger refuse_done before update on idempotency_keys for each row execute function refuse_done();`));
    const first = await generate(key, tpl, 'order-1');
    expect(first.statusCode).toBe(500);
    expect(await stateOf('order-1')).toBeUndefined();

    await api.database.db.execute(sql`drop trigger refuse_done on idempotency_keys`);
    const retry = await generate(key, tpl, 'order-1');
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect((await generate(key, tpl, 'order-1')).headers['idempotent-replayed']).toBe('true');
  });

  it('stores and replays a response holding text Postgres cannot store (a lone surrogate, a NUL), exactly', async () => {
    api = await w.api();
    const store = new IdempotencyStore(api.database.db);
    const text = 'half \ud800 pair and a \u0000 byte';
    const respond = async () => ({ status: 200, body: { result: { text } }, headers: {} });
    expect(await store.run('key_x', 'k', 'h', respond)).toMatchObject({ replayed: false });
    expect(await stateOf('k')).toBe('done');
    const again = await store.run('key_x', 'k', 'h', () => Promise.reject(new Error('must not run')));
    expect(again).toMatchObject({ replayed: true, body: { result: { text } } });
  });

  it('a first attempt that fails because Postgres went away frees its key once Postgres is back, not 90 s later', async () => {
    api = await w.api();
    const key = await newKey();
    const tpl = await newTemplate(key);
    const held = call({ method: 'POST', url: '/v1/generate?wait=2', headers: { ...bearer(key), 'idempotency-key': 'order-3' }, payload: { templateId: tpl, variables: { topic: 'x' } } });
    await new Promise((r) => setTimeout(r, 500));
    w.proxy.setDown(true); // the wait ends reading the row: Postgres is gone
    const first = await held;
    expect(first.statusCode).toBe(503);
    expect(first.headers['retry-after']).toBe('5');
    w.proxy.setDown(false);
    await expect.poll(() => stateOf('order-3'), { timeout: 5000 }).toBeUndefined();
    const retry = await generate(key, tpl, 'order-3');
    expect(retry.statusCode).toBe(202);
  });

  it('answers 409 while pending within the lease, with the true wait in Retry-After, and is taken over after it', async () => {
    api = await w.api();
    const key = await newKey();
    const tpl = await newTemplate(key);
    expect((await generate(key, tpl, 'order-2')).statusCode).toBe(202);
    // As if its request had died between claiming the key and storing the response.
    await api.database.db.execute(sql`update idempotency_keys set state = 'pending', response_status = null, response_body = null, response_headers = null where key = 'order-2'`);
    const busy = await generate(key, tpl, 'order-2');
    expect(busy.statusCode).toBe(409);
    expect(busy.json().error.code).toBe('idempotency_key_in_progress');
    expect(Number(busy.headers['retry-after'])).toBeGreaterThan(85);

    await api.database.db.execute(sql`update idempotency_keys set created_at = now() - interval '60 seconds' where key = 'order-2'`);
    expect((await generate(key, tpl, 'order-2')).statusCode).toBe(409);

    await api.database.db.execute(sql`update idempotency_keys set created_at = now() - interval '91 seconds' where key = 'order-2'`);
    const taken = await generate(key, tpl, 'order-2');
    expect(taken.statusCode).toBe(202);
    expect(taken.headers['idempotent-replayed']).toBeUndefined();
    expect(await stateOf('order-2')).toBe('done');
    expect((await generate(key, tpl, 'order-2')).headers['idempotent-replayed']).toBe('true');
  });
});
