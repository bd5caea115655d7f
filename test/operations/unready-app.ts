import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase } from '../../src/db/client.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import { createQueues } from '../../src/queue/queues.js';
import { JobWaiter } from '../../src/queue/waiter.js';
import { createRedis, waitReady } from '../../src/redis/client.js';
import { ADMIN_KEY } from '../support/context.js';

/**
 * The real app on a Postgres URL and a Redis URL of the test's choosing (a
 * relay it can cut, a redis-server it can stop), built but not yet ready, so
 * the test may still add routes. `close()` closes all it opened, in order.
 */
export async function unreadyApp(databaseUrl: string, redisUrl: string, prefix: string): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: prefix, PROMPTLAB_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'silent' });
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: '' });
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', () => {});
  await waitReady(redis);
  const queues = createQueues(config);
  const waiter = new JobWaiter(config);
  await waiter.ready();
  const app = await buildApp({ config, database, redis, queues, waiter, registry: new ProviderRegistry(config), adminKey: ADMIN_KEY });
  return {
    app,
    async close() {
      const steps = [() => app.close(), () => waiter.close(), () => queues.close(), async () => redis.disconnect(), () => database.close()];
      for (const step of steps) await step().catch(() => {});
    },
  };
}
