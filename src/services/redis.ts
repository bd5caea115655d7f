import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { InvalidationBus } from '../cache/bus.js';
import { ResultCache } from '../cache/result-cache.js';
import { JobEventLog } from '../events/job-events.js';
import { Fairness } from '../queue/fairness.js';
import { RedisWatch } from '../ratelimit/redis-watch.js';
import { TokenLimiter } from '../ratelimit/tokens.js';
import type { ServiceOptions } from './types.js';

/** The services over Redis: the invalidation bus, the result cache, job events, the token limiter, fair queuing. */
export const redisServices = fp<ServiceOptions>(async (app: FastifyInstance, { config, redis, log, role }) => {
  // Workers listen too: routing changes and deployment cooldowns reach them over the bus.
  const bus = new InvalidationBus(redis, config.REDIS_PREFIX, log);
  const redisWatch = new RedisWatch(config.RATE_LIMIT_TIMEOUT_MS);
  Object.assign(app.svc, {
    bus,
    redisWatch,
    cache: new ResultCache(redis, config.REDIS_PREFIX, log, bus, {
      localTtlMs: role === 'api' ? config.CACHE_LOCAL_TTL_MS : 0,
      localMaxBytes: config.CACHE_LOCAL_MAX_MB * 1024 * 1024,
      compressMinBytes: config.CACHE_COMPRESS_MIN_BYTES,
      timeoutMs: config.CACHE_TIMEOUT_MS,
    }),
    events: new JobEventLog(redis, config.REDIS_PREFIX, log),
    tokens: new TokenLimiter({ redis, config, log, watch: redisWatch }),
    fairness: new Fairness(redis, config.REDIS_PREFIX, log),
  });
  app.addHook('onClose', async () => bus.close());
}, { name: 'redis-services' });
