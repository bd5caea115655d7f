import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RedisClient } from '../redis/client.js';
import { AppError } from '../errors/app-error.js';
import { BlockedKeys } from '../ratelimit/blocked-keys.js';
import { RedisWatch } from '../ratelimit/redis-watch.js';
import type { LookupGuard } from './resolver.js';

export interface FailedAttemptsOptions {
  /** A client on which `defineScripts` registered `slidingWindow`. */
  redis: RedisClient;
  /** Prefix of the counters: `<prefix><ip>`, e.g. `promptlab:rl:authfail:`. */
  prefix: string;
  /** Failed key lookups per window per client IP; the next attempt gets 429 (RATE_LIMIT_AUTH_FAILURES). */
  limit: number;
  /** Sliding window in ms (RATE_LIMIT_WINDOW_MS). */
  windowMs: number;
  /** Longest wait for Redis before the check counts as failed (RATE_LIMIT_TIMEOUT_MS). @defaultValue 50 */
  timeoutMs?: number;
  /** When Redis cannot answer the check, look the key up anyway (RATE_LIMIT_FAIL_OPEN) instead of 503. @defaultValue false */
  failOpen?: boolean;
  /** The connection's watch, shared with the limiters. @defaultValue one of its own, at `timeoutMs` */
  watch?: RedisWatch;
}

/**
 * Counts failed API-key lookups per client IP in Redis (`slidingWindow-n.lua`,
 * one exact window shared by every API process) so that guessing keys costs
 * the guesser 429s, not Postgres queries.
 *
 * Cost: a key already resolved (positive cache) never reaches this class. A
 * key that must be looked up in Postgres costs one read of the IP's counter
 * first; a miss costs one more call to record it. Once a reply shows the
 * IP's window full, this process remembers it until a slot can free
 * (BlockedKeys), so a blocked IP then costs neither Redis nor Postgres.
 *
 * Redis down: the check before Postgres fails closed with 503
 * `rate_limiter_unavailable`, or with `failOpen` lets the lookup through;
 * recording a miss is best effort (the 401 stands either way).
 */
export class FailedAttempts {
  readonly #opts: Required<Omit<FailedAttemptsOptions, 'watch'>>;
  readonly #blocked = new BlockedKeys();
  readonly #watch: RedisWatch;

  constructor(opts: FailedAttemptsOptions) {
    this.#opts = { timeoutMs: 50, failOpen: false, ...opts };
    this.#watch = opts.watch ?? new RedisWatch(this.#opts.timeoutMs);
  }

  /** The guard for one request: keys its counter on `request.ip` (TRUST_PROXY-aware), answers 429 on `reply`. */
  guard(request: FastifyRequest, reply: FastifyReply): LookupGuard {
    let key: string | undefined;
    const keyOf = () => (key ??= this.#opts.prefix + normalizeIP(request.ip));
    return {
      admit: () => this.#admit(keyOf(), reply),
      beforeLookup: () => this.#check(keyOf(), reply, 0),
      missed: () => this.#check(keyOf(), reply, 1),
    };
  }

  #admit(key: string, reply: FastifyReply): void {
    const waitMs = this.#blocked.check(key, this.#opts.limit, performance.now());
    if (waitMs !== undefined) throw this.#limited(reply, waitMs);
  }

  async #check(key: string, reply: FastifyReply, record: 0 | 1): Promise<void> {
    this.#admit(key, reply);
    const { limit, failOpen } = this.#opts;
    const sentAt = performance.now();
    const counts = await this.#send(key, record).catch((err: unknown) => {
      if (record || failOpen) return undefined;
      const e = new AppError('rate_limiter_unavailable');
      e.cause = err;
      throw e;
    });
    if (!counts) return;
    const [count = 0, resetMs = 0, admitted = 0] = counts;
    // Full: the next miss would be over the limit, so the next attempt is refused.
    if (count >= limit || (record && !admitted)) this.#blocked.add(key, limit, resetMs, sentAt, performance.now());
    if (record ? !admitted : count >= limit) throw this.#limited(reply, resetMs);
  }

  /** `[count, resetMs, admitted]` of the IP's window, recording one miss when `record`. */
  async #send(key: string, record: 0 | 1): Promise<number[]> {
    const { redis, windowMs, limit } = this.#opts;
    const answer = await this.#watch.call(() => redis.slidingWindow(1, [key], [windowMs, limit, record]));
    if (!(answer[0]! >= 0)) throw new Error(`failed-attempt counter ${key} does not hold a list`);
    return answer;
  }

  #limited(reply: FastifyReply, waitMs: number): AppError {
    const { limit, windowMs } = this.#opts;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    reply.header('retry-after', String(seconds));
    return new AppError(
      'rate_limited',
      `Too many failed API-key attempts from this address (${limit} per ${windowMs / 1000} s); retry in ${seconds} s.`,
      { limit, resetAt: new Date(Date.now() + waitMs).toISOString() },
    );
  }
}
