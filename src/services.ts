import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AuditLog } from './audit/log.js';
import { ApiKeys } from './auth/keys.js';
import { InvalidationBus } from './cache/bus.js';
import { ResultCache } from './cache/result-cache.js';
import type { Config } from './config/index.js';
import type { Db } from './db/client.js';
import { JobEventLog } from './events/job-events.js';
import { Generation } from './generation/service.js';
import { IdempotencyStore } from './idempotency/store.js';
import { Ledger } from './jobs/ledger.js';
import { RedisWatch } from './ratelimit/redis-watch.js';
import { TokenLimiter } from './ratelimit/tokens.js';
import { Budgets } from './spend/budgets.js';
import { JobCancels } from './jobs/job-cancels.js';
import { Jobs } from './jobs/service.js';
import { DeadLetters } from './queue/dead-letters.js';
import { Fairness } from './queue/fairness.js';
import type { Queues } from './queue/queues.js';
import type { JobWaiter } from './queue/waiter.js';
import { Projects } from './projects/service.js';
import { Templates } from './templates/service.js';
import type { ProviderRegistry } from './providers/registry.js';
import { UsageMeter } from './usage/meter.js';
import { BatchProgress } from './batches/progress.js';
import { Batches } from './batches/service.js';
import { AfterSettle } from './jobs/after-settle.js';
import { Webhooks } from './webhooks/service.js';

export interface Services {
  apiKeys: ApiKeys;
  projects: Projects;
  /** One row per administrative action (GET /v1/audit). */
  audit: AuditLog;
  templates: Templates;
  jobs: Jobs;
  cache: ResultCache;
  /** The generations table's writes, and which generation answers each input. */
  ledger: Ledger;
  /** Budgets of keys and templates: reserve, release, status. */
  budgets: Budgets;
  generation: Generation;
  /** `POST /v1/jobs/:id/cancel`: detach a caller, cancel a waiting job, abort a running one. */
  cancels: JobCancels;
  deadLetters: DeadLetters;
  idempotency: IdempotencyStore;
  meter: UsageMeter;
  /** Job status events (Redis streams) for GET /v1/jobs/:id/events. */
  events: JobEventLog;
  /** POST /v1/batches and its reads. */
  batches: Batches;
  /** Webhook checks, subscriptions, secrets and delivery records. */
  webhooks: Webhooks;
  /** What follows a generation's settlement: its final event, webhooks, batch progress. */
  afterSettle: AfterSettle;
  /** Judges the command connection by Redis's own silence, for every check that fails fast on a hung Redis. */
  redisWatch: RedisWatch;
  /** Stops what runs in the background (invalidation subscriber, usage flushes) and flushes. */
  close(): Promise<void>;
}

/**
 * The one "after settle" hook of a process, with its listeners: the final job event (unless an
 * earlier run of the settlement announced it), the webhook messages, the batches' progress.
 */
export function createAfterSettle(deps: { events: JobEventLog; webhooks: Pick<Webhooks, 'ended'>; progress: Pick<BatchProgress, 'ended'>; log: Logger }): AfterSettle {
  return new AfterSettle(deps.log)
    .on('events', async (s) => { if (!s.again) await deps.events.publish(s.id, s.status, { ...(s.attempt ? { attempt: s.attempt } : {}), ...(s.error ? { error: s.error } : {}) }); })
    .on('webhooks', (s) => deps.webhooks.ended(s.id))
    .on('batches', (s) => deps.progress.ended(s.id));
}

export interface ServiceDeps {
  config: Config;
  db: Db;
  redis: Redis;
  queues: Queues;
  waiter: JobWaiter;
  registry: ProviderRegistry;
  adminKey: string;
  log: Logger;
}

/** The API's services, wired once: the app decorates itself with them, the benchmarks use them bare. */
export function createServices({ config, db, redis, queues, waiter, registry, adminKey, log }: ServiceDeps): Services {
  const bus = new InvalidationBus(redis, config.REDIS_PREFIX, log);
  const templates = new Templates(db, bus, config.CACHE_LOCAL_TTL_MS, registry);
  const jobs = new Jobs(db);
  const cache = new ResultCache(redis, config.REDIS_PREFIX, log, bus, {
    localTtlMs: config.CACHE_LOCAL_TTL_MS,
    localMaxBytes: config.CACHE_LOCAL_MAX_MB * 1024 * 1024,
    compressMinBytes: config.CACHE_COMPRESS_MIN_BYTES,
    timeoutMs: config.CACHE_TIMEOUT_MS,
  });
  const meter = new UsageMeter(db, log, config.USAGE_FLUSH_MS);
  const events = new JobEventLog(redis, config.REDIS_PREFIX, log);
  const ledger = new Ledger(db);
  const budgets = new Budgets(db);
  const redisWatch = new RedisWatch(config.RATE_LIMIT_TIMEOUT_MS);
  const tokens = new TokenLimiter({ redis, config, log, watch: redisWatch });
  const webhooks = new Webhooks(db, jobs, queues, config);
  const fairness = new Fairness(redis, config.REDIS_PREFIX, log);
  const progress = new BatchProgress(db, webhooks);
  const afterSettle = createAfterSettle({ events, webhooks, progress, log });
  return {
    afterSettle,
    redisWatch,
    webhooks,
    batches: new Batches({ config, registry, db, jobs, templates, ledger, budgets, queues, meter, webhooks, fairness, tokens, afterSettle, progress, log }),
    apiKeys: new ApiKeys({ db, adminKey, bus }),
    projects: new Projects(db),
    audit: new AuditLog(db),
    templates,
    jobs,
    cache,
    ledger,
    budgets,
    meter,
    events,
    generation: new Generation({ config, registry, templates, jobs, ledger, budgets, tokens, cache, queues, waiter, meter, log, events, fairness }),
    cancels: new JobCancels({ ledger, jobs, queues, redis, prefix: config.REDIS_PREFIX, log, tokens, afterSettle }),
    deadLetters: new DeadLetters(ledger, queues, events),
    idempotency: new IdempotencyStore(db),
    async close() {
      bus.close();
      await meter.close();
    },
  };
}
