import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Cluster } from 'ioredis';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';
import pino from 'pino';
import { loadConfig, type Config } from '../src/config/index.js';
import { openDatabase, type Database } from '../src/db/client.js';
import { buildApp } from '../src/app.js';
import { buildServices } from '../src/services/index.js';
import { startTracing } from '../src/telemetry/tracing.js';
import { ProviderRegistry } from '../src/providers/registry.js';
import { createQueues } from '../src/queue/queues.js';
import { JobWaiter } from '../src/queue/waiter.js';
import { createRedis, unlinkMatching, waitReady, type RedisClient, type RedisTarget } from '../src/redis/client.js';
import { defineScripts, SCRIPT_FILES } from '../src/redis/scripts.js';
import { adminQuery, dbUrl, PG_ADMIN_URL } from '../test/support/pg.js';

const PG = process.env.BENCH_PG_URL ?? PG_ADMIN_URL;
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The Redis of this run: the machine's, or the local cluster `clusterSideBySide` started (BENCH_REDIS_CLUSTER_NODES). */
export const REDIS_TARGET: RedisTarget = { REDIS_URL, ...(process.env.BENCH_REDIS_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: process.env.BENCH_REDIS_CLUSTER_NODES } : {}) };
/** BullMQ's prefix for a bench's own queue: hash-tagged, so that it lives in one slot on a cluster. */
export const bullPrefix = (name: string) => `{${name}}`;
export const silent = pino({ level: 'silent' });

/** Node flags for a bench's forked server process: tsx, and a CPU profile in /tmp/prof with PROFILE=1. */
export const childExecArgv = ['--import', 'tsx', ...(process.env.PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [])];

/** A fresh migrated database and a Redis prefix for one benchmark run; `drop()` removes both. */
export async function benchWorld(env: Record<string, string> = {}): Promise<{ config: Config; database: Database; drop(): Promise<void> }> {
  const name = `pl_bench_${randomBytes(4).toString('hex')}`;
  await adminQuery(`create database ${name}`, PG);
  const config = loadConfig({ DATABASE_URL: dbUrl(name, PG), REDIS_URL, ...(REDIS_TARGET.REDIS_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: REDIS_TARGET.REDIS_CLUSTER_NODES } : {}), REDIS_PREFIX: name, LOG_LEVEL: 'silent', ...env });
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: '', poolSize: 20 });
  await database.migrate();
  return {
    config,
    database,
    async drop() {
      await database.close();
      await adminQuery(`drop database if exists ${name} with (force)`, PG);
      const r = createRedis(REDIS_TARGET);
      await waitReady(r);
      await unlinkMatching(r, `${name}:*`);
      await unlinkMatching(r, `{${name}:*`); // the hash-tagged keys: events, BullMQ
      r.disconnect();
    },
  };
}

/** The caller the service-level benches admit as. */
export const BENCH_CALLER = { keyId: 'bench', tier: 'enterprise' as const, admin: false, role: 'admin' as const, projectId: 'default' };

/**
 * A fresh world (benchWorld) and the API's services on it, without HTTP, as the service-level
 * benches admit through them; `close()` ends them all and drops the world.
 */
export async function benchServices(env: Record<string, string> = {}) {
  await startTracing('bench');
  const world = await benchWorld(env);
  const { config, database } = world;
  const redis = createRedis(config);
  const queues = createQueues(config);
  const waiter = new JobWaiter(config);
  const registry = new ProviderRegistry(config);
  const services = await buildServices({ config, db: database.db, redis, queues, waiter, registry, adminKey: 'unused-in-this-bench', log: silent, role: 'api' });
  return {
    config, database, redis, queues, registry, svc: services.svc,
    async close() {
      await services.close();
      await waiter.close();
      await queues.close();
      redis.disconnect();
      await world.drop();
    },
  };
}

/** The admin key of the benchmarks' apps. */
export const BENCH_ADMIN_KEY = 'pl_bench_Tq8wR2nV5xK9mB4cZ7hL1pY6sJ3gF0dU';

/** A fresh world (benchWorld) and the app on it, as an API process has it; `close()` ends it all and drops the world. */
export async function benchApp(env: Record<string, string> = {}) {
  await startTracing('bench'); // with OTEL_* set (bench/tracing.ts), as a process's boot does
  const world = await benchWorld({ LOG_LEVEL: 'warn', PROMPTLAB_ADMIN_KEY: BENCH_ADMIN_KEY, ...env });
  const { config, database } = world;
  const redis = defineScripts(createRedis(config));
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
  const redisCpu = (await infoAll(redis, 'cpu')).reduce((sum, info) => sum + redisCpuSeconds(info), 0);
  return { node: (user + system) / 1e6, redis: redisCpu, postgres: await postgresCpuSeconds() };
}

/** INFO `section` of the Redis, or of every master of a cluster. */
export async function infoAll(redis: RedisClient, section: string): Promise<string[]> {
  return Promise.all((redis instanceof Cluster ? redis.nodes('master') : [redis]).map((n) => n.info(section)));
}

/** Calls per command so far over every master (`commandCalls` summed). */
export async function commandCallsAll(redis: RedisClient): Promise<Map<string, number>> {
  const sum = new Map<string, number>();
  for (const info of await infoAll(redis, 'commandstats')) for (const [cmd, n] of commandCalls(info)) sum.set(cmd, (sum.get(cmd) ?? 0) + n);
  return sum;
}

/**
 * `REDIS_CLUSTER=1`: runs this bench twice as child processes, on the machine's Redis and on a
 * local 3-master cluster it starts (and stops), prints both, then `headline`'s figure side by
 * side with their ratio. Resolves true when it did (the caller then exits), false otherwise.
 */
export async function clusterSideBySide(script: string, headline: { label: string; re: RegExp; higherIsBetter: boolean }): Promise<boolean> {
  if (process.env.REDIS_CLUSTER !== '1') return false;
  const { startRedisCluster } = await import('../test/support/redis-cluster.js');
  const cluster = await startRedisCluster(3, 0);
  const runs: { name: string; out: string }[] = [];
  try {
    for (const [name, extra] of [['single Redis', {}], [`Redis Cluster, 3 masters (${cluster.spec})`, { BENCH_REDIS_CLUSTER_NODES: cluster.spec }]] as const) {
      console.log(`\n=== ${name} ===`);
      const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, REDIS_CLUSTER: '', ...extra }, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => { out += b.toString(); process.stdout.write(b); });
      await once(child, 'exit');
      runs.push({ name, out });
    }
  } finally {
    await cluster.stop();
  }
  const [single, clustered] = runs.map((r) => Number(headline.re.exec(r.out)?.[1]?.replaceAll(',', '')));
  const ratio = headline.higherIsBetter ? clustered! / single! : single! / clustered!;
  console.log(`\n${headline.label}: single Redis ${fmt(single!, 2)}, cluster ${fmt(clustered!, 2)}  -> cluster at ${fmt(ratio, 2)}x of single Redis   target >= 0.8`);
  return true;
}

/** µs of CPU per job, by process, between two snapshots. */
export function cpuPerJob(before: CpuSnapshot, after: CpuSnapshot, jobs: number): CpuSnapshot {
  const per = (k: keyof CpuSnapshot) => ((after[k] - before[k]) * 1e6) / jobs;
  return { node: per('node'), redis: per('redis'), postgres: per('postgres') };
}
