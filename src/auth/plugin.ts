import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors/app-error.js';
import type { RedisWatch } from '../ratelimit/redis-watch.js';
import { defineScripts } from '../redis/scripts.js';
import { FailedAttempts } from './failed-attempts.js';
import type { Projects } from '../projects/service.js';
import { isProjectAdmin, type Caller } from './caller.js';
import type { ApiKeys } from './keys.js';
import { redisKeys } from '../redis/keys.js';

/** The header with which the global admin key acts in (and reads only) one project. */
export const PROJECT_HEADER = 'x-promptlab-project';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Route needs the global admin key (PROMPTLAB_ADMIN_KEY). */
    admin?: boolean;
    /** Route needs a project admin (role `admin`) or the global admin key: a `member` gets 403. */
    projectAdmin?: boolean;
  }
}

export interface AuthPluginOptions {
  apiKeys: ApiKeys;
  /** Checks the project named by `X-PromptLab-Project`. */
  projects: Pick<Projects, 'get'>;
  /**
   * Counter of failed key lookups per client IP.
   * @defaultValue one on `app.deps.redis` under `<REDIS_PREFIX>:rl:authfail:`,
   * RATE_LIMIT_AUTH_FAILURES per RATE_LIMIT_WINDOW_MS, failing as RATE_LIMIT_FAIL_OPEN says
   */
  failedAttempts?: FailedAttempts;
  /** The command connection's watch, shared with the limiters (src/ratelimit/redis-watch.ts). */
  watch?: RedisWatch;
}

/**
 * Resolves `Authorization: Bearer <key>` (or Anthropic's `x-api-key: <key>`) on every `/v1` route (401 otherwise)
 * and enforces `config.admin` and `config.projectAdmin` (403). The global admin key
 * acts in the project `X-PromptLab-Project` names (404 `project_not_found` when there
 * is none); a project key naming another project than its own gets the same 404. A client IP whose lookups failed
 * RATE_LIMIT_AUTH_FAILURES times in the window gets 429 for any key not
 * already known valid, without a Postgres query. Registered at the root,
 * before the rate limiter, so the limiter can key on the caller.
 */
export const authPlugin = fp<AuthPluginOptions>(
  async (app: FastifyInstance, opts) => {
    const { apiKeys, projects } = opts;
    const { config, redis } = app.deps;
    const failedAttempts = opts.failedAttempts ?? new FailedAttempts({
      redis: defineScripts(redis),
      prefix: redisKeys(config.REDIS_PREFIX).authFailures,
      limit: config.RATE_LIMIT_AUTH_FAILURES,
      windowMs: config.RATE_LIMIT_WINDOW_MS,
      timeoutMs: config.RATE_LIMIT_TIMEOUT_MS,
      failOpen: config.RATE_LIMIT_FAIL_OPEN,
      ...(opts.watch ? { watch: opts.watch } : {}),
    });
    /** The 403 a route's own rule gives `caller`, if any. */
    const refusal = (request: FastifyRequest, caller: Caller): AppError | undefined => {
      const { config: routeConfig } = request.routeOptions;
      if (routeConfig.admin && !caller.admin) return new AppError('forbidden');
      if (routeConfig.projectAdmin && !isProjectAdmin(caller)) return new AppError('project_admin_required');
      return undefined;
    };
    const authenticate = async (request: FastifyRequest, reply: FastifyReply, key: string | undefined): Promise<void> => {
      const caller = key ? await apiKeys.resolve(key, failedAttempts.guard(request, reply)) : undefined;
      if (!caller) throw new AppError('unauthorized');
      const named = request.headers[PROJECT_HEADER];
      const project = typeof named === 'string' && named ? named : undefined;
      if (project !== undefined && project !== caller.projectId) {
        if (!caller.admin) throw new AppError('project_not_found', `No project ${project}.`);
        await projects.get(project);
      }
      request.caller = project !== undefined && caller.admin ? { ...caller, projectId: project } : caller;
      const refused = refusal(request, request.caller);
      if (refused) throw refused;
    };
    app.addHook('onRequest', (request, reply, done) => {
      if (!request.routeOptions.url?.startsWith('/v1/')) return done();
      const header = request.headers.authorization;
      const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      const anthropicKey = request.headers['x-api-key'];
      const key = m?.[1] ?? (typeof anthropicKey === 'string' && anthropicKey ? anthropicKey : undefined);
      // Most requests: a key known valid moments ago and no project named, answered without a promise.
      const known = key !== undefined && request.headers[PROJECT_HEADER] === undefined ? apiKeys.fresh(key) : undefined;
      if (known) {
        request.caller = known;
        return done(refusal(request, known));
      }
      authenticate(request, reply, key).then(() => done(), done);
    });
  },
  { name: 'auth' },
);
