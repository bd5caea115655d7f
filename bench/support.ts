import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';
import pino from 'pino';
import { loadConfig, type Config } from '../src/config/index.js';
import { openDatabase, type Database } from '../src/db/client.js';
import { buildApp } from '../src/app.js';
import { ProviderRegistry } from '../src/providers/registry.js';
import { createQueues } from '../src/queue/queues.js';
import { JobWaiter } from '../src/queue/waiter.js';
import { createRedis, unlinkMatching, waitReady, type RedisClient } from '../src/redis/client.js';
import { defineScripts, SCRIPT_FILES } from '../src/redis/scripts.js';
import { adminQuery, dbUrl, PG_ADMIN_URL } from '../test/support/pg.js';

const PG = process.env.BENCH_PG_URL ?? PG_ADMIN_URL;
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const silent = pino({ level: 'silent' });

/** Node flags for a bench's forked server process: tsx, and a CPU profile in /tmp/prof with PROFILE=1. */
export const childExecArgv = ['--import', 'tsx', ...(process.env.PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [])];

/** A fresh migrated database and a Redis prefix for one benchmark run; `drop()` removes both. */
export async function benchWorld(env: Record<string, string> = {}): Promise<{ config: Config; database: Database; drop(): Promise<void> }> {
  const name = `pl_bench_${randomBytes(4).toString('hex')}`;
  await adminQuery(`create database ${name}`, PG);
  const config = loadConfig({ DATABASE_URL: dbUrl(name, PG), REDIS_URL, REDIS_PREFIX: name, LOG_LEVEL: 'silent', ...env });
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: '', poolSize: 20 });
  await database.migrate();
  return {
    config,
    database,
    async drop() {
      await database.close();
      await adminQuery(`drop database if exists ${name} with (force)`, PG);
      const r = createRedis(REDIS_URL);
      await waitReady(r);
      await unlinkMatching(r, `${name}:*`);
      await unlinkMatching(r, `{${name}:*`); // the hash-tagged keys: events, BullMQ
      r.disconnect();
    },
  };
}

/** The admin key of the benchmarks' apps. */
export const BENCH_ADMIN_KEY = 'pl_bench_Tq8wR2nV5xK9mB4cZ7hL1pY6sJ3gF0dU';

/** A fresh world (benchWorld) and the app on it, as an API process has it; `close()` ends it all and drops the world. */
export async function benchApp(env: Record<string, string> = {}) {
  const world = await benchWorld({ LOG_LEVEL: 'warn', PROMPTLAB_ADMIN_KEY: BENCH_ADMIN_KEY, ...env });
  const { config, database } = world;
  const redis = defineScripts(createRedis(config.REDIS_URL));
  await waitReady(redis);
  const queues = createQueues(config);
  const waiter = new JobWaiter(config);
  const registry = new ProviderRegistry(config);
  const app = await buildApp({ config, database, redis, queues, waiter, registry, adminKey: BENCH_ADMIN_KEY });
  return {
    config, database, redis, queues, registry, app,
    async close() {
      await app.close();
      await Promise.all([waiter.close(), queues.close()]);
      redis.disconnect();
      await world.drop();
    },
  };
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function pool(n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The port a listening Fastify app is bound to. */
export const portOf = (app: { server: { address(): unknown } }) => (app.server.address() as { port: number }).port;

/** CPU seconds Redis has used, from an INFO text holding its `cpu` section. */
export function redisCpuSeconds(info: string): number {
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1]);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** Calls per command so far, from an INFO text holding its `commandstats` section. */
export function commandCalls(info: string): Map<string, number> {
  return new Map([...info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

/** Commands the project's Lua scripts call: counted by commandstats, but inside one EVALSHA round trip. */
export const SCRIPT_INNER = new Set(SCRIPT_FILES.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/redis\.call\('([A-Za-z]+)'/g)].map((m) => m[1]!.toLowerCase())));

export const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** CPU seconds used so far by this process, by Redis (INFO cpu: all its clients) and by the local Postgres cluster. */
export interface CpuSnapshot { node: number; redis: number; postgres: number }

/**
 * Postgres's CPU seconds, from /proc: the postmaster, its reaped backends
 * (cutime, cstime) and its live ones. NaN when the cluster is not on this
 * Linux host or its files are not readable.
 */
async function postgresCpuSeconds(): Promise<number> {
  try {
    const c = new pg.Client({ connectionString: PG });
    await c.connect();
    const dir = (await c.query<{ data_directory: string }>('show data_directory').finally(() => c.end())).rows[0]!.data_directory;
    const postmaster = Number((await readFile(`${dir}/postmaster.pid`, 'utf8')).split('\n')[0]);
    const ticks = (pid: number | string, fields: number[]) =>
      readFile(`/proc/${pid}/stat`, 'utf8').then((s) => {
        const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from #3 on
        return { ppid: Number(f[1]), sum: fields.reduce((a, i) => a + Number(f[i - 3]), 0) };
      }, () => ({ ppid: -1, sum: 0 }));
    let total = (await ticks(postmaster, [14, 15, 16, 17])).sum;
    for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
      const t = await ticks(pid, [14, 15]);
      if (t.ppid === postmaster) total += t.sum;
    }
    return total / 100; // USER_HZ
  } catch {
    return NaN;
  }
}

export async function cpuSnapshot(redis: RedisClient): Promise<CpuSnapshot> {
  const { user, system } = process.cpuUsage();
  return { node: (user + system) / 1e6, redis: redisCpuSeconds(await redis.info('cpu')), postgres: await postgresCpuSeconds() };
}

/** µs of CPU per job, by process, between two snapshots. */
export function cpuPerJob(before: CpuSnapshot, after: CpuSnapshot, jobs: number): CpuSnapshot {
  const per = (k: keyof CpuSnapshot) => ((after[k] - before[k]) * 1e6) / jobs;
  return { node: per('node'), redis: per('redis'), postgres: per('postgres') };
}
