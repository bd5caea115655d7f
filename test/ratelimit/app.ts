import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import type { Caller, Tier } from '../../src/auth/caller.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { errorHandler } from '../../src/errors/handler.js';
import { createRedis, waitReady, type RedisClient } from '../../src/redis/client.js';
import { defineScripts } from '../../src/redis/scripts.js';
import { rateLimitGroup, rateLimitPlugin, readRateLimit, trustProxyOption } from '../../src/ratelimit/plugin.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { deletePrefix, REDIS_URL } from '../support/context.js';
import type { RedisServer } from '../support/redis-server.js';

/** A unique REDIS_PREFIX per test, so tests sharing one Redis never meet. */
export const uniquePrefix = () => `test-rl-${randomUUID().slice(0, 8)}`;

/** A ready ioredis client (offline queue off, as in the API) with the scripts defined. */
export async function connect(url = REDIS_URL): Promise<RedisClient> {
  const redis = createRedis(url);
  redis.on('error', () => {});
  await waitReady(redis);
  return defineScripts(redis);
}

/**
 * Script runs a Redis has served: EVALSHA, or EVAL the first time a connection
 * sends the script. Meaningful on a test's own redis-server only.
 */
export async function scriptRuns(redis: RedisClient): Promise<number> {
  const stats = await redis.info('commandstats');
  return [...stats.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

/** A test's own redis-server, a client on it and an app: whatever a test set, `afterEach` stops. */
export interface Dedicated { server?: RedisServer; redis?: RedisClient; t?: TestApp }

/** Call at a file's top level; every test fills the holder it returns as it goes. */
export function dedicatedPerTest(): Dedicated {
  const d: Dedicated = {};
  afterEach(async () => {
    await d.t?.app.close();
    d.redis?.disconnect();
    await d.server?.kill();
    d.t = d.redis = d.server = undefined;
  });
  return d;
}

/** Tests sharing the machine's Redis: one client per file, and a fresh prefix and app per test. */
export interface Shared {
  redis: RedisClient;
  /** REDIS_PREFIX of the current test's app. */
  prefix: string;
  /** A new app under a new prefix, with `defaults` then `env`; closed, and its keys deleted, after the test. */
  app(env?: Record<string, string>): Promise<FastifyInstance>;
}

/** Call at a file's top level. */
export function sharedRedisPerTest(defaults: Record<string, string> = {}): Shared {
  let t: TestApp | undefined;
  const s: Shared = {
    redis: undefined as unknown as RedisClient, // set by beforeAll
    prefix: '',
    async app(env = {}) {
      s.prefix = uniquePrefix();
      t = await buildApp(s.redis, { REDIS_PREFIX: s.prefix, ...defaults, ...env });
      return t.app;
    },
  };
  beforeAll(async () => {
    s.redis = await connect();
  });
  afterEach(async () => {
    await t?.app.close();
    t = undefined;
    await deletePrefix(s.prefix);
  });
  afterAll(() => s.redis.disconnect());
  return s;
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  /** Log lines (parsed pino JSON) at info level and above. */
  logs: Array<{ level: number; msg: string }>;
}

/**
 * The API's shape in miniature: error handler, an auth stand-in that sets
 * `request.caller` on /v1 routes from `x-test-caller: <keyId>:<tier>[:admin]`,
 * the rate-limit plugin, then routes like the real ones. A request with
 * `x-test-stall: <ms>` blocks the event loop that long in that hook. Counting tests run
 * on a loaded machine, so a check may wait for Redis up to `timeoutMs`
 * (the outage tests pass the production 50 ms).
 */
export async function buildApp(redis: RedisClient, env: Record<string, string>, timeoutMs = 2000): Promise<TestApp> {
  const config = loadConfig(env);
  const logs: TestApp['logs'] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as TestApp['logs'][number]);
      cb();
    },
  });
  const app = Fastify({ trustProxy: trustProxyOption(config), logger: { level: 'info', stream } });
  await app.register(errorHandler);
  app.addHook('onRequest', async (request) => {
    const stall = Number(request.headers['x-test-stall'] ?? 0);
    if (stall > 0) busyWait(stall);
    const h = request.headers['x-test-caller'];
    if (typeof h !== 'string' || !request.url.startsWith('/v1/')) return;
    const [keyId = '', tier = 'pro', admin] = h.split(':');
    request.caller = { keyId, tier: tier as Tier, admin: admin === 'admin', role: admin === 'admin' ? 'global_admin' : 'member', projectId: admin === 'admin' ? null : 'default' } satisfies Caller;
  });
  await app.register(rateLimitPlugin, { redis, config, timeoutMs });

  const ok = async () => ({ ok: true });
  app.post('/v1/generate', ok);
  app.get('/v1/templates', ok);
  app.get('/v1/jobs', { config: { rateLimit: readRateLimit } }, ok);
  app.get('/v1/jobs/:id', { config: { rateLimit: readRateLimit } }, ok);
  app.get('/v1/exports', { config: { rateLimit: rateLimitGroup('exports', { max: 1 }) } }, ok);
  app.get('/v1/special', { config: { rateLimit: { max: 2 } } }, ok);
  app.get('/health', ok);
  app.get('/ready', ok);
  app.get('/metrics', ok);
  app.get('/docs', ok);
  await app.ready();
  return { app, config, logs };
}

export const caller = (keyId: string, tier: Tier = 'pro') => ({ 'x-test-caller': `${keyId}:${tier}` });

/** Fires `n` requests at once and returns the responses. */
export function burst(app: FastifyInstance, n: number, opts: InjectOptions) {
  return Promise.all(Array.from({ length: n }, () => app.inject(opts)));
}

export const statuses = (rs: Array<{ statusCode: number }>) =>
  rs.reduce<Record<number, number>>((acc, r) => ((acc[r.statusCode] = (acc[r.statusCode] ?? 0) + 1), acc), {});

/** Blocks the event loop for `ms`, as a CPU-heavy request or a long GC pause would. */
export function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
