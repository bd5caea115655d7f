import type { RedisClient } from '../redis/client.js';
import { redisKeys } from '../redis/keys.js';
import { deploymentCalls as calls, deploymentLatency as latency, failovers } from '../metrics/registry.js';

/** How a call to a deployment ended. */
export type CallOutcome = 'ok' | '429' | '5xx' | 'timeout' | 'error' | 'context';

/** Minutes of history `GET /v1/routes/health` sums. */
export const HEALTH_MINUTES = 5;
const minute = (ms: number) => Math.floor(ms / 60_000);

/**
 * Each deployment's recent health, shared by every worker through Redis: calls per outcome per
 * minute (kept 15 minutes) and a latency EWMA (each worker writes its own; the last one stands),
 * plus the Prometheus series of this process. Writes never wait on the caller's path.
 */
export class DeploymentHealth {
  readonly #ewma = new Map<string, number>();

  constructor(private readonly redis: RedisClient, private readonly prefix: string) {}

  record(deployment: string, outcome: CallOutcome, ms: number): void {
    calls.inc({ deployment, outcome });
    latency.observe({ deployment }, ms / 1000);
    const prev = this.#ewma.get(deployment);
    const ewma = prev === undefined ? ms : prev * 0.8 + ms * 0.2;
    this.#ewma.set(deployment, ewma);
    const keys = redisKeys(this.prefix);
    const bucket = keys.routeHealth(deployment, minute(Date.now()));
    // Separate commands (pipelined by the client): the keys are in different slots on a cluster.
    void Promise.all([
      this.redis.hincrby(bucket, outcome, 1).then(() => this.redis.pexpire(bucket, 15 * 60_000)),
      this.redis.set(keys.routeEwma(deployment), Math.round(ewma), 'PX', 3_600_000),
    ]).catch(() => {});
  }

  failover(deployment: string, reason: CallOutcome | 'cooling' | 'no_capacity'): void {
    failovers.inc({ deployment, reason });
  }

  /** The last HEALTH_MINUTES of `deployment`: calls by outcome, and its latency EWMA in ms (null before any call). */
  async read(deployment: string): Promise<{ calls: Record<string, number>; latencyEwmaMs: number | null }> {
    const keys = redisKeys(this.prefix);
    const now = minute(Date.now());
    const [buckets, ewma] = await Promise.all([
      Promise.all(Array.from({ length: HEALTH_MINUTES }, (_, m) => this.redis.hgetall(keys.routeHealth(deployment, now - m)))),
      this.redis.get(keys.routeEwma(deployment)),
    ]);
    const out: Record<string, number> = {};
    for (const v of buckets) for (const [k, n] of Object.entries(v)) out[k] = (out[k] ?? 0) + Number(n);
    return { calls: out, latencyEwmaMs: ewma ? Number(ewma) : null };
  }
}
