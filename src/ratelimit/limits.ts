import { normalizeIP, type RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import type { Caller, Tier } from '../auth/caller.js';
import type { Config } from '../config/index.js';

/** Requests per window for each API key tier, and per client IP without a key. */
export type TierLimits = Record<Tier | 'anonymous', number>;

export function tierLimits(config: Config): TierLimits {
  return {
    free: config.RATE_LIMIT_FREE,
    pro: config.RATE_LIMIT_PRO,
    enterprise: config.RATE_LIMIT_ENTERPRISE,
    anonymous: config.RATE_LIMIT_ANONYMOUS,
  };
}

export function limitFor(limits: TierLimits, caller: Caller | undefined): number {
  return limits[caller ? caller.tier : 'anonymous'];
}

/**
 * Bucket key of a request: `k:<keyId>` for an API key, else `ip:<client ip>`
 * (IPv6 grouped by /64, as @fastify/rate-limit does). `request.ip` follows
 * X-Forwarded-For only when Fastify's `trustProxy` names the proxy.
 */
export function rateLimitKey(request: FastifyRequest): string {
  return request.caller ? `k:${request.caller.keyId}` : `ip:${normalizeIP(request.ip)}`;
}

/**
 * Routes that are never limited, so a load balancer or a Prometheus scraper
 * is never locked out and `/health` answers even while Redis is down.
 */
export const UNLIMITED_ROUTES: readonly string[] = ['/health', '/ready', '/metrics'];

/**
 * Value for `Fastify({ trustProxy })`: `false` when TRUST_PROXY is unset, else
 * its comma-separated addresses/CIDRs (or proxy-addr names such as
 * `loopback`), so X-Forwarded-For is believed only from those hops.
 */
export function trustProxyOption(config: Pick<Config, 'TRUST_PROXY'>): false | string[] {
  const list = (config.TRUST_PROXY ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return list.length > 0 ? list : false;
}

/** Per-route limits a group may override; anything else is inherited from the plugin. */
export interface GroupOverrides {
  /** Requests per window: a number, or computed per request. @defaultValue the caller's tier limit */
  max?: RateLimitOptions['max'];
  /** Window in ms. @defaultValue RATE_LIMIT_WINDOW_MS */
  timeWindow?: number;
}

/**
 * `config.rateLimit` for a route that spends its own budget instead of the
 * caller's main one. Every route naming the same group shares one bucket per
 * caller (`<prefix>:rl:k:<keyId>@<group>`); limits default to the caller's
 * tier limits and window.
 *
 * @example app.get('/v1/jobs', { config: { rateLimit: rateLimitGroup('read') } }, handler)
 */
export function rateLimitGroup(group: string, overrides: GroupOverrides = {}): RateLimitOptions {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(group)) throw new Error(`rate-limit group must be lowercase [a-z0-9-]: ${group}`);
  // The plugin appends groupId to the key as is; '@' keeps it apart from key ids and IPs.
  return { ...overrides, groupId: `@${group}` };
}

/**
 * The bucket for reading jobs (`GET /v1/jobs`, `GET /v1/jobs/:id`, its SSE
 * events): listing and polling must not spend the generation budget.
 */
export const readRateLimit: RateLimitOptions = rateLimitGroup('read');

/**
 * Name of a request's bucket: `default` for the caller's main budget, the
 * group name for a group, `METHOD /url` for a route with a bucket of its own.
 */
export function policyName(request: FastifyRequest): string {
  const rl = request.routeOptions.config.rateLimit;
  if (!rl) return 'default';
  return rl.groupId ? rl.groupId.replace(/^@/, '') : `${request.routeOptions.method} ${request.routeOptions.url}`;
}

/** Window of a route's bucket in ms (a route may override the configured one). */
export function windowMsOf(request: FastifyRequest, defaultMs: number): number {
  const rl = request.routeOptions.config.rateLimit;
  return rl && typeof rl.timeWindow === 'number' ? rl.timeWindow : defaultMs;
}
