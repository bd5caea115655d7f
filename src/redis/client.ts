import type { RedisOptions as BullRedisOptions } from 'bullmq';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** A connection to one Redis, or to a Redis Cluster (`REDIS_CLUSTER_NODES`): everything PromptLab sends works on both. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: `REDIS_URL` (its credentials and TLS apply to every node), and `REDIS_CLUSTER_NODES` for a cluster. */
export interface RedisTarget {
  REDIS_URL: string;
  /** `host:port,host:port,…`: some nodes of a Redis Cluster (the rest are discovered). */
  REDIS_CLUSTER_NODES?: string | undefined;
}

const targetOf = (t: string | RedisTarget): RedisTarget => (typeof t === 'string' ? { REDIS_URL: t } : t);

/** The nodes of `REDIS_CLUSTER_NODES`, or undefined for one Redis. */
export function clusterNodes(t: RedisTarget): { host: string; port: number }[] | undefined {
  const list = t.REDIS_CLUSTER_NODES?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!list?.length) return undefined;
  return list.map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: hp.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hp.slice(i + 1)) };
  });
}

/** REDIS_URL's credentials, TLS and database, as ioredis options. */
function urlOptions(url: string): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * A Redis Cluster client with these per-node options. Commands go to each slot's master (reads
 * too: PromptLab's reads decide admissions); a MOVED or ASK is followed, and a slot with no
 * master (a failover under way) is retried for `retryDelayOnClusterDown` steps before failing.
 */
function cluster(t: RedisTarget, nodes: { host: string; port: number }[], opts: RedisOptions): Cluster {
  const { enableOfflineQueue, lazyConnect, enableAutoPipelining, autoPipeliningIgnoredCommands, host: _h, port: _p, db: _db, ...node } = { ...urlOptions(t.REDIS_URL), ...opts };
  return new Cluster(nodes, {
    scaleReads: 'master',
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
    ...(autoPipeliningIgnoredCommands ? { autoPipeliningIgnoredCommands } : {}),
    clusterRetryStrategy: (times) => Math.min(times * 100, 1000),
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    slotsRefreshTimeout: 2000,
    // A promoted replica is learnt from a MOVED, or from this refresh when the dead master's slots only failed.
    slotsRefreshInterval: 1000,
    redisOptions: node,
  });
}

/**
 * The API's command connection. The offline queue is off so that, while Redis
 * is unreachable, commands fail at once instead of piling up: the limiter can
 * answer 503 within its budget and the cache can fall back to Postgres. With
 * `REDIS_CLUSTER_NODES`, the same on a Redis Cluster.
 */
export function createRedis(target: string | RedisTarget, opts: RedisOptions = {}): RedisClient {
  const t = targetOf(target);
  const options: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
    lazyConnect: false,
    // Commands issued in the same tick leave in one write: under load this halves the syscalls per request.
    enableAutoPipelining: true,
    // The limiters, the job events and the cache lookups send one call per event-loop turn themselves (TurnBatch); this would hold them back one more turn.
    autoPipeliningIgnoredCommands: ['slidingWindow', 'tokenWindow', 'appendEvents', 'mget'],
    ...opts,
  };
  const nodes = clusterNodes(t);
  return nodes ? cluster(t, nodes, options) : new Redis(t.REDIS_URL, options);
}

/** A second connection like `client` (a subscriber, a blocking reader), with these options. */
export function duplicateOf(client: RedisClient, opts: RedisOptions): RedisClient {
  if (client instanceof Cluster) {
    const { enableOfflineQueue, lazyConnect, ...node } = opts;
    return client.duplicate(undefined, {
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      ...(lazyConnect !== undefined ? { lazyConnect } : {}),
      redisOptions: { ...client.options.redisOptions, ...node },
    });
  }
  return client.duplicate(opts);
}

/**
 * BullMQ's connection: options on one Redis (BullMQ makes and closes its connections), a Cluster
 * client on a cluster (BullMQ shares it and duplicates it for blocking reads; `close` ends it).
 * Blocking commands need unlimited retries per request.
 */
export function bullConnection(target: string | RedisTarget): { connection: BullRedisOptions | Cluster; close: () => Promise<void> } {
  const t = targetOf(target);
  const nodes = clusterNodes(t);
  const retryStrategy = (times: number) => Math.min(times * 200, 2000);
  if (!nodes) return { connection: { ...urlOptions(t.REDIS_URL), maxRetriesPerRequest: null, retryStrategy } as BullRedisOptions, close: async () => {} };
  const c = cluster(t, nodes, { maxRetriesPerRequest: null, enableOfflineQueue: true });
  return { connection: c, close: async () => void (await c.quit().catch(() => c.disconnect())) };
}

/**
 * Runs a multi-key command over `keys` (`UNLINK`, `MGET`, …): one call on one Redis, one per key
 * on a cluster (the keys are in many slots; the client pipelines them). Results in key order.
 */
export async function perKey<R>(redis: RedisClient, keys: string[], all: (keys: string[]) => Promise<R[]>): Promise<R[]> {
  if (!(redis instanceof Cluster)) return keys.length ? all(keys) : [];
  return (await Promise.all(keys.map((k) => all([k])))).flat();
}

/** Resolves once the client is ready, or rejects after `timeoutMs`. */
export async function waitReady(redis: RedisClient, timeoutMs = 3000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { cleanup(); reject(new Error(`Redis not ready after ${timeoutMs} ms`)); }, timeoutMs);
    const onReady = () => { cleanup(); resolve(); };
    const cleanup = () => { clearTimeout(t); redis.off('ready', onReady); };
    redis.on('ready', onReady);
  });
}

/** Deletes every key matching `pattern` (SCAN + UNLINK, never KEYS; on a cluster, on every master); resolves to how many. */
export async function unlinkMatching(redis: RedisClient, pattern: string): Promise<number> {
  let removed = 0;
  for (const node of redis instanceof Cluster ? redis.nodes('master') : [redis]) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (!keys.length) continue;
      if (!(redis instanceof Cluster)) removed += await node.unlink(...keys);
      // On a cluster one UNLINK per key, pipelined: the keys of one page are in many slots.
      else for (const [, n] of (await keys.reduce((p, k) => p.unlink(k), node.pipeline()).exec()) ?? []) removed += Number(n) || 0;
    } while (cursor !== '0');
  }
  return removed;
}
