/**
 * npm run bench:pipeline — PromptLab's whole generation path against a raw
 * BullMQ queue with a no-op processor, same job count and concurrency, one run.
 *   JOBS (default 10000), CONCURRENCY (default 50)
 * (b) as `npm start` runs it: the worker in the admitting process, which starts most jobs itself
 * (LOCAL_START); (b') with LOCAL_START=false, every job through BullMQ, as separate API and worker
 * processes run them.
 * Then the fake provider at 100 ms: 2,000 jobs at concurrency 100 against the
 * ideal concurrency / latency. CPU per job is counted, over the timed part,
 * for this process, for Redis (INFO cpu) and for the local Postgres cluster
 * (/proc; '-' when it is not on this host). ONLY_A, ONLY_B or ONLY_C runs one case alone;
 * WORKER_PREFETCH overrides the worker default. Then (d), ONLY_D alone: Redis commands and Postgres
 * statements per admission, for a key without and with a budget.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createFakeProvider } from '../src/providers/fake/index.js';
import { bullConnection, createRedis, waitReady } from '../src/redis/client.js';
import { startWorker } from '../workers/worker.js';
import pg from 'pg';
import { graphileWorker } from './graphile.js';
import { BENCH_CALLER, benchServices, bullPrefix, clusterSideBySide, cpuPerJob, cpuSnapshot, fmt, pool, REDIS_TARGET, silent, type CpuSnapshot } from './support.js';

const JOBS = Number(process.env.JOBS ?? 10_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 50);

/** (a) BullMQ alone: add N jobs (CONCURRENCY adds in flight), a worker with a no-op processor. */
interface Result { rate: number; cpu: CpuSnapshot }

async function rawBullmq(n: number, concurrency: number): Promise<Result> {
  const prefix = bullPrefix(`pl_bench_raw_${randomUUID().slice(0, 8)}`);
  const bull = bullConnection(REDIS_TARGET);
  const queue = new Queue('raw', { connection: bull.connection, prefix });
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const worker = new Worker('raw', async () => {}, { connection: bull.connection, prefix, concurrency });
  worker.on('completed', () => { if (++done === n) resolveAll(); });
  await worker.waitUntilReady();
  const probe = createRedis(REDIS_TARGET);
  await waitReady(probe);
  const cpu0 = await cpuSnapshot(probe);
  const t0 = performance.now();
  await pool(n, concurrency, (i) => queue.add('noop', { i }, { removeOnComplete: { count: 1000 } }));
  await all;
  const s = (performance.now() - t0) / 1000;
  const cpu = cpuPerJob(cpu0, await cpuSnapshot(probe), n);
  probe.disconnect();
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await bull.close();
  return { rate: n / s, cpu };
}

/**
 * (b) PromptLab: Generation.generate (render, hash, cache lookup, Postgres row,
 * enqueue, or a start on a free slot of this process's worker: LOCAL_START) → worker → Postgres + cache. With `admitFirst`, every job is admitted
 * before the worker starts and only the worker is timed.
 */
async function promptlab(n: number, concurrency: number, latencyMs: number, admitFirst = false, env: Record<string, string> = {}): Promise<Result> {
  const b = await benchServices({ WORKER_CONCURRENCY: String(concurrency), FAKE_LATENCY_MS: String(latencyMs), ...(process.env.WORKER_PREFETCH ? { WORKER_PREFETCH: process.env.WORKER_PREFETCH } : {}), ...env });
  const { config, database, redis, queues, registry, svc } = b;
  const { generation } = svc;
  const tpl = await svc.templates.create({ name: 'bench', body: 'Write about {{topic}}', provider: 'fake' }, 'default');
  const caller = BENCH_CALLER;
  const admit = () => pool(n, concurrency, (i) =>
    generation.generate({ templateId: tpl.id, variables: { topic: `topic ${i}` } }, { caller, requestId: `r${i}`, bypassCache: false, waitMs: 0 }));
  if (admitFirst) await admit();
  const cpu0 = await cpuSnapshot(redis);
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  let t0 = performance.now();
  const running = startWorker({ config, database, redis, queues, registry, svc, log: silent, providers: { fake: createFakeProvider({ latencyMs }) } });
  // Admitted first: time from the first job the worker starts (connection set-up is not throughput).
  if (admitFirst) running.worker.once('active', () => (t0 = performance.now()));
  // Counted as settled, not as BullMQ completions: a job started where it was admitted (LOCAL_START) is no BullMQ job.
  svc.afterSettle.on('bench', async (x) => { if (x.status === 'completed' && ++done === n) resolveAll(); });
  if (!admitFirst) {
    await running.worker.waitUntilReady();
    await admit();
  }
  await all;
  const s = (performance.now() - t0) / 1000;
  const cpu = cpuPerJob(cpu0, await cpuSnapshot(redis), n);
  await running.close();
  await b.close();
  return { rate: n / s, cpu };
}

/**
 * (d) What one admission costs in round trips: N distinct generate calls with no worker, counting
 * the commands this process sends to Redis and the queries it sends to Postgres (the clients'
 * send methods wrapped with a counter: other processes on the same servers do not count). With a
 * budget on the caller's key (`withBudget`) and without.
 */
async function admissionTrips(n: number, concurrency: number, withBudget: boolean): Promise<{ redis: number; postgres: number }> {
  const b = await benchServices();
  const { svc } = b;
  const tpl = await svc.templates.create({ name: 'bench', body: 'Write about {{topic}}', provider: 'fake' }, 'default');
  const caller = BENCH_CALLER;
  const { budgets } = svc;
  if (withBudget && budgets) await budgets.set('api_key', 'bench', [{ usd: 1e6, period: 'day' }]);
  const admit = (from: number, count: number) => pool(count, concurrency, (i) =>
    svc.generation.generate({ templateId: tpl.id, variables: { topic: `topic ${from + i}` } }, { caller, requestId: `r${i}`, bypassCache: false, waitMs: 0 }));
  await admit(0, 200); // warm-up: connections, script loading
  const counted = { redis: 0, postgres: 0 };
  const wrap = <T extends object>(proto: T, method: string, field: keyof typeof counted) => {
    const orig = (proto as Record<string, (...a: unknown[]) => unknown>)[method]!;
    (proto as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
      counted[field]++;
      return orig.apply(this, args);
    };
    return () => { (proto as Record<string, unknown>)[method] = orig; };
  };
  // Blocking reads of the job-event stream are the waiter's, not an admission's.
  const unwrapRedis = wrap(Redis.prototype, 'sendCommand', 'redis');
  const unwrapPg = wrap(pg.Client.prototype, 'query', 'postgres');
  await admit(200, n);
  unwrapRedis();
  unwrapPg();
  await b.close();
  return { redis: counted.redis / n, postgres: counted.postgres / n };
}

const line = (label: string, { rate, cpu }: Result) =>
  console.log(`${label.padEnd(40)} ${fmt(rate).padStart(8)} jobs/s   CPU µs/job: node ${fmt(cpu.node)}, redis ${fmt(cpu.redis)}, postgres ${Number.isNaN(cpu.postgres) ? '-' : fmt(cpu.postgres)}`);

if (await clusterSideBySide(fileURLToPath(import.meta.url), { label: '(b) PromptLab jobs/s', re: /^\(b\) PromptLab[^\n]*?([\d,]+) jobs\/s/m, higherIsBetter: true })) process.exit(0);
console.log(`bench:pipeline  jobs=${JOBS} concurrency=${CONCURRENCY}  (node ${process.version})`);
if (process.env.ONLY_A) { line('(a) only', await rawBullmq(JOBS, CONCURRENCY)); process.exit(0); }
if (process.env.ONLY_B) { line('(b) only', await promptlab(JOBS, CONCURRENCY, 0, false, process.env.LOCAL_START ? { LOCAL_START: process.env.LOCAL_START } : {})); process.exit(0); }
const tripsLine = async (label: string, withBudget: boolean) => {
  const t = await admissionTrips(2000, CONCURRENCY, withBudget);
  console.log(`${label.padEnd(40)} Redis commands ${fmt(t.redis, 2)}, Postgres queries ${fmt(t.postgres, 2)} per admission`);
};
if (process.env.ONLY_D) {
  await tripsLine('(d) admission, key without budget', false);
  await tripsLine('(d) admission, key with a budget', true);
  process.exit(0);
}
if (process.env.ONLY_E) {
  const probe = createRedis(REDIS_TARGET);
  await waitReady(probe);
  await graphileWorker(1000, CONCURRENCY, probe);
  line('(e) only', await graphileWorker(JOBS, CONCURRENCY, probe));
  process.exit(0);
}
if (process.env.ONLY_C) { console.log('(c) only', fmt((await promptlab(2000, 100, 100, true)).rate / 10, 1), '% of ideal'); process.exit(0); }
await rawBullmq(1000, CONCURRENCY); // warm-up: JIT, connections, script loading
const raw = await rawBullmq(JOBS, CONCURRENCY);
const ours = await promptlab(JOBS, CONCURRENCY, 0);
const queued = await promptlab(JOBS, CONCURRENCY, 0, false, { LOCAL_START: 'false' });
line('(a) raw BullMQ, no-op processor', raw);
line('(b) PromptLab, fake provider at 0 ms', ours);
line("(b') the same, every job through BullMQ", queued);
console.log(`ratio (b)/(a)                            ${fmt(ours.rate / raw.rate, 2).padStart(8)}   target >= 0.30   (b')/(a) ${fmt(queued.rate / raw.rate, 2)}`);
{
  const probe = createRedis(REDIS_TARGET);
  await waitReady(probe);
  await graphileWorker(1000, CONCURRENCY, probe); // warm-up
  const gw = await graphileWorker(JOBS, CONCURRENCY, probe);
  probe.disconnect();
  line('(e) graphile-worker 0.17, no-op task', gw);
  console.log(`ratio (b)/(e)                            ${fmt(ours.rate / gw.rate, 2).padStart(8)}   target >= 3      (b')/(e) ${fmt(queued.rate / gw.rate, 2)}`);
}

const slowJobs = 2000;
const slowConcurrency = 100;
const slow = (await promptlab(slowJobs, slowConcurrency, 100, true)).rate;
const ideal = slowConcurrency / 0.1;
console.log(`(c) PromptLab worker, fake at 100 ms, ${slowJobs} jobs admitted first, concurrency ${slowConcurrency}:`);
console.log(`    ${fmt(slow)} jobs/s = ${fmt((100 * slow) / ideal, 1)}% of the ideal ${fmt(ideal)} jobs/s (concurrency / latency)   target >= 90%`);
await tripsLine('(d) admission, key without budget', false);
await tripsLine('(d) admission, key with a budget', true);
process.exit(0);
