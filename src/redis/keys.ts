/**
 * Every Redis key and channel PromptLab writes, named in one place (as BullMQ's `queue-keys.ts`),
 * each with the slot it lives in on a Redis Cluster: the keys of one multi-key script or command
 * must share a slot, so they share a hash tag (`{…}`: only that part is hashed); keys no script
 * uses together spread freely. On one Redis the tags change nothing. `prefix` is REDIS_PREFIX.
 *
 * | key | written by | slot on a cluster |
 * |---|---|---|
 * | `<prefix>:cache:<inputHash>` | result cache | its own (single-key commands) |
 * | `<prefix>:rl:<bucket>` | request limiter (`slidingWindow-n.lua`, one run per turn over many buckets) | its own: a turn's run is split by slot |
 * | `<prefix>:rl:tpm:{<keyId>}`, `…:n` | token limiter (`tokenWindow-n.lua`: both keys) | one per API key: tag `{<keyId>}` |
 * | `<prefix>:rl:authfail:<ip>` | failed key lookups (one key) | its own |
 * | `{<prefix>:events}:<jobId>`, `{<prefix>:events}:wake:<uuid>` | job events (XADD in `appendEvents-n.lua`; one blocking XREAD over many) | one for all: tag `{<prefix>:events}` (the tail's one XREAD needs them together) |
 * | `<prefix>:outcome:<jobId>` | the worker's answer stash | its own |
 * | `<prefix>:cancel:<jobId>`, channel `<prefix>:cancel` | cancels of running attempts | its own |
 * | channel `<prefix>:invalidate` | cross-process cache invalidation | (pub/sub, every node) |
 * | `<prefix>:fair:<class>` | fair queuing (`fairAdmit-1.lua`, `fairStart-1.lua`: one key) | its own |
 * | `<prefix>:owner` | the database that owns the prefix | its own |
 * | `<prefix>:route:cool:<deployment>` | a deployment cooling down (its TTL is the cooldown) | its own |
 * | `<prefix>:route:{<deployment>:rpm}`, `…:n` (and `tpm`) | outbound limits (`tokenWindow-n.lua`: both keys of one) | one per deployment and limit |
 * | `<prefix>:route:health:<deployment>:<minute>`, `<prefix>:route:ewma:<deployment>` | deployment health | their own |
 * | `{<prefix>:<queue>}:<queue>:*` | BullMQ (`generation`, `dead-letter`, `webhooks`) | one per queue: its prefix is tagged (BullMQ's pattern) |
 */
export function redisKeys(prefix: string): RedisKeys {
  let keys = byPrefix.get(prefix);
  if (!keys) byPrefix.set(prefix, (keys = keysOf(prefix)));
  return keys;
}

/** One key maker per prefix: `redisKeys` is called on hot paths (each job event, each cache key), where building it cost ~4 % of a job's CPU. */
const byPrefix = new Map<string, RedisKeys>();

function keysOf(prefix: string) {
  const events = `{${prefix}:events}`;
  return {
    /** BullMQ's `prefix` option for `queue`: its keys are `{<prefix>:<queue>}:<queue>:…`, one slot per queue. */
    bull: (queue: string) => `{${prefix}:${queue}}`,
    /** Every BullMQ key of every queue, for SCAN. */
    bullAll: `{${prefix}:*`,
    cache: (inputHash: string) => `${prefix}:cache:${inputHash}`,
    /** Every cache entry, for SCAN (never KEYS). */
    cacheAll: `${prefix}:cache:*`,
    /** The request limiter's buckets: this, then `k:<keyId>` or `ip:<ip>` (and `@<group>` or `@<route>`). */
    limiter: `${prefix}:rl:`,
    /** A key's token window: the holds (a sorted set), and their tokens (`:n`, a hash). */
    tokens: (keyId: string) => [`${prefix}:rl:tpm:{${keyId}}`, `${prefix}:rl:tpm:{${keyId}}:n`] as const,
    /** Failed key lookups per client IP: this, then the IP. */
    authFailures: `${prefix}:rl:authfail:`,
    events: (jobId: string) => `${events}:${jobId}`,
    /** An event tail's own wake-up stream. */
    eventsWake: (tailId: string) => `${events}:wake:${tailId}`,
    outcome: (jobId: string) => `${prefix}:outcome:${jobId}`,
    cancelChannel: `${prefix}:cancel`,
    cancel: (jobId: string) => `${prefix}:cancel:${jobId}`,
    invalidateChannel: `${prefix}:invalidate`,
    fair: (cls: string) => `${prefix}:fair:${cls}`,
    owner: `${prefix}:owner`,
    routeCool: (deployment: string) => `${prefix}:route:cool:${deployment}`,
    /** A deployment's outbound window of one limit: the holds, and their sizes (`:n`). */
    routeWindow: (deployment: string, limit: 'rpm' | 'tpm') => [`${prefix}:route:{${deployment}:${limit}}`, `${prefix}:route:{${deployment}:${limit}}:n`] as const,
    routeHealth: (deployment: string, minute: number) => `${prefix}:route:health:${deployment}:${minute}`,
    routeEwma: (deployment: string) => `${prefix}:route:ewma:${deployment}`,
  };
}

export type RedisKeys = ReturnType<typeof keysOf>;
