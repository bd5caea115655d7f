import { describe, expect, it } from 'vitest';
import { caller, sharedRedisPerTest, sleep } from './app.js';

const W = 2000;
const s = sharedRedisPerTest({ RATE_LIMIT_WINDOW_MS: String(W), RATE_LIMIT_FREE: '3' });

/** ms until the oldest admitted request of `key` leaves the window, from Redis's own state and clock. */
async function realResetMs(key: string): Promise<number> {
  const [[, time], [, oldest]] = (await s.redis.multi().time().lindex(key, -1).exec()) as [[null, [string, string]], [null, string]];
  const nowUs = Number(time[0]) * 1e6 + Number(time[1]);
  return (Number(oldest) + W * 1000 - nowUs) / 1000;
}

describe('rate-limit headers', () => {
  it('Limit, Remaining and Reset follow the script state on admitted requests', async () => {
    const a = await s.app();
    const key = `${s.prefix}:rl:k:key_h`;
    for (const expected of [2, 1, 0]) {
      const r = await a.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_h', 'free') });
      expect(r.statusCode).toBe(200);
      expect(r.headers['x-ratelimit-limit']).toBe('3');
      expect(r.headers['x-ratelimit-remaining']).toBe(String(expected));
      expect(await s.redis.llen(key)).toBe(3 - expected);
      const reset = Number(r.headers['x-ratelimit-reset']);
      expect(reset * 1000).toBeGreaterThanOrEqual(await realResetMs(key));
      expect(reset).toBeLessThanOrEqual(W / 1000);
      expect(r.headers['retry-after']).toBeUndefined();
      await sleep(300);
    }
  });

  it('429 carries Retry-After no earlier than the real reset, the standard body, and does not extend the block', async () => {
    const a = await s.app();
    const key = `${s.prefix}:rl:k:key_r`;
    for (let i = 0; i < 3; i++) await a.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_r', 'free') });
    const timesBefore = await s.redis.lrange(key, 0, -1);

    const before = Date.now();
    const r = await a.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_r', 'free') });
    expect(r.statusCode).toBe(429);
    expect(r.headers['x-ratelimit-limit']).toBe('3');
    expect(r.headers['x-ratelimit-remaining']).toBe('0');
    expect(r.headers['retry-after']).toBe(r.headers['x-ratelimit-reset']);
    const retryAfterMs = Number(r.headers['retry-after']) * 1000;
    const real = await realResetMs(key);
    expect(retryAfterMs).toBeGreaterThanOrEqual(real);
    const body = r.json() as { error: { code: string; message: string; details: { limit: number; resetAt: string } } };
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toMatch(/3 requests per 2 s/);
    expect(body.error.details.limit).toBe(3);
    const resetAt = Date.parse(body.error.details.resetAt);
    expect(resetAt).toBeGreaterThanOrEqual(before + real - 50);
    expect(resetAt).toBeLessThanOrEqual(before + retryAfterMs + 50);

    // Hammering while blocked records nothing and moves nothing.
    for (let i = 0; i < 20; i++) {
      expect((await a.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_r', 'free') })).statusCode).toBe(429);
    }
    expect(await s.redis.lrange(key, 0, -1)).toEqual(timesBefore);

    // The reset is real: just before it still 429, just after it 200.
    const left = await realResetMs(key);
    await sleep(left - 80);
    expect((await a.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_r', 'free') })).statusCode).toBe(429);
    await sleep(Math.ceil(await realResetMs(key)) + 20);
    expect((await a.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_r', 'free') })).statusCode).toBe(200);
  });

  it('RATE_LIMIT_HEADERS=draft adds RateLimit-Policy and RateLimit (draft 10) and keeps X-RateLimit-*', async () => {
    const a = await s.app({ RATE_LIMIT_HEADERS: 'draft' });
    const r = await a.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_d', 'free') });
    expect(r.headers['ratelimit-policy']).toBe('"default";q=3;w=2');
    expect(r.headers['ratelimit']).toBe('"default";r=2;t=2');
    expect(r.headers['x-ratelimit-remaining']).toBe('2');

    const jobs = await a.inject({ method: 'GET', url: '/v1/jobs', headers: caller('key_d', 'free') });
    expect(jobs.headers['ratelimit-policy']).toBe('"read";q=3;w=2');
    expect(jobs.headers['ratelimit']).toBe('"read";r=2;t=2');

    for (let i = 0; i < 2; i++) await a.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_d', 'free') });
    const limited = await a.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_d', 'free') });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['ratelimit']).toMatch(/^"default";r=0;t=[12]$/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(Number(/t=(\d+)/.exec(String(limited.headers['ratelimit']))![1]));
  });

  it('standard mode sends no draft fields, and unlimited routes carry no rate-limit headers', async () => {
    const a = await s.app();
    const r = await a.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_s', 'free') });
    expect(r.headers['ratelimit']).toBeUndefined();
    expect(r.headers['ratelimit-policy']).toBeUndefined();
    const health = await a.inject({ method: 'GET', url: '/health' });
    expect(health.headers['x-ratelimit-limit']).toBeUndefined();
  });
});
