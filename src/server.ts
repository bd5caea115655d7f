import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { adminKeyFor, openRuntime } from './boot.js';
import { requireDatabaseUrl, runEntry } from './entry.js';
import { createLogger } from './logger.js';
import { JobWaiter } from './queue/waiter.js';

/** `npm run api`: the HTTP API alone; run workers with `npm run worker`. */
runEntry(async (config) => {
  requireDatabaseUrl(config, 'npm run api');
  const log = createLogger(config, 'api');
  const rt = await openRuntime(config, log);
  const waiter = new JobWaiter(config);
  const app = await buildApp({ ...rt, waiter, adminKey: adminKeyFor(config), logger: log });
  await app.listen({ port: config.PORT, host: config.HOST });
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    log.info({ signal }, 'draining');
    await app.close();
    await waiter.close();
    await rt.close();
  });
});
