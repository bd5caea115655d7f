/**
 * `npm run bench:ratelimit`: the same Fastify route behind @fastify/rate-limit
 * with (a) its built-in Redis store (fixed window) and (b) our sliding-window
 * store: same options, same Redis, same autocannon load (50 connections, one
 * API key per connection). The servers run in a child process; Redis is a
 * dedicated redis-server (or REDIS_URL when set). On Linux the API process
 * gets a CPU of its own and Redis shares the load generator's, as if Redis ran
 * on its own host. Runs alternate a, b, a, b, … after a warm-up; the table
 * shows medians. Then Redis memory per limited key when full.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import type { Tier } from '../src/auth/caller.js';
import { loadConfig } from '../src/config/index.js';
import { errorHandler } from '../src/errors/handler.js';
import { createRedis, unlinkMatching, waitReady, type RedisClient } from '../src/redis/client.js';
import { defineScripts } from '../src/redis/scripts.js';
import { rateLimitOptions, rateLimitPlugin } from '../src/ratelimit/plugin.js';
import { startRedisServer, type RedisServer } from '../test/support/redis-server.js';
import { childExecArgv, commandCalls, median, portOf, redisCpuSeconds } from './support.js';

/** The slice of autocannon's API used here (the package ships no types). */
interface Autocannon {
  (opts: { url: string; connections: number; duration: number; setupClient: (client: { setHeaders(h: Record<string, string>): void }) => void }): Promise<{
    requests: { average: number; total: number };
    latency: { p99: number };
    statusCodeStats?: Record<string, { count: number }>;
  }>;
}
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const STORES = {
  builtin: 'built-in fixed window',
  sliding: 'sliding window (ours)',
} as const;
type Store = keyof typeof STORES;
const stores = Object.keys(STORES) as Store[];

/** Every request admitted (1000 per 1 s per key), and keys far over their limit (10 per 60 s). */
const SCENARIOS = {
  admitted: {
    label: 'within limit', tier: 'enterprise',
    env: { RATE_LIMIT_ENTERPRISE: '1000', RATE_LIMIT_WINDOW_MS: '1000' },
  },
  over: {
    label: 'over limit', tier: 'free',
    env: { RATE_LIMIT_FREE: '10', RATE_LIMIT_WINDOW_MS: '60000' },
  },
} as const satisfies Record<string, { label: string; tier: Tier; env: Record<string, string> }>;
type Scenario = keyof typeof SCENARIOS;
type Ports = Record<Scenario, Record<Store, number>>;

/**
 * STALL_EVERY=n: every n-th request blocks the server's event loop for 3 ×
 * RATE_LIMIT_TIMEOUT_MS, as a CPU-heavy request or a long GC pause would, in
 * the poll phase, between other requests' checks being queued and sent. With
 * a healthy Redis no check may then fail: the responses column must show no 503.
 */
const STALL_EVERY = Number(process.env.STALL_EVERY ?? 0);

/** ONLY=admitted or ONLY=over runs one scenario. */
const scenarios = () => (Object.keys(SCENARIOS) as Scenario[]).filter((s) => !process.env.ONLY || s === process.env.ONLY);

const CONNECTIONS = 50;
const RUN_S = 1;
const WARMUP_S = 2;
const ROUNDS = 13;

/** Child process: one app per scenario and store, each with its own Redis connection. */
async function serve(prefix: string, redisUrl: string): Promise<void> {
  const ports = {} as Ports;
  for (const scenario of Object.keys(SCENARIOS) as Scenario[]) {
    const { tier, env } = SCENARIOS[scenario];
    const config = loadConfig({ ...env, REDIS_URL: redisUrl, REDIS_PREFIX: `${prefix}-${scenario}` });
    ports[scenario] = {} as Record<Store, number>;
    for (const store of stores) {
      const redis = createRedis(config.REDIS_URL);
      await waitReady(redis);
      const app = Fastify({ logger: false });
      await app.register(errorHandler);
      app.addHook('onRequest', (request, _reply, done) => {
        request.caller = { keyId: String(request.headers['x-bench-key']), tier, admin: false, role: 'admin', projectId: 'default' };
        done();
      });
      if (STALL_EVERY > 0) app.addHook('onRequest', stallHook(STALL_EVERY, 3 * config.RATE_LIMIT_TIMEOUT_MS));
      if (store === 'sliding') await app.register(rateLimitPlugin, { redis, config });
      if (store === 'builtin') await app.register(fastifyRateLimit, { ...rateLimitOptions(config), redis, nameSpace: `${config.REDIS_PREFIX}:rlfixed:` });
      app.get('/v1/bench', async () => ({ ok: true }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      ports[scenario][store] = portOf(app);
    }
  }
  // The parent asks for this process's CPU time around each run.
  process.on('message', (msg) => {
    if (msg === 'exit') process.exit(0); // lets --cpu-prof write its profile
    const { user, system } = process.cpuUsage();
    process.send!(user + system);
  });
  process.send!(ports);
}

/** An onRequest hook that busy-waits `ms` on every `every`-th request. */
function stallHook(every: number, ms: number) {
  let n = 0;
  return (_request: unknown, _reply: unknown, done: () => void) => {
    if (++n % every === 0) {
      const end = performance.now() + ms;
      while (performance.now() < end);
    }
    done();
  };
}

interface Run { rps: number; p99: number; cpuUs: number; redisUs: number; perRun: number; codes: Record<string, number> }

/** CPU time (µs) the server process has used so far. */
async function serverCpu(server: ChildProcess): Promise<number> {
  const reply = once(server, 'message');
  server.send('cpu');
  return (await reply)[0] as number;
}

/**
 * CPU time (µs) Redis has used so far, and the scripts (EVALSHA, EVAL) it has
 * run; NaN when it is shared with others (REDIS_URL), so not ours to measure.
 */
async function redisStats(redis: RedisClient | undefined): Promise<{ cpuUs: number; scripts: number }> {
  if (!redis) return { cpuUs: NaN, scripts: NaN };
  const info = await redis.info('all');
  const calls = commandCalls(info);
  return { cpuUs: redisCpuSeconds(info) * 1e6, scripts: (calls.get('evalsha') ?? 0) + (calls.get('eval') ?? 0) };
}

let runId = 0;
async function load(server: ChildProcess, redis: RedisClient | undefined, port: number, seconds: number): Promise<Run> {
  const run = ++runId;
  const cpuBefore = await serverCpu(server);
  const redisBefore = await redisStats(redis);
  let conn = 0;
  const res = await autocannon({
    url: `http://127.0.0.1:${port}/v1/bench`,
    connections: CONNECTIONS,
    duration: seconds,
    // One API key per connection, fresh for every run so each starts from an empty window.
    setupClient: (client) => client.setHeaders({ 'x-bench-key': `r${run}-c${conn++}` }),
  });
  const codes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(res.statusCodeStats ?? {})) codes[code] = Number(count);
  const cpuUs = ((await serverCpu(server)) - cpuBefore) / res.requests.total;
  const redisAfter = await redisStats(redis);
  const redisUs = (redisAfter.cpuUs - redisBefore.cpuUs) / res.requests.total;
  const perRun = res.requests.total / (redisAfter.scripts - redisBefore.scripts);
  return { rps: res.requests.average, p99: res.latency.p99, cpuUs, redisUs, perRun, codes };
}


async function compare(server: ChildProcess, redis: RedisClient | undefined, ports: Ports): Promise<string[][]> {
  const table = [['scenario', 'store', 'req/s', 'p99 ms', 'API CPU µs/req', 'Redis CPU µs/req', 'req/script run', 'responses (status: count, all runs)']];
  for (const scenario of scenarios()) {
    const runs: Record<Store, Run[]> = { builtin: [], sliding: [] };
    for (const store of stores) await load(server, redis, ports[scenario][store], WARMUP_S);
    for (let round = 0; round < ROUNDS; round++) {
      for (const store of stores) runs[store].push(await load(server, redis, ports[scenario][store], RUN_S));
    }
    const rps = { builtin: median(runs.builtin.map((r) => r.rps)), sliding: median(runs.sliding.map((r) => r.rps)) };
    for (const store of stores) {
      const codes: Record<string, number> = {};
      for (const r of runs[store]) for (const [c, n] of Object.entries(r.codes)) codes[c] = (codes[c] ?? 0) + n;
      table.push([SCENARIOS[scenario].label, STORES[store], median(runs[store].map((r) => r.rps)).toFixed(0), String(median(runs[store].map((r) => r.p99))),
        median(runs[store].map((r) => r.cpuUs)).toFixed(1), median(runs[store].map((r) => r.redisUs)).toFixed(1).replace('NaN', '-'),
        median(runs[store].map((r) => r.perRun)).toFixed(1).replace('NaN', '-'),
        Object.entries(codes).map(([c, n]) => `${c}: ${n}`).join(', ')]);
    }
    // Each round's pair ran back to back, so its ratio is the least exposed to background load.
    const paired = median(runs.sliding.map((r, i) => r.rps / runs.builtin[i]!.rps));
    table.push(['', 'ratio ours / built-in', `${(rps.sliding / rps.builtin).toFixed(2)}×`, '', '', '', '', `median of per-round ratios ${paired.toFixed(2)}×`]);
  }
  return table;
}

async function memoryPerKey(redis: RedisClient, prefix: string): Promise<string[][]> {
  const rows = [['key', 'entries', 'bytes', 'bytes/entry']];
  const add = async (label: string, key: string) => {
    const [n, bytes] = [await redis.llen(key).catch(() => 1), Number(await redis.memory('USAGE', key, 'SAMPLES', 0))];
    rows.push([label, String(n), String(bytes), (bytes / n).toFixed(0)]);
  };
  for (const [tier, limit] of [['free', 10], ['pro', 100], ['enterprise', 1000]] as const) {
    const key = `${prefix}-mem:rl:k:${tier}`;
    const p = redis.pipeline();
    for (let i = 0; i < limit + 10; i++) p.slidingWindow(1, [key], [60_000, limit, 1]);
    await p.exec();
    await add(`sliding window, ${tier} (${limit} in window)`, key);
  }
  await redis.set(`${prefix}-mem:rlfixed:k`, 1000, 'PX', 60_000);
  await add('built-in fixed window (any limit)', `${prefix}-mem:rlfixed:k`);
  return rows;
}

/** Linux: the API process alone on the last CPU, load generator and Redis on the others. */
function pin(serverPid: number, redisPid: number | undefined): boolean {
  const cpus = availableParallelism();
  if (cpus < 2) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpus - 1), String(serverPid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-a', '-p', '-c', `0-${cpus - 2}`, String(process.pid)], { stdio: 'ignore' });
    if (redisPid) execFileSync('taskset', ['-a', '-p', '-c', `0-${cpus - 2}`, String(redisPid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const external = loadConfig(process.env);
  let dedicated: RedisServer | undefined;
  if (!process.env.REDIS_URL) dedicated = await startRedisServer().catch(() => undefined);
  const url = dedicated?.url ?? external.REDIS_URL;
  const prefix = `${external.REDIS_PREFIX}-bench-${randomBytes(3).toString('hex')}`;
  const redis = defineScripts(createRedis(url));
  const server = fork(fileURLToPath(import.meta.url), ['serve', prefix, url], { execArgv: childExecArgv });
  try {
    await waitReady(redis);
    const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
    const [ports] = (await once(server, 'message')) as [Ports];
    const pinned = pin(server.pid!, dedicated?.pid);
    console.log(`Redis ${version} (${dedicated ? 'dedicated redis-server' : url}); autocannon, ${CONNECTIONS} connections, ` +
      `${ROUNDS} rounds of ${RUN_S} s per store, alternating, after ${WARMUP_S} s warm-up; medians` +
      `${pinned ? '; API process on its own CPU' : ''}` +
      `${STALL_EVERY > 0 ? `; every ${STALL_EVERY}th request blocks the API's event loop for 3 × RATE_LIMIT_TIMEOUT_MS` : ''}\n`);
    printTable(await compare(server, dedicated && redis, ports));
    console.log('\nRedis memory per limited key when full (MEMORY USAGE … SAMPLES 0):\n');
    printTable(await memoryPerKey(redis, prefix));
  } finally {
    server.send('exit');
    await once(server, 'exit');
    await unlinkMatching(redis, `${prefix}*`);
    redis.disconnect();
    await dedicated?.kill();
  }
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (c: string) => /^([\d.]+×?|-)$/.test(c);
  for (const r of rows) console.log(r.map((c, i) => (numeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

if (process.argv[2] === 'serve') await serve(process.argv[3]!, process.argv[4]!);
else await main();
