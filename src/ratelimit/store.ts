import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { RedisClient } from '../redis/client.js';
import { AppError } from '../errors/app-error.js';
import { BlockedKeys } from './blocked-keys.js';
import type { TurnBatch } from '../redis/turn-batch.js';
import { windowChecks, type Check } from './window-checks.js';
import { RedisWatch } from './redis-watch.js';
import type { Watchdog, Waiting } from './watchdog.js';

/** What @fastify/rate-limit passes to `incr`/`read`. */
type StoreCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/** The merged per-route options @fastify/rate-limit hands to `child()`. */
interface ChildOptions {
  groupId?: string;
  routeInfo?: { method?: string | string[]; url?: string };
}

export interface SlidingWindowStoreOptions {
  /**
   * A client on which `defineScripts` registered `slidingWindow`, with that
   * command in `autoPipeliningIgnoredCommands` (`createRedis` does both but
   * the first): the store batches its checks itself.
   */
  redis: RedisClient;
  /** Prefix of every limiter key, e.g. `promptlab:rl:`. */
  prefix: string;
  /**
   * How long Redis may stay silent after a check was written before the check
   * fails with `rate_limiter_unavailable`: covers a Redis that hangs rather
   * than refuses (a refused or closed connection fails at once). Time the
   * API's own event loop spends busy does not count (see Watchdog).
   * @defaultValue 50
   */
  timeoutMs?: number;
  /**
   * The connection's watch, shared with the other checks on it (token limiter, failed key lookups),
   * so any of their replies proves Redis alive. @defaultValue one of the store's own
   */
  watch?: RedisWatch;
  /** Called once when checks start failing (first error of an outage). */
  onOutage?: (err: Error) => void;
  /** Called once when a check succeeds again after an outage. */
  onRecovery?: () => void;
}

/** State a store shares with its per-route children. */
interface Shared {
  down: boolean;
  blocked: BlockedKeys;
  watchdog: Watchdog<Waiting>;
  batch: TurnBatch<InFlight>;
}

/** One check waiting on Redis. */
interface InFlight extends Check, Waiting {
  cb: StoreCallback;
}

/**
 * A @fastify/rate-limit store backed by `slidingWindow-n.lua`, exact across
 * processes: the checks of one event-loop turn go as one EVALSHA (TurnBatch),
 * and a key the script found full is then rejected locally until a slot can
 * free (BlockedKeys). Errors reach the plugin as an AppError
 * `rate_limiter_unavailable`; its `skipOnError` decides between 503 and admit.
 */
export class SlidingWindowStore implements FastifyRateLimitStore {
  private readonly shared: Shared;

  constructor(
    private readonly opts: SlidingWindowStoreOptions,
    private readonly suffix = '',
    shared?: Shared,
  ) {
    const timeoutMs = opts.timeoutMs ?? 50;
    this.shared = shared ?? {
      down: false,
      blocked: new BlockedKeys(),
      watchdog: (opts.watch ?? new RedisWatch(timeoutMs)).dog,
      batch: windowChecks<InFlight>(
        opts.redis,
        (flight, err, reply, at) => this.onReply(flight, err, reply, at),
        (flights) => this.onSent(flights),
      ),
    };
  }

  incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void {
    this.check(key, cb, timeWindow, max, 1);
  }

  /** Current state without recording a request (`{ increment: false }`). */
  read(key: string, cb: StoreCallback, timeWindow: number, max: number): void {
    this.check(key, cb, timeWindow, max, 0);
  }

  /**
   * Store for a route with its own `config.rateLimit`. With a `groupId` the
   * plugin already appends it to the key, so routes of one group share a
   * bucket; without one the route gets a bucket of its own, as upstream does
   * (`app.createRateLimit()` limiters, which have no route, use the main one).
   */
  child(routeOptions: unknown): SlidingWindowStore {
    const { groupId, routeInfo } = routeOptions as ChildOptions;
    const suffix = !groupId && routeInfo?.url ? `@${String(routeInfo.method)} ${routeInfo.url}` : '';
    return new SlidingWindowStore(this.opts, suffix, this.shared);
  }

  private check(key: string, cb: StoreCallback, windowMs: number, limit: number, record: 0 | 1): void {
    const fullKey = this.opts.prefix + key + this.suffix;
    if (record) {
      const ttl = this.shared.blocked.check(fullKey, limit, performance.now());
      // Answered on the loop's next turn, with every other request read in this
      // one, as replies from Redis are: `npm run bench:ratelimit` measured 74
      // µs of API CPU per local 429 answered at once, 55 µs deferred.
      if (ttl !== undefined) return void setImmediate(cb, null, { current: limit + 1, ttl });
    }
    const flight: InFlight = {
      key: fullKey, windowMs, limit, record, cb, sentAt: 0, settled: false, next: undefined,
      expire: () => this.failed(new Error(`Redis did not answer within ${this.shared.watchdog.timeoutMs} ms`), cb),
    };
    this.shared.batch.add(flight);
  }

  // The clock starts at the write: a turn the API itself spent busy is not Redis's silence.
  private onSent(flights: readonly InFlight[]): void {
    const { watchdog } = this.shared;
    const sentAt = performance.now();
    for (const flight of flights) watchdog.watch(flight, sentAt);
  }

  private onReply(flight: InFlight, err: Error | null, reply: number[] | undefined, at: number): void {
    const { watchdog } = this.shared;
    if (!watchdog.settle(flight)) return;
    if (err || !reply) return this.failed(err ?? new Error('empty reply from slidingWindow'), flight.cb);
    const now = (watchdog.lastReplyAt = performance.now());
    const count = reply[at]!;
    // Redis answered: any outage is over, even when this one key is unusable.
    if (this.shared.down) {
      this.shared.down = false;
      this.opts.onRecovery?.();
    }
    if (count < 0) return flight.cb(unavailable(new Error(`limiter key ${flight.key} does not hold a list`)));
    const resetMs = reply[at + 1]!;
    const admitted = reply[at + 2]!;
    if (!flight.record || admitted) return flight.cb(null, { current: count, ttl: resetMs });
    this.shared.blocked.add(flight.key, count, resetMs, flight.sentAt, now);
    // The plugin rejects when current > max: a turned-away request counts as one more.
    flight.cb(null, { current: count + 1, ttl: resetMs });
  }

  private failed(err: Error, cb: StoreCallback): void {
    if (!this.shared.down) {
      this.shared.down = true;
      this.opts.onOutage?.(err);
    }
    cb(unavailable(err));
  }
}

/** The catalogue's error for a check that could not be made; `cause` is for the log, never the response. */
function unavailable(cause: Error): AppError {
  const err = new AppError('rate_limiter_unavailable');
  err.cause = cause;
  return err;
}

/** The store class to pass as @fastify/rate-limit's `store` option (it calls `new Store(params)`). */
export function slidingWindowStore(opts: SlidingWindowStoreOptions): FastifyRateLimitStoreCtor {
  return class extends SlidingWindowStore {
    constructor() {
      super(opts);
    }
  } as unknown as FastifyRateLimitStoreCtor;
}
