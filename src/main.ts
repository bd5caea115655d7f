import closeWithGrace from 'close-with-grace';
import { startWorker } from '../workers/worker.js';
import { buildApp } from './app.js';
import { adminKeyFor, openRuntime } from './boot.js';
import { runEntry } from './entry.js';
import { createLogger } from './logger.js';
import { JobWaiter } from './queue/waiter.js';
import { ensureRedis } from './redis/embedded.js';

/** `npm start`: API and worker in one process, on embedded defaults (PGlite, a spawned redis-server, the fake provider). */
runEntry(async (config) => {
  const log = createLogger(config, 'promptlab');
  const redisChild = await ensureRedis(config.REDIS_URL, config.PROMPTLAB_DATA_DIR);
  if (redisChild) log.info({ pid: redisChild.pid }, 'started redis-server under the data dir');
  const rt = await openRuntime(config, log);
  const waiter = new JobWaiter(config);
  const running = startWorker({ ...rt, log });
  const app = await buildApp({ ...rt, waiter, adminKey: adminKeyFor(config), logger: log });
  await app.listen({ port: config.PORT, host: config.HOST });
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    log.info({ signal }, 'draining');
    await app.close();
    await running.close();
    await waiter.close();
    await rt.close();
    redisChild?.kill('SIGTERM');
  });
});
