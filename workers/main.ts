import closeWithGrace from 'close-with-grace';
import { openRuntime } from '../src/boot.js';
import { requireDatabaseUrl, runEntry } from '../src/entry.js';
import { createLogger } from '../src/logger.js';
import { startWorker } from './worker.js';

/** `npm run worker`: one generation worker process; run as many as the load needs. */
runEntry(async (config) => {
  requireDatabaseUrl(config, 'npm run worker');
  const log = createLogger(config, 'worker');
  const rt = await openRuntime(config, log);
  const running = startWorker({ ...rt, log });
  log.info({ concurrency: config.WORKER_CONCURRENCY }, 'worker started');
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    log.info({ signal }, 'draining in-flight jobs');
    await running.close();
    await rt.close();
    log.info('worker stopped');
  });
});
