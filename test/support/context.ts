import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import { createQueues, type Queues } from '../../src/queue/queues.js';
import { JobWaiter } from '../../src/queue/waiter.js';
import { createRedis, unlinkMatching, waitReady, type RedisClient, type RedisTarget } from '../../src/redis/client.js';
import { defineScripts } from '../../src/redis/scripts.js';
import { startWorker, type RunningWorker, type WorkerDeps } from '../../workers/worker.js';
import { adminQuery, dbUrl } from './pg.js';

export const ADMIN_KEY = 'pl_test_Xr4v9QmZ2bK7tLw1Yc8NpD3sHf6Gj0Ae';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A database cloned from the migrated template, dropped by `drop()`. */
export async function cloneDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `pl_t_${randomBytes(6).toString('hex')}`;
  const template = inject('templateDb');
  for (let i = 0; ; i++) {
    try {
      await adminQuery(`create database ${name} template ${template}`);
      break;
    } catch (err) {
      // Two clones started at the same instant can see each other on the template: retry.
      if (i > 20 || !/being accessed by other users/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
  return { name, url: dbUrl(name), drop: () => adminQuery(`drop database if exists ${name} with (force)`) };
}

/** Deletes every Redis key under a test's prefix. */
export async function deletePrefix(prefix: string, target: string | RedisTarget = REDIS_URL): Promise<void> {
  const r = createRedis(target, { retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: true });
  r.on('error', () => {});
  try {
    await waitReady(r).catch(() => {});
    await unlinkMatching(r, `${prefix}:*`);
    await unlinkMatching(r, `{${prefix}:*`); // the hash-tagged keys: events, BullMQ
  } finally {
    r.disconnect();
  }
}

/** An app on its own connections, as a separate API process would have them, for `config`. */
export interface OpenApp {
  app: FastifyInstance;
  database: Database;
  redis: RedisClient;
  queues: Queues;
  waiter: JobWaiter;
  registry: ProviderRegistry;
  close(): Promise<void>;
}

/** Opens Postgres, Redis and the queues of `config` and builds the app on them (ready; Redis may be down). */
export async function openApp(config: Config): Promise<OpenApp> {
  const database = await openDatabase({ url: config.DATABASE_URL!, dataDir: '' });
  const redis = defineScripts(createRedis(config));
  redis.on('error', () => {});
  await waitReady(redis).catch(() => {}); // a test may start with its Redis down
  const queues = createQueues(config);
  const waiter = new JobWaiter(config);
  const registry = new ProviderRegistry(config);
  const app = await buildApp({ config, database, redis, queues, waiter, registry, adminKey: ADMIN_KEY });
  await app.ready();
  return {
    app, database, redis, queues, waiter, registry,
    async close() {
      await app.close();
      await waiter.close();
      await queues.close();
      redis.disconnect();
      await database.close();
    },
  };
}

export interface TestEnv {
  config: Config;
  env: Record<string, string>;
  database: Database;
  redis: RedisClient;
  queues: Queues;
  app: FastifyInstance;
  /** Starts an in-process worker (closed with the env). */
  worker(overrides?: Partial<WorkerDeps>): RunningWorker;
  /** A bearer header for a new key of `tier` in the project `default`; its role `admin` unless said. */
  keyHeader(tier?: 'free' | 'pro' | 'enterprise', role?: 'admin' | 'member'): Promise<Record<string, string>>;
  admin: Record<string, string>;
  close(): Promise<void>;
}

/**
 * A whole PromptLab against real Postgres and Redis, isolated: its own
 * database and its own Redis key prefix (so its own queues). `env` is the
 * environment to give child processes so they join the same world.
 */
export async function createTestEnv(overrides: Record<string, string> = {}): Promise<TestEnv> {
  const clone = await cloneDatabase();
  const prefix = `plt_${randomBytes(5).toString('hex')}`;
  const env: Record<string, string> = {
    DATABASE_URL: clone.url,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    PROMPTLAB_ADMIN_KEY: ADMIN_KEY,
    LOG_LEVEL: 'silent',
    FAKE_LATENCY_MS: '0',
    JOB_BACKOFF_MS: '50',
    // Tests run many processes on two cores: a limiter check may wait longer than production's 50 ms.
    RATE_LIMIT_TIMEOUT_MS: '1000',
    ...overrides,
  };
  const config = loadConfig(env);
  const opened = await openApp(config);
  const { app, database, redis, queues, registry } = opened;
  const workers: RunningWorker[] = [];
  const admin = { authorization: `Bearer ${ADMIN_KEY}` };
  return {
    config, env, database, redis, queues, app, admin,
    worker(o = {}) {
      const w = startWorker({ config, database, redis, queues, registry, svc: app.svc, log: app.log as never, ...o });
      workers.push(w);
      return w;
    },
    async keyHeader(tier = 'pro', role = 'admin') {
      const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { name: `test-${tier}`, tier, role } });
      return { authorization: `Bearer ${res.json().key}` };
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await opened.close();
      await clone.drop();
      await deletePrefix(prefix, config).catch(() => {});
    },
  };
}
