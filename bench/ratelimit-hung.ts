/**
 * `npx tsx bench/ratelimit-hung.ts`: how long a limited request takes to get
 * its 503 `rate_limiter_unavailable` when Redis hangs (a dedicated
 * redis-server under SIGSTOP: connections open, no answers), with the
 * production RATE_LIMIT_TIMEOUT_MS. Two cases: requests one at a time on an
 * idle server, and autocannon's 50 connections hammering it. The server runs
 * in a child process, as in `npm run bench:ratelimit`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { loadConfig } from '../src/config/index.js';
import { errorHandler } from '../src/errors/handler.js';
import { createRedis, waitReady } from '../src/redis/client.js';
import { rateLimitPlugin } from '../src/ratelimit/plugin.js';
import { startRedisServer } from '../test/support/redis-server.js';
import { childExecArgv, portOf } from './support.js';

interface Autocannon {
  (opts: { url: string; connections: number; duration: number }): Promise<{
    requests: { total: number };
    latency: { p50: number; p99: number; max: number };
    statusCodeStats?: Record<string, { count: number }>;
  }>;
}
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const SEQUENTIAL = 200;

async function serve(redisUrl: string): Promise<void> {
  const config = loadConfig({ REDIS_URL: redisUrl, REDIS_PREFIX: 'bench-hung', RATE_LIMIT_ENTERPRISE: '1000000' });
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', () => {});
  await waitReady(redis);
  const app = Fastify({ logger: false });
  await app.register(errorHandler);
  app.addHook('onRequest', (req, _reply, done) => {
    req.caller = { keyId: 'k', tier: 'enterprise', admin: false, role: 'admin', projectId: 'default' };
    done();
  });
  await app.register(rateLimitPlugin, { redis, config });
  app.get('/v1/bench', async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.on('message', (msg) => msg === 'exit' && process.exit(0));
  process.send!({ port: portOf(app), timeoutMs: config.RATE_LIMIT_TIMEOUT_MS });
}

/** One GET; resolves to its status and ms from the request to the end of the answer. */
function timedGet(port: number): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/v1/bench', agent: false }, (res) => {
      res.resume().on('end', () => resolve({ status: res.statusCode!, ms: performance.now() - started }));
    }).on('error', reject).end();
  });
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function main(): Promise<void> {
  const server = await startRedisServer();
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['serve', server.url], { execArgv: childExecArgv });
  try {
    const [{ port, timeoutMs }] = (await once(child, 'message')) as [{ port: number; timeoutMs: number }];
    if ((await timedGet(port)).status !== 200) throw new Error('no 200 with a healthy Redis');
    server.pause();
    const times: number[] = [];
    const statuses = new Set<number>();
    for (let i = 0; i < SEQUENTIAL; i++) {
      const { status, ms } = await timedGet(port);
      statuses.add(status);
      times.push(ms);
    }
    const loaded = await autocannon({ url: `http://127.0.0.1:${port}/v1/bench`, connections: 50, duration: 5 });
    server.resume();
    const codes = Object.entries(loaded.statusCodeStats ?? {}).map(([c, { count }]) => `${c}: ${count}`).join(', ');
    console.log(`Redis SIGSTOPped; RATE_LIMIT_TIMEOUT_MS=${timeoutMs}; ms from request to 503\n`);
    console.log('case                      requests    p50    p99    max  statuses');
    console.log(`one at a time, idle API   ${String(SEQUENTIAL).padStart(8)}  ${pct(times, 50).toFixed(0).padStart(5)}  ${pct(times, 99).toFixed(0).padStart(5)}  ${Math.max(...times).toFixed(0).padStart(5)}  ${[...statuses].join(', ')}`);
    console.log(`50 connections, 5 s       ${String(loaded.requests.total).padStart(8)}  ${String(loaded.latency.p50).padStart(5)}  ${String(loaded.latency.p99).padStart(5)}  ${String(loaded.latency.max).padStart(5)}  ${codes}`);
  } finally {
    child.send('exit');
    await once(child, 'exit');
    await server.kill();
  }
}

if (process.argv[2] === 'serve') await serve(process.argv[3]!);
else await main();
