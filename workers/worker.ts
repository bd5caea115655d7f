import { Worker } from 'bullmq';
import { and, asc, eq, lt } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ResultCache } from '../src/cache/result-cache.js';
import type { Config } from '../src/config/index.js';
import type { Database } from '../src/db/client.js';
import { generations } from '../src/db/schema.js';
import { Ledger } from '../src/jobs/ledger.js';
import { createProviders } from '../src/providers/index.js';
import type { PricingOverrides } from '../src/providers/pricing.js';
import type { Provider, ProviderName } from '../src/providers/types.js';
import { jobDataOf } from '../src/queue/dead-letters.js';
import { BACKOFF_TYPE, GENERATION_QUEUE, type GenerationJobData, type Queues } from '../src/queue/queues.js';
import { bullConnection } from '../src/redis/client.js';
import { backoffDelay } from './failures.js';
import { createProcessor } from './processor.js';

export interface WorkerDeps {
  config: Config;
  database: Database;
  /** Command connection for the result cache. */
  redis: Redis;
  queues: Queues;
  log: Logger;
  /** Providers to use instead of those the config describes (benchmarks). */
  providers?: Partial<Record<ProviderName, Provider>>;
}

/** How often queued rows are checked against the queue, and how old they must be to count as stranded. */
const SWEEP_EVERY_MS = 30_000;
const STRANDED_AFTER_MS = 10_000;

export interface RunningWorker {
  worker: Worker<GenerationJobData>;
  /** Stops taking jobs and waits for the in-flight ones (SIGTERM drain). */
  close(): Promise<void>;
}

/** Starts a generation worker: WORKER_CONCURRENCY jobs at once, stalled-job recovery, retries with backoff. */
export function startWorker(deps: WorkerDeps): RunningWorker {
  const { config, database, queues, log } = deps;
  const providers = deps.providers ?? createProviders({
    ...(config.ANTHROPIC_API_KEY ? { anthropicApiKey: config.ANTHROPIC_API_KEY } : {}),
    ...(config.ANTHROPIC_BASE_URL ? { anthropicBaseUrl: config.ANTHROPIC_BASE_URL } : {}),
    ...(config.OPENAI_API_KEY ? { openaiApiKey: config.OPENAI_API_KEY } : {}),
    ...(config.OPENAI_BASE_URL ? { openaiBaseUrl: config.OPENAI_BASE_URL } : {}),
    timeoutMs: config.PROVIDER_TIMEOUT_MS,
    fakeLatencyMs: config.FAKE_LATENCY_MS,
  });
  const pricing = config.PRICING_JSON ? (JSON.parse(config.PRICING_JSON) as PricingOverrides) : undefined;
  const processor = createProcessor({
    db: database.db,
    ledger: new Ledger(database.db),
    cache: new ResultCache(deps.redis, config.REDIS_PREFIX, log),
    queues,
    providers,
    ...(pricing ? { pricing } : {}),
    log,
  });

  const worker = new Worker<GenerationJobData>(GENERATION_QUEUE, processor, {
    connection: bullConnection(config.REDIS_URL),
    prefix: config.REDIS_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_DURATION_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
    settings: {
      backoffStrategy: (attemptsMade, type, err) =>
        type === BACKOFF_TYPE ? backoffDelay(attemptsMade, config.JOB_BACKOFF_MS, err) : config.JOB_BACKOFF_MS,
    },
  });
  worker.on('error', (err) => log.error({ err: String(err) }, 'worker error'));
  worker.on('stalled', (jobId) => log.warn({ jobId }, 'job stalled: its worker stopped renewing the lock; it runs again'));

  /** Rows admitted while the queue was unreachable: enqueue them (same job id, so never twice). */
  const sweep = async () => {
    const stranded = await database.db.select().from(generations)
      .where(and(eq(generations.status, 'queued'), lt(generations.createdAt, new Date(Date.now() - STRANDED_AFTER_MS))))
      .orderBy(asc(generations.createdAt)).limit(500);
    for (const row of stranded) await queues.generation.add('generate', jobDataOf(row), queues.jobOptions(row.id));
  };
  const sweeping = setInterval(() => sweep().catch((err) => log.warn({ err: String(err) }, 'sweep failed')), SWEEP_EVERY_MS);
  sweeping.unref();
  void sweep().catch(() => {});

  return {
    worker,
    async close() {
      clearInterval(sweeping);
      await worker.close();
    },
  };
}
