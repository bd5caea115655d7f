import { Worker } from 'bullmq';
import type { RedisClient } from '../src/redis/client.js';
import type { Logger } from 'pino';
import type { Config } from '../src/config/index.js';
import type { Database } from '../src/db/client.js';
import type { ProviderRegistry } from '../src/providers/registry.js';
import type { CoreServices, Services } from '../src/services/index.js';
import type { Provider } from '../src/providers/types.js';
import { BACKOFF_TYPE, GENERATION_QUEUE, type GenerationJobData, type Queues } from '../src/queue/queues.js';
import { CancelSignals } from '../src/queue/cancels.js';
import { bullConnection } from '../src/redis/client.js';
import { closeWorker, Running } from '../src/queue/close.js';
import { backoffDelay } from './failures.js';
import { OutcomeStash } from './outcome-stash.js';
import { OutputValidator } from './output-validator.js';
import { createProcessor } from './processor.js';
import { reconcile } from './reconciler.js';
import { startLocal } from './local-start.js';
import { Slots } from './slots.js';
import { startWebhookWorker } from './webhooks.js';
import { redisKeys } from '../src/redis/keys.js';

export interface WorkerDeps {
  config: Config;
  /** The providers of this deployment (the SDK clients come from it, and each attempt's price). */
  registry: ProviderRegistry;
  /** Postgres, for the webhook deliveries' records. */
  database: Database;
  /** Command connection (cancel signals, the answer stash). */
  redis: RedisClient;
  queues: Queues;
  /**
   * The process's services (src/services/): the API app's under `npm start` (whose admissions then
   * start generations on this worker's free slots, LOCAL_START), `buildServices`' in a worker process.
   */
  svc: CoreServices & Partial<Pick<Services, 'generation'>>;
  log: Logger;
  /** Providers to use instead of those the registry makes (benchmarks). */
  providers?: Partial<Record<string, Provider>>;
}

export interface RunningWorker {
  worker: Worker<GenerationJobData>;
  /** Stops taking jobs and waits for the in-flight ones (SIGTERM drain). */
  close(): Promise<void>;
}

/** WORKER_PREFETCH, by default a fifth of WORKER_CONCURRENCY (at least 1). */
export const prefetchOf = (config: Config) => config.WORKER_PREFETCH ?? Math.ceil(config.WORKER_CONCURRENCY / 5);

/** Starts a generation worker: WORKER_CONCURRENCY jobs at once, stalled-job recovery, retries with backoff. */
export function startWorker(deps: WorkerDeps): RunningWorker {
  const { config, queues, log, svc } = deps;
  const { jobs, ledger, tokens, afterSettle, idempotency } = svc;
  const providers = deps.providers ?? deps.registry.createProviders();
  const slots = new Slots(config.WORKER_CONCURRENCY);
  const stash = new OutcomeStash(deps.redis, config.REDIS_PREFIX, log);
  const cancels = new CancelSignals(deps.redis, config.REDIS_PREFIX, log);
  const validator = new OutputValidator({ timeoutMs: config.OUTPUT_VALIDATION_TIMEOUT_MS, log });
  const processor = createProcessor({
    jobs,
    ledger,
    stash,
    validator,
    cache: svc.cache,
    queues,
    providers,
    registry: deps.registry,
    log,
    events: svc.events,
    slots,
    tokens,
    cancels,
    fairness: { service: svc.fairness, queue: queues.generation },
    afterSettle,
    noteRoute: (id, step) => ledger.noteRoute(id, step),
  });
  const webhookWorker = startWebhookWorker({ config, db: deps.database.db, log });

  const bull = bullConnection(config);
  // Where the API shares this process (npm start), its admissions start generations on the free slots.
  const local = config.LOCAL_START && svc.generation
    ? startLocal({ generation: svc.generation, run: processor.runClaimed, slots, queues, ledger, config, log, redis: deps.redis })
    : undefined;
  const running = new Running();
  const worker = new Worker<GenerationJobData>(GENERATION_QUEUE, running.wrap(processor.process), {
    connection: bull.connection,
    prefix: redisKeys(config.REDIS_PREFIX).bull(GENERATION_QUEUE),
    // Jobs held beyond the provider slots finish their writes, or wait for a slot, without idling one.
    concurrency: config.WORKER_CONCURRENCY + prefetchOf(config),
    lockDuration: config.WORKER_LOCK_DURATION_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
    settings: {
      backoffStrategy: (attemptsMade, type, err) =>
        type === BACKOFF_TYPE ? backoffDelay(attemptsMade, config.JOB_BACKOFF_MS, err) : config.JOB_BACKOFF_MS,
    },
  });
  worker.on('error', (err) => log.error({ err: String(err) }, 'worker error'));
  worker.on('stalled', (jobId) => log.warn({ jobId }, 'job stalled: its worker stopped renewing the lock; it runs again'));

  /** Settles rows no processor will (see reconcile), and drops idempotency keys past their 24 h. */
  const sweep = async () => {
    const done = await reconcile({
      jobs, ledger, queues, stash, log, graceMs: config.SWEEP_INTERVAL_MS / 3, attemptMs: config.PROVIDER_TIMEOUT_MS + config.WORKER_LOCK_DURATION_MS,
      afterSettle, cancel: { ledger, queues, redis: deps.redis, prefix: config.REDIS_PREFIX, log, tokens, afterSettle },
    });
    if (done.enqueued || done.rerun || done.dead || done.canceled) log.info(done, 'reconciled generations with their jobs');
    await idempotency.purgeExpired();
  };
  const sweeping = setInterval(() => sweep().catch((err) => log.warn({ err: String(err) }, 'sweep failed')), config.SWEEP_INTERVAL_MS);
  sweeping.unref();
  void sweep().catch(() => {});

  return {
    worker,
    async close() {
      clearInterval(sweeping);
      const closing = closeWorker(worker, running); // stops fetching first, so a job handed back is not taken again here
      slots.close();
      await Promise.all([closing, local?.close(), webhookWorker.close()]);
      await bull.close();
      cancels.close();
      await validator.close();
    },
  };
}
