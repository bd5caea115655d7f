import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix } from '../support/context.js';
import { connect, sleep, uniquePrefix } from './app.js';

let redis: Redis;
let prefix: string;

beforeAll(async () => {
  redis = await connect();
});
afterEach(async () => {
  await deletePrefix(prefix);
});
afterAll(async () => {
  redis.disconnect();
});

const newKey = () => {
  prefix = uniquePrefix();
  return `${prefix}:rl:k:key_test`;
};

/** Redis's clock in µs, the one the script uses. */
async function redisNowUs(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1e6 + Number(us);
}

describe('slidingWindow-1.lua', () => {
  it('admits up to the limit, then rejects without recording or extending the key', async () => {
    const key = newKey();
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await redis.slidingWindow(key, 60_000, 3, 1));
    expect(replies.map(([count, , admitted]) => [count, admitted])).toEqual([[1, 1], [2, 1], [3, 1], [3, 0], [3, 0]]);

    const ttlBefore = await redis.pttl(key);
    for (let i = 0; i < 50; i++) await redis.slidingWindow(key, 60_000, 3, 1);
    expect(await redis.llen(key)).toBe(3);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(ttlBefore);
    expect(ttlBefore).toBeGreaterThan(0);
    expect(ttlBefore).toBeLessThanOrEqual(60_001);
  });

  it('keeps one entry per admitted request, newest first, even when many land in the same microsecond', async () => {
    const key = newKey();
    const pipeline = redis.pipeline();
    for (let i = 0; i < 300; i++) pipeline.slidingWindow(key, 60_000, 1000, 1);
    const results = (await pipeline.exec()) ?? [];
    expect(results.every(([err, res]) => err === null && (res as number[])[2] === 1)).toBe(true);
    const times = (await redis.lrange(key, 0, -1)).map(Number);
    expect(times).toHaveLength(300);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(Number.isInteger(times[0]) && times[0]! > 1e15).toBe(true);
  });

  it('reports the ms until the oldest request leaves the window', async () => {
    const key = newKey();
    await redis.slidingWindow(key, 2000, 3, 1);
    await sleep(150);
    const [count, resetMs] = await redis.slidingWindow(key, 2000, 3, 1);
    const now = await redisNowUs();
    const oldest = await redis.lindex(key, -1);
    const exact = (Number(oldest) + 2000 * 1000 - now) / 1000;
    expect(count).toBe(2);
    expect(resetMs).toBeGreaterThanOrEqual(exact);
    expect(resetMs).toBeLessThan(exact + 50);
    expect(resetMs).toBeLessThanOrEqual(1850 + 1);
  });

  it('slides: a slot frees exactly when the oldest request is one window old', async () => {
    const key = newKey();
    for (let i = 0; i < 2; i++) await redis.slidingWindow(key, 400, 2, 1);
    const [, resetMs, admitted] = await redis.slidingWindow(key, 400, 2, 1);
    expect(admitted).toBe(0);
    await sleep(Math.max(0, resetMs - 60));
    expect((await redis.slidingWindow(key, 400, 2, 1))[2]).toBe(0);
    await sleep(120);
    expect((await redis.slidingWindow(key, 400, 2, 1))[2]).toBe(1);
  });

  it('reads without recording (record = 0)', async () => {
    const key = newKey();
    expect(await redis.slidingWindow(key, 60_000, 3, 0)).toEqual([0, 0, 0]);
    await redis.slidingWindow(key, 60_000, 3, 1);
    const [count, resetMs, admitted] = await redis.slidingWindow(key, 60_000, 3, 0);
    expect([count, admitted]).toEqual([1, 0]);
    expect(resetMs).toBeGreaterThan(59_000);
    expect(await redis.llen(key)).toBe(1);
  });

  it('lets the key expire one window after the last admitted request', async () => {
    const key = newKey();
    await redis.slidingWindow(key, 200, 5, 1);
    await sleep(260);
    expect(await redis.exists(key)).toBe(0);
  });
});
