import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors/app-error.js';
import { defineScripts } from '../redis/scripts.js';
import { FailedAttempts } from './failed-attempts.js';
import type { ApiKeys } from './keys.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Route needs the admin key. */
    admin?: boolean;
  }
}

export interface AuthPluginOptions {
  apiKeys: ApiKeys;
  /**
   * Counter of failed key lookups per client IP.
   * @defaultValue one on `app.deps.redis` under `<REDIS_PREFIX>:rl:authfail:`,
   * RATE_LIMIT_AUTH_FAILURES per RATE_LIMIT_WINDOW_MS, failing as RATE_LIMIT_FAIL_OPEN says
   */
  failedAttempts?: FailedAttempts;
}

/**
 * Resolves `Authorization: Bearer <key>` (or Anthropic's `x-api-key: <key>`) on every `/v1` route (401 otherwise)
 * and enforces `config.admin` (403). A client IP whose lookups failed
 * RATE_LIMIT_AUTH_FAILURES times in the window gets 429 for any key not
 * already known valid, without a Postgres query. Registered at the root,
 * before the rate limiter, so the limiter can key on the caller.
 */
export const authPlugin = fp<AuthPluginOptions>(
  async (app: FastifyInstance, opts) => {
    const { apiKeys } = opts;
    const { config, redis } = app.deps;
    const failedAttempts = opts.failedAttempts ?? new FailedAttempts({
      redis: defineScripts(redis),
      prefix: `${config.REDIS_PREFIX}:rl:authfail:`,
      limit: config.RATE_LIMIT_AUTH_FAILURES,
      windowMs: config.RATE_LIMIT_WINDOW_MS,
      timeoutMs: config.RATE_LIMIT_TIMEOUT_MS,
      failOpen: config.RATE_LIMIT_FAIL_OPEN,
    });
    app.addHook('onRequest', async (request, reply) => {
      if (!request.routeOptions.url?.startsWith('/v1/')) return;
      const header = request.headers.authorization;
      const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      const anthropicKey = request.headers['x-api-key'];
      const key = m?.[1] ?? (typeof anthropicKey === 'string' && anthropicKey ? anthropicKey : undefined);
      const caller = key ? await apiKeys.resolve(key, failedAttempts.guard(request, reply)) : undefined;
      if (!caller) throw new AppError('unauthorized');
      request.caller = caller;
      if (request.routeOptions.config.admin && !caller.admin) throw new AppError('forbidden');
    });
  },
  { name: 'auth' },
);
