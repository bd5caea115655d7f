import closeWithGrace from 'close-with-grace';
import { openRuntime } from '../src/boot.js';
import { requireDatabaseUrl, runEntry } from '../src/entry.js';
import { createLogger } from '../src/logger.js';
import { serveMetrics } from '../src/metrics/server.js';
import { buildServices } from '../src/services/index.js';
import { startWorker } from './worker.js';

/** `npm run worker`: one generation worker process; run as many as the load needs. */
runEntry(async (config) => {
  requireDatabaseUrl(config, 'npm run worker');
  const log = createLogger(config, 'worker');
  const rt = await openRuntime(config, log);
  const services = await buildServices({ ...rt, db: rt.database.db, log, role: 'worker' });
  const running = startWorker({ ...rt, svc: services.svc, log });
  // A worker that cannot serve metrics (port taken by another worker on this host) still runs jobs.
  const metrics = config.WORKER_METRICS_PORT > 0
    ? await serveMetrics(config.WORKER_METRICS_PORT, config.HOST).catch((err: unknown) => {
        log.error({ err: String(err), port: config.WORKER_METRICS_PORT }, 'worker metrics not served: give each worker on a host its own WORKER_METRICS_PORT (0 = off)');
        return undefined;
      })
    : undefined;
  log.info({ concurrency: config.WORKER_CONCURRENCY, metricsPort: metrics?.port }, 'worker started');
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    log.info({ signal }, 'draining in-flight jobs');
    await running.close();
    await services.close();
    await metrics?.close();
    await rt.close();
    log.info('worker stopped');
  });
});
