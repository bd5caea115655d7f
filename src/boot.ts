import type { RedisClient } from './redis/client.js';
import type { Logger } from 'pino';
import { resolve } from 'node:path';
import closeWithGrace from 'close-with-grace';
import { buildApp, type AppDeps } from './app.js';
import { resolveAdminKey } from './auth/admin-key.js';
import type { Config } from './config/index.js';
import { identityOf, openDatabase, withoutPassword, type Database } from './db/client.js';
import { ProviderRegistry } from './providers/registry.js';
import type { Services } from './services/index.js';
import { createQueues, type Queues } from './queue/queues.js';
import { JobWaiter } from './queue/waiter.js';
import { createRedis, waitReady } from './redis/client.js';
import { claimPrefix } from './redis/owner.js';
import { defineScripts } from './redis/scripts.js';
import { startTracing } from './telemetry/tracing.js';

export interface Runtime {
  config: Config;
  /** The providers of this deployment: built first, so a configuration the registry refuses stops the boot before anything opens. */
  registry: ProviderRegistry;
  database: Database;
  redis: RedisClient;
  queues: Queues;
  close(): Promise<void>;
}

/** Opens Postgres (migrated), Redis (scripts defined) and the queues: what every process needs. */
export async function openRuntime(config: Config, log: Logger): Promise<Runtime> {
  const registry = new ProviderRegistry(config);
  // OTEL_* variables (docs/operations.md, "Traces"): read by the SDK itself, off unless set.
  const stopTracing = await startTracing(String(log.bindings().name ?? 'promptlab'));
  const database = await openDatabase({ url: config.DATABASE_URL, directUrl: config.DATABASE_DIRECT_URL, dataDir: config.PROMPTLAB_DATA_DIR });
  await database.migrate();
  log.info({ database: database.kind }, 'database migrated');
  const redis = defineScripts(createRedis(config));
  redis.on('error', (err) => log.debug({ err: String(err) }, 'redis connection error'));
  await waitReady(redis, 5000);
  await claimPrefix(redis, config.REDIS_PREFIX, await identityOf(database));
  const queues = createQueues(config);
  return {
    config, registry, database, redis, queues,
    async close() {
      await queues.close();
      redis.disconnect();
      await database.close();
      await stopTracing();
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

export interface ServeHooks {
  /** Starts an in-process worker on the API's own services (`npm start`); it is drained after the API closed. */
  startWorker?: (svc: Services) => { close(): Promise<void> };
  /** Last: stop a spawned Redis, release the data directory. */
  after?: () => Promise<void>;
  /** The Redis in use was spawned by this process (npm start). */
  redisSpawned?: boolean;
  /** Where generations run, for the startup log. @defaultValue 'in `npm run worker` processes' */
  worker?: string;
}

/** What a new user needs to see once the API listens: where things are, and what it runs on. */
function logStartup(log: Logger, config: Config, registry: ProviderRegistry, dbKind: Runtime['database']['kind'], hooks: ServeHooks): void {
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${config.PORT}`;
  const live = registry.names.filter((n) => registry.isEnabled(n)).map((n) => (n === 'fake' ? 'fake (canned answers, no real model)' : n));
  const off = registry.names.filter((n) => !registry.isEnabled(n));
  const postgres = dbKind === 'pglite' ? `embedded PGlite in ${resolve(config.PROMPTLAB_DATA_DIR, 'pglite')}` : withoutPassword(config.DATABASE_URL ?? '');
  const redis = `${withoutPassword(config.REDIS_URL)} (key prefix ${config.REDIS_PREFIX})${hooks.redisSpawned ? ` (redis-server started under ${resolve(config.PROMPTLAB_DATA_DIR, 'redis')})` : ''}`;
  log.info({ url: `${base}/console`, docs: `${base}/docs`, bullBoard: `${base}/admin/queues`, metrics: `${base}/metrics` }, `PromptLab listens on ${base}: console ${base}/console, API docs ${base}/docs, Bull Board ${base}/admin/queues (admin key as password), metrics ${base}/metrics`);
  log.info({ postgres, redis }, `Postgres: ${postgres}; Redis: ${redis}; generations run ${hooks.worker ?? 'in `npm run worker` processes'}`);
  log.info({ live, off }, `providers live: ${live.join(', ') || 'none'}${off.length ? `; not configured: ${off.join(', ')} (set their API keys in .env)` : ''}`);
}

/**
 * Builds the API on an open runtime, listens, and on SIGTERM/SIGINT drains:
 * the API first (stop accepting, finish in-flight), then `drain` (an
 * in-process worker), then the connections, then `after` (a spawned Redis).
 */
export async function serveApi(rt: Runtime, log: Logger, hooks: ServeHooks = {}): Promise<void> {
  const { config } = rt;
  const waiter = new JobWaiter(config);
  const app = await buildApp({ ...rt, waiter, adminKey: adminKeyFor(config), logger: log });
  await app.ready();
  const worker = hooks.startWorker?.(app.svc);
  try {
    await app.listen({ port: config.PORT, host: config.HOST });
  } catch (err) {
    await worker?.close().catch(() => {});
    await app.close().catch(() => {});
    await waiter.close().catch(() => {});
    throw err;
  }
  logStartup(log, config, rt.registry, rt.database.kind, hooks);
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    log.info({ signal }, 'draining');
    await app.close();
    await worker?.close();
    await waiter.close();
    await rt.close();
    await hooks.after?.();
  });
}
