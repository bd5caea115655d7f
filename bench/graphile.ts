/**
 * (e) of `npm run bench:pipeline`: graphile-worker (a Postgres-only job queue) on the same box, as
 * the other durable queue PromptLab is compared with: JOBS no-op jobs, CONCURRENCY adds in flight
 * and CONCURRENCY jobs at once, adding and processing overlapped, end to end, on a fresh database.
 */
import { EventEmitter } from 'node:events';
import { Logger, run } from 'graphile-worker';
import { benchWorld, cpuPerJob, cpuSnapshot, pool, type CpuSnapshot } from './support.js';
import type { RedisClient } from '../src/redis/client.js';

export async function graphileWorker(n: number, concurrency: number, redis: RedisClient): Promise<{ rate: number; cpu: CpuSnapshot }> {
  const world = await benchWorld();
  await world.database.close(); // graphile-worker brings its own pool and schema
  const events = new EventEmitter();
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  events.on('job:success', () => { if (++done === n) resolveAll(); });
  const runner = await run({
    connectionString: world.config.DATABASE_URL!, concurrency, noHandleSignals: true, pollInterval: 1000,
    taskList: { noop: async () => {} }, events, logger: new Logger(() => () => {}), // silent, as PromptLab's is
  });
  const cpu0 = await cpuSnapshot(redis);
  const t0 = performance.now();
  await pool(n, concurrency, (i) => runner.addJob('noop', { i }));
  await all;
  const s = (performance.now() - t0) / 1000;
  const cpu = cpuPerJob(cpu0, await cpuSnapshot(redis), n);
  await runner.stop();
  await world.drop().catch(() => {});
  return { rate: n / s, cpu };
}
