import fastifyRateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import type { RedisClient } from '../../src/redis/client.js';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/errors/handler.js';
import { deletePrefix } from '../support/context.js';
import { buildApp, caller, connect, sleep, statuses, uniquePrefix, type TestApp } from './app.js';

const opened: Array<{ close(): Promise<unknown> } | RedisClient> = [];
let prefix = '';
afterEach(async () => {
  await deletePrefix(prefix);
  for (const o of opened.splice(0)) 'disconnect' in o ? o.disconnect() : await o.close();
});

async function instances(n: number, env: Record<string, string>): Promise<{ apps: TestApp[]; redis: RedisClient[] }> {
  const apps: TestApp[] = [];
  const clients: RedisClient[] = [];
  for (let i = 0; i < n; i++) {
    const redis = await connect();
    const t = await buildApp(redis, { REDIS_PREFIX: prefix, ...env });
    opened.push(redis, t.app);
    apps.push(t);
    clients.push(redis);
  }
  return { apps, redis: clients };
}

/**
 * Every admission time the script recorded under `key`, gathered from
 * snapshots taken less than a window apart (entries live one window).
 */
class AdmissionLog {
  private readonly count = new Map<string, number>();
  constructor(private readonly redis: RedisClient, private readonly key: string) {}

  async snapshot(): Promise<void> {
    const here = new Map<string, number>();
    for (const t of await this.redis.lrange(this.key, 0, -1)) here.set(t, (here.get(t) ?? 0) + 1);
    for (const [t, n] of here) this.count.set(t, Math.max(n, this.count.get(t) ?? 0));
  }

  times(): number[] {
    return [...this.count].flatMap(([t, n]) => Array.from({ length: n }, () => Number(t)));
  }
}

/** The most admission times (µs) found in any span [t, t + windowUs). */
function maxInAnySpan(timesUs: number[], windowUs: number): number {
  const t = [...timesUs].sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (j < t.length && t[j]! < t[i]! + windowUs) j++;
    worst = Math.max(worst, j - i);
  }
  return worst;
}

describe('exact across processes', () => {
  it('4 instances sharing Redis admit exactly 100 of 500 concurrent requests for one key', async () => {
    prefix = uniquePrefix();
    const { apps, redis } = await instances(4, {}); // pro: 100 per 60 s by default
    const responses = await Promise.all(
      Array.from({ length: 500 }, (_, i) => apps[i % 4]!.app.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_shared', 'pro') })),
    );
    expect(statuses(responses)).toEqual({ 200: 100, 429: 400 });
    // Every admitted request saw a distinct count: remaining 99, 98, …, 0 exactly once.
    const remaining = responses.filter((r) => r.statusCode === 200).map((r) => Number(r.headers['x-ratelimit-remaining']));
    expect(remaining.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(await redis[0]!.llen(`${prefix}:rl:k:key_shared`)).toBe(100);
  });
});

describe('boundary burst', () => {
  const W = 1000;
  const LIMIT = 10;

  /**
   * One request at t=0, a burst at t≈0.7 W (end of the first fixed window),
   * another at t≈1.3 W (start of the next). Returns how many of each passed.
   */
  async function scenario(send: () => Promise<{ statusCode: number }>, onBurst?: () => Promise<void>) {
    const t0 = Date.now();
    const first = await send();
    await sleep(0.7 * W - (Date.now() - t0));
    const a = await Promise.all(Array.from({ length: 2 * LIMIT }, send));
    await onBurst?.();
    await sleep(1.3 * W - (Date.now() - t0));
    const b = await Promise.all(Array.from({ length: 2 * LIMIT }, send));
    await onBurst?.();
    const passed = (rs: Array<{ statusCode: number }>) => rs.filter((r) => r.statusCode === 200).length;
    return { first: passed([first]), a: passed(a), b: passed(b) };
  }

  it('the sliding window admits no more than the limit within any window span', async () => {
    prefix = uniquePrefix();
    const { apps, redis } = await instances(2, { RATE_LIMIT_WINDOW_MS: String(W), RATE_LIMIT_FREE: String(LIMIT) });
    const key = `${prefix}:rl:k:key_edge`;
    let i = 0;
    const send = () => apps[i++ % 2]!.app.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_edge', 'free') });
    const seen = new AdmissionLog(redis[0]!, key);
    const { first, a, b } = await scenario(send, () => seen.snapshot());
    expect({ first, a }).toEqual({ first: 1, a: LIMIT - 1 });
    // Only the t=0 request has left the window by t≈1.3 W: one slot, not a fresh window.
    expect(b).toBe(1);
    expect(seen.times()).toHaveLength(first + a + b);
    expect(maxInAnySpan(seen.times(), W * 1000)).toBe(LIMIT);
  });

  it('for comparison, the built-in fixed-window store lets both bursts through', async () => {
    prefix = uniquePrefix();
    const redis = await connect();
    const app = Fastify();
    opened.push(redis, app);
    await app.register(errorHandler);
    await app.register(fastifyRateLimit, { redis, nameSpace: `${prefix}:fixed:`, max: LIMIT, timeWindow: W });
    app.post('/v1/generate', async () => ({ ok: true }));
    const { first, a, b } = await scenario(() => app.inject({ method: 'POST', url: '/v1/generate' }));
    // 2 × limit - 1 requests inside 0.6 W: the burst the sliding window exists to stop.
    expect({ first, a, b }).toEqual({ first: 1, a: LIMIT - 1, b: LIMIT });
  });

  it('under steady overload each window admits exactly the limit, never more', async () => {
    prefix = uniquePrefix();
    const { apps, redis } = await instances(2, { RATE_LIMIT_WINDOW_MS: '500', RATE_LIMIT_FREE: '5' });
    const key = `${prefix}:rl:k:key_steady`;
    const seen = new AdmissionLog(redis[0]!, key);
    const started = Date.now();
    let admitted = 0;
    for (let i = 0; Date.now() - started < 1600; i++) {
      const r = await apps[i % 2]!.app.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_steady', 'free') });
      if (r.statusCode === 200) admitted++;
      await seen.snapshot();
      await sleep(10);
    }
    expect(seen.times()).toHaveLength(admitted);
    expect(maxInAnySpan(seen.times(), 500 * 1000)).toBe(5);
    // 1.6 s of demand at 5 per 0.5 s: 4 windows' worth, none lost.
    expect(admitted).toBeGreaterThanOrEqual(15);
    expect(admitted).toBeLessThanOrEqual(20);
  });
});
