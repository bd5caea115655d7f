/**
 * `npm run bench:embeddings`: cached embeddings.
 * - (a) a bare Fastify route returning a fixed embeddings body of the same size, and (b)
 *   `POST /v1/embeddings` of one cached text (auth, the rate limiter, the text's cache lookup,
 *   the vector as floats): autocannon, 50 connections, DURATION_S (default 10) seconds, a, b,
 *   a, b after a warm-up, medians.
 * - The per-text cost of an array: the mean time of a cached 100-text array against a cached
 *   1-text one, one request at a time (ROUNDS, default 200, alternating), (t100 - t1) / 99.
 * Both servers run in a child process; `fake-embed-1` at 0 ms fills the cache first.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { startWorker } from '../workers/worker.js';
import { benchApp, childExecArgv, fmt, median, portOf } from './support.js';

interface Result { requests: { average: number; total: number }; latency: { p50: number; p99: number }; non2xx: number }
const autocannon = createRequire(import.meta.url)('autocannon') as (o: object) => Promise<Result>;
const DURATION_S = Number(process.env.DURATION_S ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 200);
const TEXTS = Array.from({ length: 100 }, (_, i) => `a text to embed, number ${i}`);

async function serve(): Promise<void> {
  const { config, database, redis, queues, registry, app, close } = await benchApp({ FAKE_LATENCY_MS: '0', RATE_LIMIT_ENTERPRISE: '1000000', RATE_LIMIT_WINDOW_MS: '1000' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const worker = startWorker({ config, database, redis, queues, registry, svc: app.svc, log: app.log as never });
  const { key } = await app.svc.apiKeys.create({ name: 'bench', tier: 'enterprise', role: 'admin', projectId: 'default' });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const one = JSON.stringify({ model: 'fake-embed-1', input: TEXTS[0] });
  const hundred = JSON.stringify({ model: 'fake-embed-1', input: TEXTS });
  const warm = await app.inject({ method: 'POST', url: '/v1/embeddings', headers, payload: hundred });
  if (warm.statusCode !== 200) throw new Error(`warm-up failed: ${warm.body}`);
  await worker.close();
  const hit = await app.inject({ method: 'POST', url: '/v1/embeddings', headers, payload: one });
  if (hit.headers['x-cache'] !== 'HIT') throw new Error(`not a cache hit: ${hit.headers['x-cache']}`);
  const bare = Fastify({ logger: false });
  const body = hit.json();
  bare.post('/v1/embeddings', async () => body);
  await bare.listen({ port: 0, host: '127.0.0.1' });
  process.send!({ bare: portOf(bare), app: portOf(app), headers, one, hundred, bytes: hit.body.length });
  process.on('message', async () => {
    await bare.close();
    await close();
    process.exit(0);
  });
}

async function main() {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['serve'], { execArgv: childExecArgv, stdio: 'inherit' });
  const [info] = (await once(child, 'message')) as [{ bare: number; app: number; headers: Record<string, string>; one: string; hundred: string; bytes: number }];
  const load = (port: number, duration: number) =>
    autocannon({ url: `http://127.0.0.1:${port}/v1/embeddings`, method: 'POST', headers: info.headers, body: info.one, connections: 50, duration });
  await load(info.bare, 2);
  await load(info.app, 2);
  const runs: Record<'bare' | 'app', Result[]> = { bare: [], app: [] };
  for (let round = 0; round < 2; round++) {
    runs.bare.push(await load(info.bare, DURATION_S));
    runs.app.push(await load(info.app, DURATION_S));
  }
  const row = (name: string, rs: Result[]) => {
    const rps = median(rs.map((r) => r.requests.average));
    console.log(`${name.padEnd(44)} ${fmt(rps).padStart(8)} req/s   p50 ${median(rs.map((r) => r.latency.p50))} ms   p99 ${median(rs.map((r) => r.latency.p99))} ms   non-2xx ${rs.reduce((a, r) => a + r.non2xx, 0)}`);
    return rps;
  };
  console.log(`bench:embeddings  ${DURATION_S} s per run, 2 runs each, 50 connections, ${info.bytes}-byte body (256 dimensions)  (node ${process.version})`);
  const a = row('(a) bare Fastify route', runs.bare);
  const b = row('(b) PromptLab, one cached text', runs.app);
  console.log(`ratio (b)/(a) ${fmt(b / a, 2)}`);

  const time = async (body: string) => {
    const start = performance.now();
    const res = await fetch(`http://127.0.0.1:${info.app}/v1/embeddings`, { method: 'POST', headers: info.headers, body });
    await res.arrayBuffer();
    if (res.headers.get('x-cache') !== 'HIT') throw new Error('not all cached');
    return performance.now() - start;
  };
  for (let i = 0; i < 20; i++) await Promise.all([time(info.one), time(info.hundred)]);
  const t1: number[] = [];
  const t100: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    t1.push(await time(info.one));
    t100.push(await time(info.hundred));
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  console.log(`cached array, one request at a time (${ROUNDS} each): 1 text ${fmt(mean(t1), 2)} ms, 100 texts ${fmt(mean(t100), 2)} ms` +
    ` → ${fmt(((mean(t100) - mean(t1)) / 99) * 1000, 0)} µs per extra text (median ${fmt(median(t1), 2)} / ${fmt(median(t100), 2)} ms)`);
  child.send('stop');
  await once(child, 'exit');
}

if (process.argv[2] === 'serve') await serve();
else await main();
