/**
 * `npm run bench:cache`: (a) a bare Fastify route returning a fixed JSON body
 * of the same size as (b) PromptLab's whole cache-hit path — auth, the
 * sliding-window rate limiter, cache lookup, response — on a warmed key.
 * Both servers run in a child process; autocannon (50 connections, DURATION_S
 * seconds, default 10) runs here, a, b, a, b after a warm-up; medians shown.
 * Redis round trips per cache-hit request come from INFO commandstats deltas,
 * leaving out the commands our Lua scripts run inside their one EVALSHA.
 * Logging is at `warn` on (b) and off on (a): this measures the path, not pino.
 * Last, both at a fixed FIXED_RATE req/s (default 2000), where latency is the
 * path's own rather than queueing behind 50 saturating connections.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { startWorker } from '../workers/worker.js';
import { createRedis, waitReady } from '../src/redis/client.js';
import { LayerProfile } from './layers.js';
import { benchApp, childExecArgv, commandCallsAll, clusterSideBySide, fmt, median, portOf, REDIS_TARGET, SCRIPT_INNER } from './support.js';

interface Result { requests: { average: number; total: number }; latency: { p50: number; p99: number }; non2xx: number }
const autocannon = createRequire(import.meta.url)('autocannon') as (o: object) => Promise<Result>;
const DURATION_S = Number(process.env.DURATION_S ?? 10);
const FIXED_RATE = Number(process.env.FIXED_RATE ?? 2000);

async function serve(): Promise<void> {
  // Every request must pass the limiter (it still runs its script each time).
  const { config, database, redis, queues, registry, app, close } = await benchApp({ FAKE_LATENCY_MS: '0', RATE_LIMIT_ENTERPRISE: '1000000', RATE_LIMIT_WINDOW_MS: '1000' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const worker = startWorker({ config, database, redis, queues, registry, svc: app.svc, log: app.log as never });

  const { key } = await app.svc.apiKeys.create({ name: 'bench', tier: 'enterprise', role: 'admin', projectId: 'default' });
  const tpl = await app.svc.templates.create({ name: 'bench', body: 'Write about {{topic}}', provider: 'fake' }, 'default');
  const payload = JSON.stringify({ templateId: tpl.id, variables: { topic: 'caching' } });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const warm = await app.inject({ method: 'POST', url: '/v1/generate?wait=10', headers, payload });
  if (warm.json().status !== 'completed') throw new Error(`warm-up failed: ${warm.body}`);
  await worker.close();
  const hit = await app.inject({ method: 'POST', url: '/v1/generate', headers, payload });
  if (hit.headers['x-cache'] !== 'HIT') throw new Error('not a cache hit');

  const bare = Fastify({ logger: false });
  const body = hit.json();
  bare.post('/v1/generate', async () => body);
  await bare.listen({ port: 0, host: '127.0.0.1' });
  process.send!({ bare: portOf(bare), app: portOf(app), headers, payload, bytes: hit.body.length });
  // 'profile': profile the next `n` requests' CPU by layer (LayerProfile), answered with the figures.
  let layers: LayerProfile | undefined;
  process.on('message', async (msg: { cmd: string; requests?: number }) => {
    if (msg.cmd === 'profile') {
      layers = new LayerProfile();
      await layers.start();
      process.send!({ profiling: true });
    } else if (msg.cmd === 'profiled') {
      process.send!({ layers: await layers!.stop(msg.requests!) });
    } else {
      await bare.close();
      await close();
      process.exit(0);
    }
  });
}


async function main() {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['serve'], { execArgv: childExecArgv, stdio: 'inherit' });
  const [info] = (await once(child, 'message')) as [{ bare: number; app: number; headers: Record<string, string>; payload: string; bytes: number }];
  const redis = createRedis(REDIS_TARGET);
  await waitReady(redis);
  const load = (port: number, duration: number, overallRate?: number) =>
    autocannon({ url: `http://127.0.0.1:${port}/v1/generate`, method: 'POST', headers: info.headers, body: info.payload, connections: 50, duration, ...(overallRate ? { overallRate } : {}) });
  await load(info.bare, 2);
  await load(info.app, 2);
  const runs: Record<'bare' | 'app', Result[]> = { bare: [], app: [] };
  let trips = 0;
  let requests = 0;
  for (let round = 0; round < 2; round++) {
    runs.bare.push(await load(info.bare, DURATION_S));
    const before = await commandCallsAll(redis);
    const r = await load(info.app, DURATION_S);
    const after = await commandCallsAll(redis);
    for (const [cmd, n] of after) if (!SCRIPT_INNER.has(cmd) && cmd !== 'info') trips += n - (before.get(cmd) ?? 0);
    requests += r.requests.total;
    runs.app.push(r);
  }
  const row = (name: string, rs: Result[]) => {
    const rps = median(rs.map((r) => r.requests.average));
    console.log(`${name.padEnd(40)} ${fmt(rps).padStart(8)} req/s   p50 ${median(rs.map((r) => r.latency.p50))} ms   p99 ${median(rs.map((r) => r.latency.p99))} ms   non-2xx ${rs.reduce((a, r) => a + r.non2xx, 0)}`);
    return rps;
  };
  console.log(`bench:cache  ${DURATION_S} s per run, 2 runs each, 50 connections, ${info.bytes}-byte body  (node ${process.version})`);
  const a = row('(a) bare Fastify route', runs.bare);
  const b = row('(b) PromptLab cache hit (auth+limit+cache)', runs.app);
  const p99 = median(runs.app.map((r) => r.latency.p99));
  console.log(`ratio (b)/(a) ${fmt(b / a, 2)}   target >= 0.7;  p99 ${p99} ms   target <= 5 ms`);
  console.log(`Redis round trips per cache-hit request: ${fmt(trips / requests, 3)}   target <= 2`);
  // At saturation, latency is mostly queueing (Little's law: 50 connections / throughput); at a fixed
  // rate well below both ceilings it is the path itself.
  const [fa, fb] = [await load(info.bare, DURATION_S, FIXED_RATE), await load(info.app, DURATION_S, FIXED_RATE)];
  console.log(`at a fixed ${fmt(FIXED_RATE)} req/s:  (a) p50 ${fa.latency.p50} ms p99 ${fa.latency.p99} ms   (b) p50 ${fb.latency.p50} ms p99 ${fb.latency.p99} ms   target p99 <= 5 ms`);
  // Where the CPU goes: one more run of each, profiled in the server process.
  const profile = async (port: number) => {
    child.send({ cmd: 'profile' });
    await once(child, 'message');
    const profiled = await load(port, Math.min(DURATION_S, 5));
    child.send({ cmd: 'profiled', requests: profiled.requests.total });
    const [{ layers }] = (await once(child, 'message')) as [{ layers: Record<string, number> }];
    return layers;
  };
  const [pa, pb] = [await profile(info.bare), await profile(info.app)];
  const sum = (l: Record<string, number>) => Object.values(l).reduce((x, y) => x + y, 0);
  console.log(`CPU per request by layer, µs (a profiled run of each; idle left out):   (a) total ${fmt(sum(pa), 1)}   (b) total ${fmt(sum(pb), 1)}`);
  for (const [layer, us] of Object.entries(pb).sort((x, y) => y[1] - x[1])) console.log(`    ${layer.padEnd(28)} (a) ${fmt(pa[layer] ?? 0, 1).padStart(6)}   (b) ${fmt(us, 1).padStart(6)}`);
  child.send({ cmd: 'stop' });
  await once(child, 'exit');
  redis.disconnect();
}

if (process.argv[2] === 'serve') await serve();
else if (!(await clusterSideBySide(fileURLToPath(import.meta.url), { label: '(b) cache hits, req/s', re: /^\(b\)[^\n]*?([\d,]+) req\/s/m, higherIsBetter: true }))) await main();
