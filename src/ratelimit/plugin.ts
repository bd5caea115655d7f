import fastifyRateLimit, { type RateLimitPluginOptions as UpstreamOptions } from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { RedisClient } from '../redis/client.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors/app-error.js';
import { defineScripts } from '../redis/scripts.js';
import { draftHeadersHook } from './draft-headers.js';
import type { RedisWatch } from './redis-watch.js';
import { limitFor, rateLimitKey, tierLimits, UNLIMITED_ROUTES, windowMsOf } from './limits.js';
import { slidingWindowStore } from './store.js';
import { redisKeys } from '../redis/keys.js';

export { rateLimitGroup, readRateLimit, trustProxyOption, UNLIMITED_ROUTES } from './limits.js';
export type { GroupOverrides } from './limits.js';

export interface RateLimitPluginOptions {
  /** The API's command connection (`createRedis`); the plugin defines its script on it. */
  redis: RedisClient;
  /** RATE_LIMIT_*, REDIS_PREFIX are read from here. */
  config: Config;
  /**
   * Route URLs (as declared) that are never limited, unless the route sets its
   * own `config.rateLimit`.
   * @defaultValue UNLIMITED_ROUTES (`/health`, `/ready`, `/metrics`)
   */
  unlimited?: readonly string[];
  /**
   * How long Redis may stay silent after a check was written before the check
   * fails (503, or admit with RATE_LIMIT_FAIL_OPEN): the bound on a hung
   * Redis, plus the API's own scheduling delay. A closed or refused
   * connection fails at once regardless.
   * @defaultValue config.RATE_LIMIT_TIMEOUT_MS (50)
   */
  timeoutMs?: number;
  /** The connection's watch, shared with the token limiter and failed key lookups; its timeout then applies. */
  watch?: RedisWatch;
}

/**
 * The options our plugin gives @fastify/rate-limit, without the store: limits
 * by tier, keys by API key or IP, the catalogue's `rate_limited` error, and
 * fail-open as `skipOnError`. Exported so the benchmark can run the built-in
 * Redis store under exactly the same options.
 */
export function rateLimitOptions(config: Config): UpstreamOptions {
  const limits = tierLimits(config);
  const windowMs = config.RATE_LIMIT_WINDOW_MS;
  return {
    max: (request) => limitFor(limits, request.caller),
    timeWindow: windowMs,
    keyGenerator: rateLimitKey,
    skipOnError: config.RATE_LIMIT_FAIL_OPEN,
    errorResponseBuilder: (request, ctx) =>
      new AppError(
        'rate_limited',
        `Rate limit of ${ctx.max} requests per ${windowMsOf(request, windowMs) / 1000} s exceeded; retry in ${ctx.after}.`,
        { dimension: 'requests', limit: ctx.max, resetAt: new Date(Date.now() + ctx.ttl).toISOString() },
      ),
  };
}

async function rateLimit(app: FastifyInstance, opts: RateLimitPluginOptions): Promise<void> {
  const { config, redis } = opts;
  defineScripts(redis);
  const failOpen = config.RATE_LIMIT_FAIL_OPEN;
  const store = slidingWindowStore({
    redis,
    prefix: redisKeys(config.REDIS_PREFIX).limiter,
    timeoutMs: opts.timeoutMs ?? config.RATE_LIMIT_TIMEOUT_MS,
    ...(opts.watch ? { watch: opts.watch } : {}),
    onOutage: (err) =>
      failOpen
        ? app.log.warn({ err }, 'rate limiter cannot reach Redis: admitting requests unchecked (RATE_LIMIT_FAIL_OPEN) until it answers')
        : app.log.error({ err }, 'rate limiter cannot reach Redis: answering 503 until it answers'),
    onRecovery: () => app.log.info('rate limiter reaches Redis again'),
  });

  const unlimited = new Set(opts.unlimited ?? UNLIMITED_ROUTES);
  // Runs before @fastify/rate-limit's own onRoute hook, which then skips these routes entirely.
  app.addHook('onRoute', (route) => {
    if (unlimited.has(route.url) && route.config?.rateLimit === undefined) {
      route.config = { ...route.config, rateLimit: false };
    }
  });

  await app.register(fastifyRateLimit, { ...rateLimitOptions(config), store });
  if (config.RATE_LIMIT_HEADERS === 'draft') app.addHook('onSend', draftHeadersHook(config.RATE_LIMIT_WINDOW_MS));
}

/**
 * Limits every route registered after it with an exact Redis sliding window
 * (`slidingWindow-n.lua` behind @fastify/rate-limit): `max` by the caller's
 * tier (RATE_LIMIT_ANONYMOUS per client IP without a key), X-RateLimit-*
 * headers, 429 `rate_limited` with Retry-After, and 503
 * `rate_limiter_unavailable` when Redis is unreachable unless
 * RATE_LIMIT_FAIL_OPEN. Register it after the auth hook and before the routes.
 * A route spends a separate budget with `config: { rateLimit: rateLimitGroup('name') }`.
 */
export const rateLimitPlugin = fp(rateLimit, { name: 'rate-limit', fastify: '5.x' });
