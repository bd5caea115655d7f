import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TIMED_OUT, within } from '../util/within.js';

/**
 * Every PromptLab metric, in one registry per process (served at the API's
 * `/metrics` and at a worker's WORKER_METRICS_PORT). Recording is a counter
 * increment in memory: nothing on the request path talks to Redis for metrics.
 * docs/operations.md (Metrics) explains each one.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'promptlab_' });

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const LONG_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];

export const httpDuration = new Histogram({
  name: 'promptlab_http_request_duration_seconds',
  help: 'HTTP request duration by method, route (as declared) and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: SECONDS,
  registers: [registry],
});

export const sseStreams = new Gauge({
  name: 'promptlab_sse_streams',
  help: 'Open GET /v1/jobs/:id/events streams (not in the HTTP histogram: they last as long as the job)',
  registers: [registry],
});

export const cacheRequests = new Counter({
  name: 'promptlab_cache_requests_total',
  help: 'Result cache lookups by result (hit, miss, bypass) and the tier that answered',
  labelNames: ['result', 'tier'] as const,
  registers: [registry],
});

export const costSaved = new Counter({
  name: 'promptlab_cost_saved_usd_total',
  help: 'USD not spent because a cache hit answered instead of the provider (the cost of the cached generation)',
  labelNames: ['provider', 'model'] as const,
  registers: [registry],
});

export const rateLimited = new Counter({
  name: 'promptlab_rate_limit_rejections_total',
  help: 'Requests rejected with 429 rate_limited, by route and caller tier',
  labelNames: ['route', 'tier'] as const,
  registers: [registry],
});

export const jobsFinished = new Counter({
  name: 'promptlab_jobs_total',
  help: 'Generation jobs by final status (completed, dead)',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const jobDuration = new Histogram({
  name: 'promptlab_job_duration_seconds',
  help: 'Time from enqueue to final status (queue wait, every attempt and backoff), by final status',
  labelNames: ['status'] as const,
  buckets: LONG_SECONDS,
  registers: [registry],
});

export const providerRequests = new Counter({
  name: 'promptlab_provider_requests_total',
  help: 'Provider calls by provider, model and outcome (success, or the failure code)',
  labelNames: ['provider', 'model', 'outcome'] as const,
  registers: [registry],
});

export const providerDuration = new Histogram({
  name: 'promptlab_provider_request_duration_seconds',
  help: 'Provider call duration by provider and model',
  labelNames: ['provider', 'model'] as const,
  buckets: LONG_SECONDS,
  registers: [registry],
});

export const tokens = new Counter({
  name: 'promptlab_tokens_total',
  help: 'Tokens the providers billed, by provider, model and type (input, output); failed attempts included',
  labelNames: ['provider', 'model', 'type'] as const,
  registers: [registry],
});

export const cost = new Counter({
  name: 'promptlab_cost_usd_total',
  help: 'USD spent at list price, by provider and model; failed attempts included',
  labelNames: ['provider', 'model'] as const,
  registers: [registry],
});

/** Something with BullMQ's `getJobCounts`: a Queue. */
export interface CountableQueue {
  name: string;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
}

const watched = new Set<CountableQueue>();
const DEPTH_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'];

export const queueDepth = new Gauge({
  name: 'promptlab_queue_jobs',
  help: 'Jobs in each BullMQ queue by state, read at scrape time',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    await Promise.all([...watched].map(async (q) => {
      // A scrape must answer while Redis is down: the queue's connection would wait for it.
      const counts = await within(q.getJobCounts(...DEPTH_STATES), 1000).catch((): typeof TIMED_OUT => TIMED_OUT);
      if (counts === TIMED_OUT) return;
      for (const state of DEPTH_STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
    }));
  },
});

/** Reports the depth of `queues` at every scrape until the returned function is called. */
export function watchQueueDepth(queues: CountableQueue[]): () => void {
  for (const q of queues) watched.add(q);
  return () => { for (const q of queues) watched.delete(q); };
}

export type CacheResult = 'hit' | 'miss' | 'bypass';
export type CacheTierLabel = 'local' | 'redis' | 'postgres' | 'none';

/** Counts one cache lookup of POST /v1/generate; `tier` is the tier that answered (`none` for a bypass). */
export function recordCacheLookup(result: CacheResult, tier: CacheTierLabel): void {
  cacheRequests.inc({ result, tier });
}

/** Adds what a cache hit saved: the cost of the generation whose result it served. */
export function recordCostSaved(usd: number, provider: string, model: string): void {
  if (usd > 0) costSaved.inc({ provider, model }, usd);
}

/** Calls to each deployment of the routing document (src/routing/), by outcome: ok, 429, 5xx, timeout, error, context. */
export const deploymentCalls = new Counter({ name: 'promptlab_deployment_calls_total', help: 'Calls to each deployment of the routing document, by outcome', labelNames: ['deployment', 'outcome'], registers: [registry] });
export const deploymentLatency = new Histogram({
  name: 'promptlab_deployment_latency_seconds', help: "Time to a deployment's whole answer (or its failure)", labelNames: ['deployment'], registers: [registry], buckets: LONG_SECONDS,
});
/** Attempts moved on from a deployment: its failure (429, 5xx, timeout, context), or it was cooling down or out of capacity. */
export const failovers = new Counter({ name: 'promptlab_failovers_total', help: 'Attempts moved from one deployment to the next, by the deployment left and why', labelNames: ['deployment', 'reason'], registers: [registry] });
