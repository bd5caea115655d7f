import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import closeWithGrace from 'close-with-grace';
import { buildApp, type AppDeps } from './app.js';
import { resolveAdminKey } from './auth/admin-key.js';
import type { Config } from './config/index.js';
import { openDatabase, type Database } from './db/client.js';
import { createQueues, type Queues } from './queue/queues.js';
import { JobWaiter } from './queue/waiter.js';
import { createRedis, waitReady } from './redis/client.js';
import { defineScripts } from './redis/scripts.js';

export interface Runtime {
  config: Config;
  database: Database;
  redis: Redis;
  queues: Queues;
  close(): Promise<void>;
}

/** Opens Postgres (migrated), Redis (scripts defined) and the queues: what every process needs. */
export async function openRuntime(config: Config, log: Logger): Promise<Runtime> {
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.PROMPTLAB_DATA_DIR });
  await database.migrate();
  log.info({ database: database.kind }, 'database migrated');
  const redis = defineScripts(createRedis(config.REDIS_URL));
  redis.on('error', (err) => log.debug({ err: String(err) }, 'redis connection error'));
  await waitReady(redis, 5000);
  const queues = createQueues(config);
  return {
    config, database, redis, queues,
    async close() {
      await queues.close();
      redis.disconnect();
      await database.close();
    },
  };
}

/** The admin key, printed once (to the terminal, never to the log) when it was just generated. */
export function adminKeyFor(config: Config): AppDeps['adminKey'] {
  const admin = resolveAdminKey(config.PROMPTLAB_ADMIN_KEY, config.PROMPTLAB_DATA_DIR);
  if (admin.created) {
    process.stderr.write(
      `\n  PromptLab admin key (shown once, kept in ${admin.file}):\n\n    ${admin.key}\n\n` +
        '  Use it as "Authorization: Bearer <key>" to create API keys: POST /v1/api-keys\n\n',
    );
  }
  return admin.key;
}

/**
 * Builds the API on an open runtime, listens, and on SIGTERM/SIGINT drains:
 * the API first (stop accepting, finish in-flight), then `drain` (an
 * in-process worker), then the connections, then `after` (a spawned Redis).
 */
export async function serveApi(rt: Runtime, log: Logger, hooks: { drain?: () => Promise<void>; after?: () => Promise<void> } = {}): Promise<void> {
  const { config } = rt;
  const waiter = new JobWaiter(config);
  const app = await buildApp({ ...rt, waiter, adminKey: adminKeyFor(config), logger: log });
  await app.listen({ port: config.PORT, host: config.HOST });
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    log.info({ signal }, 'draining');
    await app.close();
    await hooks.drain?.();
    await waiter.close();
    await rt.close();
    await hooks.after?.();
  });
}
