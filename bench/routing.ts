/**
 * Model groups on the pipeline (the routing part of `npm run bench:pipeline`):
 * (e) JOBS (default 5000) generations at CONCURRENCY (default 50) through a group of one fake
 *     deployment and a group of two, alternating one, two, one, two: jobs/s and the ratio;
 * (f) what choosing a deployment costs per attempt (the chooser's order, in memory), µs;
 * (g) goodput with two HTTP upstreams (fake OpenAI-compatible servers), 2,000 jobs: both healthy,
 *     then one answering 429 to half its calls (cooldown 200 ms), alternating: jobs/s each and the ratio.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GenerationRequest } from '../src/llm/request.js';
import { createRedis } from '../src/redis/client.js';
import { DeploymentChooser } from '../src/routing/router.js';
import { reply, startFakeLlm } from '../test/fakes/llm-server.js';
import { startWorker } from '../workers/worker.js';
import { BENCH_CALLER, benchServices, fmt, median, pool, REDIS_TARGET, silent } from './support.js';

const JOBS = Number(process.env.JOBS ?? 5000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 50);
const dir = mkdtempSync(join(tmpdir(), 'bench-routes-'));

/** n generations of `group` (a routing document of its own) through the API's admission and one worker: jobs/s. */
async function run(doc: object, group: string, n: number): Promise<number> {
  const file = join(dir, `${group}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(doc));
  const b = await benchServices({ ROUTES_FILE: file, PROVIDERS_ALLOW_PRIVATE: 'true', WORKER_CONCURRENCY: String(CONCURRENCY), ROUTE_COOLDOWN_MS: '30000' });
  const { config, database, redis, queues, registry, svc } = b;
  const caller = BENCH_CALLER;
  const request = (i: number): GenerationRequest => ({ provider: 'group', model: group, messages: [{ role: 'user', content: `question ${i}` }], params: { maxTokens: 16 } });
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const running = startWorker({ config, database, redis, queues, registry, svc, log: silent });
  // Counted as settled, not as BullMQ completions: a job started where it was admitted (LOCAL_START) is no BullMQ job.
  svc.afterSettle.on('bench', async (x) => { if (x.status === 'completed' && ++done === n) resolveAll(); });
  await running.worker.waitUntilReady();
  const t0 = performance.now();
  await pool(n, CONCURRENCY, (i) => svc.generation.generateRequest(request(i), { caller, requestId: `r${i}`, bypassCache: false, waitMs: 0 }));
  await all;
  const rate = n / ((performance.now() - t0) / 1000);
  await running.close();
  await b.close();
  return rate;
}

const fake = (name: string) => ({ name, provider: 'fake', model: 'fake-1', latencyMs: 0 });
const one = { deployments: [fake('f1')], groups: [{ name: 'one', deployments: ['f1'] }] };
const two = { deployments: [fake('f1'), fake('f2')], groups: [{ name: 'two', deployments: ['f1', 'f2'] }] };

console.log(`bench:pipeline, routing  jobs=${JOBS} concurrency=${CONCURRENCY}  (node ${process.version})`);
await run(one, 'one', 1000); // warm-up
const rates = { one: [] as number[], two: [] as number[] };
for (let round = 0; round < 2; round++) {
  rates.one.push(await run(one, 'one', JOBS));
  rates.two.push(await run(two, 'two', JOBS));
}
const [r1, r2] = [median(rates.one), median(rates.two)];
console.log(`(e) a group of one fake deployment        ${fmt(r1).padStart(8)} jobs/s  [${rates.one.map((r) => fmt(r)).join(', ')}]`);
console.log(`    a group of two                        ${fmt(r2).padStart(8)} jobs/s  [${rates.two.map((r) => fmt(r)).join(', ')}]`);
console.log(`    two / one ${fmt(r2 / r1, 3)}   target within 5 % (>= 0.95)`);

// (f) The choice itself: a group of two, in memory, as every attempt makes it.
const chooser = new DeploymentChooser(createRedis(REDIS_TARGET), 'bench-choice');
const entry = (name: string, weight: number) => ({ def: { name, provider: 'fake' as const, model: 'm' }, weight, price: undefined, client: () => { throw new Error('unused'); }, unsupported: () => undefined });
const g = { name: 'g', deployments: [entry('a', 3), entry('b', 1)], strategy: 'weighted' as const, fallbacks: [], cooldownMs: 1000 };
for (let i = 0; i < 10_000; i++) chooser.order(g);
const N = 200_000;
let t = performance.now();
for (let i = 0; i < N; i++) chooser.order(g);
const weighted = ((performance.now() - t) * 1000) / N;
t = performance.now();
const busy = { ...g, strategy: 'least-busy' as const };
for (let i = 0; i < N; i++) chooser.order(busy);
const leastBusy = ((performance.now() - t) * 1000) / N;
console.log(`(f) choosing a deployment: ${fmt(weighted, 2)} µs per attempt (weighted), ${fmt(leastBusy, 2)} µs (least-busy)   target < 200 µs`);

// (g) Goodput: two HTTP upstreams, then one of them answering 429 (no Retry-After) to half its calls.
// The group's cooldown is short (200 ms), so the sick one keeps being tried and failed over from.
const [a, b] = await Promise.all([startFakeLlm(), startFakeLlm()]);
const http = {
  deployments: [{ name: 'a', provider: 'openai-compatible', baseUrl: a.openaiBaseUrl, model: 'up' }, { name: 'b', provider: 'openai-compatible', baseUrl: b.openaiBaseUrl, model: 'up' }],
  groups: [{ name: 'pair', deployments: ['a', 'b'], cooldownMs: 200 }],
};
const goodput = { healthy: [] as number[], limited: [] as number[] };
let limitedCalls = 0;
await run(http, 'pair', 1000); // warm-up: connections, JIT
for (let round = 0; round < 2; round++) {
  for (const sick of [false, true]) {
    a.reset();
    b.reset();
    if (sick) a.script(...Array.from({ length: 10_000 }, (_, i) => (i % 2 ? reply.ok() : reply.error(429, 'rate limited'))));
    const rate = await run(http, 'pair', 2000);
    (sick ? goodput.limited : goodput.healthy).push(rate);
    if (sick) limitedCalls = a.calls.length;
  }
}
const [h, l] = [median(goodput.healthy), median(goodput.limited)];
console.log(`(g) two healthy upstreams                 ${fmt(h).padStart(8)} jobs/s  [${goodput.healthy.map((r) => fmt(r)).join(', ')}]`);
console.log(`    one answering 429 to half its calls   ${fmt(l).padStart(8)} jobs/s  [${goodput.limited.map((r) => fmt(r)).join(', ')}]  (last run: it got ${limitedCalls} calls, half of them 429s)`);
console.log(`    goodput ratio ${fmt(l / h, 3)}   target >= 0.90`);
await Promise.all([a.close(), b.close()]);
process.exit(0);
