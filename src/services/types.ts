import type { RedisClient } from '../redis/client.js';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import type { ApiKeys } from '../auth/keys.js';
import type { BatchProgress } from '../batches/progress.js';
import type { Batches } from '../batches/service.js';
import type { InvalidationBus } from '../cache/bus.js';
import type { ResultCache } from '../cache/result-cache.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/client.js';
import type { JobEventLog } from '../events/job-events.js';
import type { Embeddings } from '../embeddings/service.js';
import type { Generation } from '../generation/service.js';
import type { IdempotencyStore } from '../idempotency/store.js';
import type { AfterSettle } from '../jobs/after-settle.js';
import type { JobCancels } from '../jobs/job-cancels.js';
import type { Ledger } from '../jobs/ledger.js';
import type { Jobs } from '../jobs/service.js';
import type { Projects } from '../projects/service.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { DeadLetters } from '../queue/dead-letters.js';
import type { Fairness } from '../queue/fairness.js';
import type { Queues } from '../queue/queues.js';
import type { JobWaiter } from '../queue/waiter.js';
import type { RedisWatch } from '../ratelimit/redis-watch.js';
import type { Routing } from '../routing/service.js';
import type { TokenLimiter } from '../ratelimit/tokens.js';
import type { Budgets } from '../spend/budgets.js';
import type { Templates } from '../templates/service.js';
import type { UsageMeter } from '../usage/meter.js';
import type { Webhooks } from '../webhooks/service.js';

/** What services are built from: the process's runtime (src/boot.ts), plus its role. */
export interface ServiceOptions {
  config: Config;
  registry: ProviderRegistry;
  db: Db;
  redis: RedisClient;
  queues: Queues;
  /** Waits for jobs to settle (`?wait=`); the API's. */
  waiter?: JobWaiter;
  /** PROMPTLAB_ADMIN_KEY; the API's. */
  adminKey?: string;
  log: Logger;
  /**
   * `api` builds every service; `worker` the ones a worker process uses (the record, Redis, routing,
   * what follows a settlement).
   */
  role: 'api' | 'worker';
}

/** The services a worker process uses too: the record, the Redis-backed ones, what follows a settlement. */
export interface CoreServices {
  jobs: Jobs;
  /** The generations table's writes, and which generation answers each input. */
  ledger: Ledger;
  /** The routing document in force: model groups, failover, outbound limits. */
  routing: Routing;
  /** Budgets of keys and templates: reserve, release, status. */
  budgets: Budgets;
  idempotency: IdempotencyStore;
  meter: UsageMeter;
  projects: Projects;
  /** One row per administrative action (GET /v1/audit). */
  audit: AuditLog;
  bus: InvalidationBus;
  cache: ResultCache;
  /** Job status events (RedisClient streams) for GET /v1/jobs/:id/events. */
  events: JobEventLog;
  /** Judges the command connection by Redis's own silence, for every check that fails fast on a hung Redis. */
  redisWatch: RedisWatch;
  tokens: TokenLimiter;
  fairness: Fairness;
  /** Webhook checks, subscriptions, secrets and delivery records. */
  webhooks: Webhooks;
  batchProgress: BatchProgress;
  /** What follows a generation's settlement: its final event, webhooks, batch progress. */
  afterSettle: AfterSettle;
}

/** Every service; the API's. */
export interface Services extends CoreServices {
  apiKeys: ApiKeys;
  templates: Templates;
  generation: Generation;
  /** Embeddings: cached text by text, the rest one job. */
  embeddings: Embeddings;
  /** `POST /v1/jobs/:id/cancel`: detach a caller, cancel a waiting job, abort a running one. */
  cancels: JobCancels;
  deadLetters: DeadLetters;
  /** POST /v1/batches and its reads. */
  batches: Batches;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The services, decorated by the services plugins (src/services/). */
    svc: Services;
  }
}
